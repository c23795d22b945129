//! The site as declared in `brain.toml`'s `[site]` table (or in the TOML file its `file`
//! key names), read and validated once, when the plugin registers. Every error names the
//! key at fault and what is allowed, e.g. `site.routes[1].sections[0].template: unknown
//! template "herox" (allowed: hero, features, products, cta, text, note-list)`, and all of
//! them are reported at once, so one `brain config check` shows everything to fix.

use std::collections::HashMap;
use std::path::Path;

use brain_plugin_api::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::templates::Template;

/// The whole site: settings and routes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Site {
    pub title: String,
    pub description: String,
    /// Where the site is published, e.g. `https://example.org` (no trailing slash kept).
    pub base_url: String,
    /// The site-wide call to action, which the `cta` and `hero` sections may use.
    pub cta: Option<SiteCta>,
    pub routes: Vec<Route>,
    /// Notes carrying one of these tags are published (unless they say `publish: false`);
    /// `publish: true` publishes any note. Empty by default: nothing private is published.
    pub publish_tags: Vec<String>,
    /// Where published notes are listed, each note in the first whose tags it carries; the
    /// last one takes every other note (`notes` at `/notes` unless one without tags is
    /// declared).
    pub collections: Vec<Collection>,
}

/// `[[site.collections]]`: a list page of published notes, their pages below it
/// (`/blog/<slug>`), and an Atom feed (`/blog/feed.xml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Collection {
    /// `[a-z0-9-]+`, unique.
    pub id: String,
    /// `/segment/…` (not `/`), unique among routes and collections.
    pub path: String,
    pub title: String,
    /// The notes it takes (any of these tags); empty: every note no other collection took.
    pub tags: Vec<String>,
    pub sort: Sort,
    /// Whether the collection is listed in the navigation (default true).
    pub nav: bool,
}

/// How a collection orders its notes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    /// Newest `date` first; undated notes after, by title.
    Date,
    /// By title, A to Z.
    Title,
}

/// The collection every published note no declared collection takes lands in, when none
/// without tags is declared.
const DEFAULT_COLLECTION: (&str, &str, &str) = ("notes", "/notes", "Notes");

/// Paths the site's own pages use: no route or collection may take them.
pub(crate) const RESERVED_PATHS: [&str; 2] = ["/tags", "/search"];

/// `[site] cta = { headline, text, button_text, button_url }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "brain_plugin_api::schemars")]
#[serde(deny_unknown_fields)]
pub struct SiteCta {
    pub headline: String,
    pub text: String,
    pub button_text: String,
    pub button_url: String,
}

/// A page of the site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    /// `[a-z0-9-]+`, unique; names the content folder (`content/preview/<id>/`).
    pub id: String,
    /// `/` or `/segment/…`, unique; the page is written to `<path>/index.html`.
    pub path: String,
    pub title: String,
    /// Whether the page is listed in every page's navigation (default true). A site with
    /// hundreds of pages lists its top pages and leaves the rest to links and the sitemap.
    pub nav: bool,
    pub sections: Vec<Section>,
}

/// A section of a page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Section {
    /// `[a-z0-9-]+`, unique within its route; names the content file (`<id>.md`).
    pub id: String,
    pub template: Template,
}

impl Route {
    /// `landing:features`: how jobs, warnings and people name a section.
    pub fn label(&self, section: &Section) -> String {
        format!("{}:{}", self.id, section.id)
    }

    /// How many folders deep the page's `index.html` is below the site's root.
    pub fn depth(&self) -> usize {
        crate::render::depth_of(&self.path)
    }

    /// The page's file, relative to the output folder: `index.html`, `about/index.html`.
    pub fn output_file(&self) -> String {
        crate::pages::output_file(&self.path)
    }
}

