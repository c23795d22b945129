//! Section content as files a person can edit: `content/<environment>/<route>/<section>.md`
//! under the brain directory, YAML frontmatter holding `template:` and the template's
//! fields; for the `text` template the `body` is the Markdown below the frontmatter.
//!
//! ```text
//! ---
//! template: features
//! title: What I work on
//! items:
//! - title: Rust
//!   description: Systems that stay fast.
//!   note: ideas/rust.md
//! ---
//! ```
//!
//! Reading checks the file against its template's type and never panics: a bad file is an
//! error naming the file and the field (`content/preview/landing/features.md:
//! items[1].title: invalid type: …`). Writing is atomic (a temporary file renamed over the
//! old one), so a reader never sees half a file.

use std::path::{Path, PathBuf};

pub use brain_plugin_api::write_atomic;
use brain_plugin_api::{JsonSchema, SideEffect};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::{Route, Section};
use crate::templates::{SectionContent, Template};

/// Which content a build uses: `preview` (what generation writes) or `production` (what
/// was promoted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "brain_plugin_api::schemars")]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    #[default]
    Preview,
    Production,
}

impl Environment {
    pub fn name(self) -> &'static str {
        match self {
            Environment::Preview => "preview",
            Environment::Production => "production",
        }
    }
}

impl std::fmt::Display for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A content file that cannot be used: which file (relative to the brain directory) and
/// why (`items[1].title: invalid type: …`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentError {
    pub file: String,
    pub message: String,
}

impl std::fmt::Display for ContentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file, self.message)
    }
}

impl std::error::Error for ContentError {}

/// `content/preview/landing/features.md`, relative to the brain directory, with `/`
/// separators on every system (it is shown to people and returned by tools).
pub fn content_file(environment: Environment, route: &Route, section: &Section) -> String {
    format!("content/{environment}/{}/{}.md", route.id, section.id)
}

/// The absolute path of [`content_file`].
pub fn content_path(
    root: &Path,
    environment: Environment,
    route: &Route,
    section: &Section,
) -> PathBuf {
    root.join("content")
        .join(environment.name())
        .join(&route.id)
        .join(format!("{}.md", section.id))
}

/// Reads a section's content; `Ok(None)` when it has none in `environment`.
pub fn read_content(
    root: &Path,
    environment: Environment,
    route: &Route,
    section: &Section,
) -> Result<Option<SectionContent>, ContentError> {
    let file = content_file(environment, route, section);
    let text = match std::fs::read_to_string(content_path(root, environment, route, section)) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(ContentError {
                file,
                message: format!("cannot read: {e}"),
            });
        }
    };
    parse_content(&text, section.template)
        .map(Some)
        .map_err(|message| ContentError { file, message })
}

/// Parses the text of a content file expected to hold `template`'s content; the error is
/// the message without the file name (`items[1].title: invalid type: …`).
pub fn parse_content(text: &str, template: Template) -> Result<SectionContent, String> {
    let (front, body) = split_frontmatter(text)?;
    let value: Value = serde_saphyr::from_str(front).map_err(|e| {
        // Line numbers of the file, not of the frontmatter: the `---` line comes first.
        let options = serde_saphyr::render_options! {
            line_offset: 1,
            snippets: serde_saphyr::SnippetMode::Off,
        };
        format!(
            "invalid YAML frontmatter: {}",
            e.render_with_options(options)
        )
    })?;
    let Value::Object(mut fields) = value else {
        return Err(format!(
            "the frontmatter must be a mapping starting with `template: {template}`"
        ));
    };
    match fields.remove("template") {
        Some(Value::String(name)) if name == template.name() => {}
        Some(Value::String(name)) => {
            return Err(format!(
                "template: {name:?} does not match the section's template {:?} in brain.toml (allowed here: {template})",
                template.name()
            ));
        }
        Some(_) => {
            return Err(format!(
                "template: must be the string {:?}",
                template.name()
            ));
        }
        None => {
            return Err(format!(
                "template: missing (expected `template: {template}`)"
            ));
        }
    }
    let body = body.trim_start_matches(['\r', '\n']).trim_end();
    if template == Template::Text {
        if fields.contains_key("body") {
            return Err(
                "body: write the text below the frontmatter's closing `---`, not in it".into(),
            );
        }
        fields.insert("body".into(), Value::String(body.to_owned()));
    } else if !body.is_empty() {
        return Err(format!(
            "text below the frontmatter is only used by the text template; {template}'s fields all go in the frontmatter"
        ));
    }
    SectionContent::from_value(template, Value::Object(fields)).map_err(|e| e.to_string())
}