impl Site {
    /// The site declared by the `[site]` table `config` (JSON, as the shell hands it over);
    /// `None` when there is no such table. `root` is the brain directory, which a `file`
    /// key is relative to.
    pub fn from_config(config: &Value, root: &Path) -> Result<Option<Site>, ConfigError> {
        let table = match config {
            Value::Null => return Ok(None),
            Value::Object(table) => table,
            other => {
                return Err(ConfigError::one(format!(
                    "site: must be a table, got {}",
                    kind_of(other)
                )));
            }
        };
        let Some(file) = table.get("file") else {
            return Site::from_table(config, "site.").map(Some);
        };
        let Value::String(file) = file else {
            return Err(ConfigError::one(format!(
                "site.file: must be a string (a path relative to the brain directory), got {}",
                kind_of(file)
            )));
        };
        let others: Vec<&str> = table
            .keys()
            .map(String::as_str)
            .filter(|k| *k != "file")
            .collect();
        if !others.is_empty() {
            return Err(ConfigError::one(format!(
                "site.file: cannot be combined with other [site] keys ({}); put them in {file}",
                others.join(", ")
            )));
        }
        let path = root.join(file);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            ConfigError::one(format!("site.file: cannot read {} ({e})", path.display()))
        })?;
        let value: Value = toml::from_str(&text)
            .map_err(|e| ConfigError::one(format!("{file}: {}", e.to_string().trim_end())))?;
        Site::from_table(&value, &format!("{file}: ")).map(Some)
    }

    /// Validates one table; `prefix` is put before every key in errors (`site.` or
    /// `site/site.toml: `).
    fn from_table(value: &Value, prefix: &str) -> Result<Site, ConfigError> {
        let raw: RawSite = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let key = if path == "." {
                prefix.trim_end_matches(['.', ' ', ':']).to_owned()
            } else {
                format!("{prefix}{path}")
            };
            ConfigError::one(format!("{key}: {}", worded(&e.into_inner().to_string())))
        })?;
        let mut errors = Vec::new();
        let mut error =
            |key: String, message: String| errors.push(format!("{prefix}{key}: {message}"));

        if raw.title.trim().is_empty() {
            error("title".into(), "must not be empty".into());
        }
        let base_url = raw.base_url.trim_end_matches('/').to_owned();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://"))
            || base_url.contains(char::is_whitespace)
        {
            error(
                "base_url".into(),
                format!(
                    "must be an absolute http:// or https:// URL such as \"https://example.org\", got {:?}",
                    raw.base_url
                ),
            );
        }
        if raw.routes.is_empty() {
            error(
                "routes".into(),
                "declare at least one route, e.g. [[site.routes]] id = \"landing\", path = \"/\", title = \"Home\"".into(),
            );
        }

        let mut route_ids: HashMap<&str, usize> = HashMap::new();
        let mut paths: HashMap<&str, usize> = HashMap::new();
        let mut routes = Vec::with_capacity(raw.routes.len());
        for (r, route) in raw.routes.iter().enumerate() {
            let at = format!("routes[{r}]");
            if !is_id(&route.id) {
                error(format!("{at}.id"), not_an_id(&route.id));
            } else if let Some(first) = route_ids.insert(&route.id, r) {
                route_ids.insert(&route.id, first);
                error(
                    format!("{at}.id"),
                    format!(
                        "{:?} is already the id of {prefix}routes[{first}]",
                        route.id
                    ),
                );
            }
            if let Err(message) = check_path(&route.path) {
                error(format!("{at}.path"), message);
            } else if let Some(first) = paths.insert(&route.path, r) {
                paths.insert(&route.path, first);
                error(
                    format!("{at}.path"),
                    format!(
                        "{:?} is already the path of {prefix}routes[{first}]",
                        route.path
                    ),
                );
            }
            if route.title.trim().is_empty() {
                error(format!("{at}.title"), "must not be empty".into());
            }
            let mut section_ids: HashMap<&str, usize> = HashMap::new();
            let mut sections = Vec::with_capacity(route.sections.len());
            for (s, section) in route.sections.iter().enumerate() {
                let at = format!("{at}.sections[{s}]");
                if !is_id(&section.id) {
                    error(format!("{at}.id"), not_an_id(&section.id));
                } else if let Some(first) = section_ids.insert(&section.id, s) {
                    section_ids.insert(&section.id, first);
                    error(
                        format!("{at}.id"),
                        format!(
                            "{:?} is already the id of sections[{first}] of this route",
                            section.id
                        ),
                    );
                }
                match Template::parse(&section.template) {
                    Some(template) => sections.push(Section {
                        id: section.id.clone(),
                        template,
                    }),
                    None => error(
                        format!("{at}.template"),
                        format!(
                            "unknown template {:?} (allowed: {})",
                            section.template,
                            Template::allowed()
                        ),
                    ),
                }
            }
            routes.push(Route {
                id: route.id.clone(),
                // `/about/` and `/about` are the same page; one spelling is kept.
                path: normalize_path(&route.path),
                title: route.title.clone(),
                nav: route.nav,
                sections,
            });
        }
        for (r, route) in routes.iter().enumerate() {
            if RESERVED_PATHS.contains(&route.path.as_str()) {
                error(
                    format!("routes[{r}].path"),
                    format!(
                        "{:?} is the site's own page for {}; choose another path",
                        route.path,
                        &route.path[1..]
                    ),
                );
            }
        }
        let collections = collections(&raw.collections, &routes, &mut error);
        for (t, tag) in raw.publish_tags.iter().enumerate() {
            if brain_plugin_api::tag_key(tag).is_empty() {
                error(format!("publish_tags[{t}]"), "must not be empty".into());
            }
        }
        if !errors.is_empty() {
            return Err(ConfigError { messages: errors });
        }
        Ok(Site {
            title: raw.title,
            description: raw.description,
            base_url,
            cta: raw.cta,
            routes,
            publish_tags: raw.publish_tags,
            collections,
        })
    }

    /// The collection a published note with `tags` is listed in: the first declared one
    /// with one of its tags (case-insensitive, `#` ignored), else the catch-all (the last).
    pub fn collection_for(&self, tags: &[String]) -> usize {
        use brain_plugin_api::tag_key;
        let tags: Vec<String> = tags.iter().map(|t| tag_key(t)).collect();
        self.collections
            .iter()
            .position(|c| c.tags.iter().any(|t| tags.contains(&tag_key(t))))
            .unwrap_or(self.collections.len().saturating_sub(1))
    }

    /// Where a "read the notes" link should go: the catch-all collection when it lists a
    /// note of `public`, else the first collection that does; `None` without public notes.
    pub fn notes_path(&self, public: &[brain_plugin_api::NoteHit]) -> Option<&str> {
        let used: Vec<usize> = public
            .iter()
            .map(|n| self.collection_for(&n.tags))
            .collect();
        let catch_all = self.collections.len().checked_sub(1)?;
        let chosen = if used.contains(&catch_all) {
            catch_all
        } else {
            *used.iter().min()?
        };
        Some(self.collections[chosen].path.as_str())
    }

    pub fn route(&self, id: &str) -> Option<&Route> {
        self.routes.iter().find(|r| r.id == id)
    }

    /// The absolute URL of a site path (`/about` → `https://example.org/about`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The path part of `base_url`, ending in `/` (`https://x.org/brain` → `/brain/`): where
    /// the site's root is on its server, for pages (404) that do not know their own depth.
    pub fn base_path(&self) -> String {
        let after_scheme = self
            .base_url
            .split_once("://")
            .map_or(self.base_url.as_str(), |(_, rest)| rest);
        match after_scheme.find('/') {
            Some(slash) => format!("{}/", after_scheme[slash..].trim_end_matches('/')),
            None => "/".to_owned(),
        }
    }
}

/// Why the `[site]` configuration is invalid: one message per problem, each naming its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub messages: Vec<String>,
}

impl ConfigError {
    fn one(message: String) -> Self {
        Self {
            messages: vec![message],
        }
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.messages.join("\n"))
    }
}

impl std::error::Error for ConfigError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSite {
    title: String,
    #[serde(default)]
    description: String,
    base_url: String,
    #[serde(default)]
    cta: Option<SiteCta>,
    #[serde(default)]
    routes: Vec<RawRoute>,
    #[serde(default)]
    publish_tags: Vec<String>,
    #[serde(default)]
    collections: Vec<RawCollection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCollection {
    id: String,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    // A string, not `Sort`: the error then lists the allowed values in our words.
    #[serde(default)]
    sort: Option<String>,
    #[serde(default = "default_true")]
    nav: bool,
}

/// Validates `[[site.collections]]` against each other and the routes, and adds the
/// catch-all `notes` collection when none is declared.
fn collections(
    raw: &[RawCollection],
    routes: &[Route],
    error: &mut impl FnMut(String, String),
) -> Vec<Collection> {
    let mut ids: HashMap<&str, usize> = HashMap::new();
    let mut paths: HashMap<String, usize> = HashMap::new();
    let mut collections = Vec::with_capacity(raw.len() + 1);
    for (c, raw) in raw.iter().enumerate() {
        let at = format!("collections[{c}]");
        if !is_id(&raw.id) {
            error(format!("{at}.id"), not_an_id(&raw.id));
        } else if let Some(first) = ids.insert(&raw.id, c) {
            ids.insert(&raw.id, first);
            error(
                format!("{at}.id"),
                format!("{:?} is already the id of collections[{first}]", raw.id),
            );
        }
        let path = raw.path.clone().unwrap_or_else(|| format!("/{}", raw.id));
        let normal = normalize_path(&path);
        if let Err(message) = check_path(&path) {
            error(format!("{at}.path"), message);
        } else if normal == "/" || RESERVED_PATHS.contains(&normal.as_str()) {
            error(
                format!("{at}.path"),
                format!("{path:?} is taken by the site itself; use a path such as \"/blog\""),
            );
        } else if let Some(route) = routes.iter().find(|r| r.path == normal) {
            error(
                format!("{at}.path"),
                format!("{path:?} is already the path of route {:?}", route.id),
            );
        } else if let Some(first) = paths.insert(normal.clone(), c) {
            paths.insert(normal.clone(), first);
            error(
                format!("{at}.path"),
                format!("{path:?} is already the path of collections[{first}]"),
            );
        }
        let sort = match raw.sort.as_deref() {
            None | Some("date") => Sort::Date,
            Some("title") => Sort::Title,
            Some(other) => {
                error(
                    format!("{at}.sort"),
                    format!("unknown order {other:?} (allowed: date, title)"),
                );
                Sort::Date
            }
        };
        let title = raw.title.clone().unwrap_or_else(|| capitalized(&raw.id));
        if title.trim().is_empty() {
            error(format!("{at}.title"), "must not be empty".into());
        }
        collections.push(Collection {
            id: raw.id.clone(),
            path: normal,
            title,
            tags: raw.tags.clone(),
            sort,
            nav: raw.nav,
        });
    }
    let catch_alls: Vec<usize> = (0..collections.len())
        .filter(|&c| collections[c].tags.is_empty())
        .collect();
    if catch_alls.len() > 1 {
        error(
            format!("collections[{}].tags", catch_alls[1]),
            format!(
                "only one collection may take every other note (no tags), and collections[{}] already does; give this one tags",
                catch_alls[0]
            ),
        );
    }
    match catch_alls.first() {
        // The catch-all is checked last, whatever its place in the file.
        Some(&c) => {
            let catch_all = collections.remove(c);
            collections.push(catch_all);
        }
        None => {
            let (id, path, title) = DEFAULT_COLLECTION;
            if ids.contains_key(id)
                || paths.contains_key(path)
                || routes.iter().any(|r| r.path == path)
            {
                error(
                    "collections".into(),
                    format!(
                        "published notes without a collection of their own go to {path:?}, which is taken; declare a collection without tags to take them, e.g. [[site.collections]] id = \"all\", path = \"/all\""
                    ),
                );
            }
            collections.push(Collection {
                id: id.to_owned(),
                path: path.to_owned(),
                title: title.to_owned(),
                tags: Vec::new(),
                sort: Sort::Date,
                nav: true,
            });
        }
    }
    collections
}

/// `blog` → `Blog`: a collection's title when it gives none.
fn capitalized(id: &str) -> String {
    let mut chars = id.chars();
    chars.next().map_or_else(String::new, |first| {
        first
            .to_uppercase()
            .chain(chars)
            .collect::<String>()
            .replace('-', " ")
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    id: String,
    path: String,
    title: String,
    #[serde(default = "default_true")]
    nav: bool,
    #[serde(default)]
    sections: Vec<RawSection>,
}

fn default_true() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSection {
    id: String,
    // A string, not `Template`: the error then lists the allowed names in our words.
    template: String,
}

/// `[a-z0-9-]+`: safe as a folder or file name on every system, and readable in a URL.
pub(crate) fn is_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn not_an_id(id: &str) -> String {
    format!("{id:?} is not a valid id (use 1 or more of a-z, 0-9 and -, e.g. \"landing\")")
}

/// `/`, or `/`-separated segments of `[a-z0-9-]` (a trailing `/` is allowed): each page
/// becomes a folder, so no dots (which could clash with `style.css` or climb out with
/// `..`), no empty segments, nothing a server would have to escape.
fn check_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("must start with \"/\", got {path:?}"));
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(());
    }
    if trimmed[1..].split('/').all(is_id) {
        Ok(())
    } else {
        Err(format!(
            "{path:?} is not a valid path (use \"/\" or segments of a-z, 0-9 and -, e.g. \"/about\" or \"/docs/getting-started\")"
        ))
    }
}