/// The file text for `content`: frontmatter with `template:` first, then the fields in
/// their declared order; a `text` section's body below it.
pub fn format_content(content: &SectionContent) -> Result<String, String> {
    #[derive(Serialize)]
    struct Front<'a, T: Serialize> {
        template: &'a str,
        #[serde(flatten)]
        fields: T,
    }
    #[derive(Serialize)]
    struct TextFront<'a> {
        title: &'a str,
    }

    let template = content.template();
    let (yaml, body) = match content {
        SectionContent::Text(text) => (
            serde_saphyr::to_string(&Front {
                template: template.name(),
                fields: TextFront { title: &text.title },
            }),
            Some(text.body.trim()),
        ),
        other => (
            serde_saphyr::to_string(&Front {
                template: template.name(),
                fields: other,
            }),
            None,
        ),
    };
    let yaml = yaml.map_err(|e| format!("cannot write YAML: {e}"))?;
    let mut text = String::with_capacity(yaml.len() + 128);
    text.push_str("---\n");
    text.push_str(&yaml);
    if !yaml.ends_with('\n') {
        text.push('\n');
    }
    text.push_str("---\n");
    if let Some(body) = body {
        text.push('\n');
        text.push_str(body);
        text.push('\n');
    }
    Ok(text)
}

/// The write of a section's content, to stage (a job) or apply (anyone else), and
/// [`content_file`].
pub(crate) fn content_write(
    root: &Path,
    environment: Environment,
    route: &Route,
    section: &Section,
    content: &SectionContent,
) -> Result<(String, SideEffect), ContentError> {
    let file = content_file(environment, route, section);
    let text = format_content(content).map_err(|message| ContentError {
        file: file.clone(),
        message,
    })?;
    let write = SideEffect::WriteFile {
        path: content_path(root, environment, route, section),
        bytes: text.into_bytes(),
    };
    Ok((file, write))
}

/// Writes a section's content atomically now; returns [`content_file`]. (A job stages
/// `content_write` instead, so only its committed run writes.)
pub fn write_content(
    root: &Path,
    environment: Environment,
    route: &Route,
    section: &Section,
    content: &SectionContent,
) -> Result<String, ContentError> {
    let (file, write) = content_write(root, environment, route, section, content)?;
    write.apply().map_err(|e| ContentError {
        file: file.clone(),
        message: format!("cannot write: {e}"),
    })?;
    Ok(file)
}

/// A short random string for temporary names (the std hasher is randomly keyed per
/// process; the counter and clock make names unique within one).
pub(crate) fn unique_suffix() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    if let Ok(now) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        hasher.write_u128(now.as_nanos());
    }
    format!("{:016x}", hasher.finish())
}

/// Splits `---\n<yaml>---\n<body>`; a leading byte-order mark and CRLF line ends are fine.
fn split_frontmatter(text: &str) -> Result<(&str, &str), String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let missing = || {
        "no frontmatter: the file must start with a `---` line, then `template: …` and the fields, then a `---` line".to_owned()
    };
    let first_end = text.find('\n').ok_or_else(missing)?;
    if text[..first_end].trim_end() != "---" {
        return Err(missing());
    }
    let rest = &text[first_end + 1..];
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed == "..." {
            return Ok((&rest[..offset], &rest[offset + line.len()..]));
        }
        offset += line.len();
    }
    Err("the frontmatter is not closed: add a `---` line after the fields".into())
}

/// Whether the section has a content file in `environment` (valid or not).
pub(crate) fn exists(
    root: &Path,
    environment: Environment,
    route: &Route,
    section: &Section,
) -> bool {
    content_path(root, environment, route, section).is_file()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::templates::{Feature, Features, Hero, Text};

    #[test]
    fn round_trips_every_shape() {
        let contents = [
            SectionContent::Hero(Hero {
                headline: "1984".into(),
                subheadline: "a: b # not a comment".into(),
                cta_text: "true".into(),
                cta_url: "/about".into(),
            }),
            SectionContent::Features(Features {
                title: "What".into(),
                items: vec![Feature {
                    title: "- dash".into(),
                    description: "two\nlines <script>".into(),
                    note: None,
                }],
            }),
            SectionContent::Text(Text {
                title: "About".into(),
                body: "# Heading\n\n---\n\nA paragraph.".into(),
            }),
        ];
        for content in contents {
            let text = format_content(&content).unwrap();
            assert!(text.starts_with(&format!("---\ntemplate: {}\n", content.template())));
            assert_eq!(
                parse_content(&text, content.template()).unwrap(),
                content,
                "{text}"
            );
        }
    }

    #[test]
    fn errors_name_the_field() {
        let text =
            "---\ntemplate: hero\nheadline: [1]\nsubheadline: s\ncta_text: c\ncta_url: u\n---\n";
        let err = parse_content(text, Template::Hero).unwrap_err();
        assert!(err.starts_with("headline: invalid type"), "{err}");
        let err = parse_content("---\ntemplate: cta\n---\n", Template::Hero).unwrap_err();
        assert!(err.starts_with("template:"), "{err}");
        let err = parse_content("hello", Template::Hero).unwrap_err();
        assert!(err.starts_with("no frontmatter"), "{err}");
        let err =
            parse_content("---\ntemplate: hero\n  x: : y\n---\n", Template::Hero).unwrap_err();
        assert!(err.contains("line 3"), "{err}");
        let err = parse_content(
            "---\ntemplate: text\ntitle: t\nbody: b\n---\n",
            Template::Text,
        )
        .unwrap_err();
        assert!(err.starts_with("body:"), "{err}");
    }
}