fn normalize_path(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        "/".to_owned()
    } else {
        trimmed.to_owned()
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "a table",
    }
}

/// serde's "unknown field `titel`, expected one of `id`, `title`" in the words every
/// section's parser uses: "unknown key: did you mean `title`? (allowed: id, title)".
fn worded(message: &str) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return message.to_owned();
    };
    let Some((typed, expected)) = rest.split_once('`') else {
        return message.to_owned();
    };
    let allowed: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    brain_plugin_api::unknown_key_here(typed, &allowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_ids() {
        assert!(check_path("/").is_ok());
        assert!(check_path("/about").is_ok());
        assert!(check_path("/docs/getting-started/").is_ok());
        for bad in ["about", "/About", "/a//b", "/../x", "/style.css", "/a b"] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
        assert!(is_id("note-list-2"));
        assert!(!is_id("") && !is_id("Hero") && !is_id("a_b"));
        assert_eq!(normalize_path("/about/"), "/about");
        assert_eq!(normalize_path("/"), "/");
    }

    #[test]
    fn base_path_is_the_url_path() {
        let mut site = Site {
            title: "t".into(),
            description: String::new(),
            base_url: "https://x.org".into(),
            cta: None,
            routes: Vec::new(),
            publish_tags: Vec::new(),
            collections: Vec::new(),
        };
        assert_eq!(site.base_path(), "/");
        site.base_url = "https://x.org/brain".into();
        assert_eq!(site.base_path(), "/brain/");
        assert_eq!(site.url("/about"), "https://x.org/brain/about");
    }
}
