//! Parsing one note: the optional YAML frontmatter, then the title, tags, date and a
//! one-sentence summary drawn from it and the markdown body. Pure functions of the text, so
//! the index can re-parse any file and get the same answer; markdown is handled roughly on
//! purpose (a summary and a title need no full CommonMark parser).

use std::path::Path;

use serde_json::{Map, Value};

use crate::error::NoteError;

/// Longest summary in characters, the closing `…` included.
const SUMMARY_MAX_CHARS: usize = 200;

/// The frontmatter's first line within the file: line 1 is the opening `---`.
const FRONTMATTER_FIRST_LINE: usize = 2;

/// One parsed note.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Note {
    /// Relative to the notes folder, with `/` separators.
    pub path: String,
    /// The frontmatter's `title`, else the first `# ` heading, else the file name's stem.
    pub title: String,
    /// The frontmatter's `tags` (a list or a comma-separated string), as written, without
    /// duplicates (compared case-insensitively).
    pub tags: Vec<String>,
    /// The frontmatter's `date` as written.
    pub date: Option<String>,
    /// The first sentence of the body's first paragraph, markdown stripped.
    pub summary: String,
    /// The text after the frontmatter, markdown as written.
    pub body: String,
    /// The whole frontmatter (an empty object when there is none).
    pub frontmatter: Value,
}

/// Parses one note: optional YAML frontmatter between a first line `---` and the next `---`
/// line, then the markdown body. `path` is only used to name the note (its title fallback
/// and errors). Broken YAML is an error naming `path` and the line within the file.
pub fn parse_note(path: &str, text: &str) -> Result<Note, NoteError> {
    // Editors on Windows may save a byte-order mark; it is not part of the first line.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (yaml, body) = split_frontmatter(path, text)?;
    let frontmatter = match yaml {
        Some(yaml) => parse_yaml(path, yaml)?,
        None => Map::new(),
    };
    let title = frontmatter
        .get("title")
        .and_then(scalar_string)
        .filter(|title| !title.is_empty())
        .or_else(|| first_heading(body))
        .unwrap_or_else(|| file_stem(path));
    let tags = tags(frontmatter.get("tags"));
    let date = frontmatter
        .get("date")
        .and_then(scalar_string)
        .filter(|date| !date.is_empty());
    Ok(Note {
        path: path.to_owned(),
        title,
        tags,
        date,
        summary: summary(body),
        body: body.to_owned(),
        frontmatter: Value::Object(frontmatter),
    })
}

/// Splits `text` into the frontmatter's YAML (without its `---` lines) and the body.
fn split_frontmatter<'a>(
    path: &str,
    text: &'a str,
) -> Result<(Option<&'a str>, &'a str), NoteError> {
    let mut lines = text.split_inclusive('\n');
    let Some(first) = lines.next() else {
        return Ok((None, text));
    };
    if first.trim_end() != "---" {
        return Ok((None, text));
    }
    let start = first.len();
    let mut offset = start;
    for line in lines {
        // YAML's own end-of-document marker `...` closes it too.
        if matches!(line.trim_end(), "---" | "...") {
            return Ok((Some(&text[start..offset]), &text[offset + line.len()..]));
        }
        offset += line.len();
    }
    Err(NoteError {
        path: path.to_owned(),
        line: Some(1),
        message: "the frontmatter opened by `---` at line 1 is never closed: add a `---` line \
                  after it"
            .to_owned(),
    })
}

fn parse_yaml(path: &str, yaml: &str) -> Result<Map<String, Value>, NoteError> {
    let error = |line: usize, message: String| NoteError {
        path: path.to_owned(),
        line: Some(line),
        message,
    };
    if yaml.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_saphyr::from_str::<Value>(yaml) {
        Ok(Value::Object(map)) => Ok(map),
        // Only comments.
        Ok(Value::Null) => Ok(Map::new()),
        Ok(other) => Err(error(
            FRONTMATTER_FIRST_LINE,
            format!(
                "the frontmatter at line {FRONTMATTER_FIRST_LINE} is {}, not a mapping of keys to \
                 values (like `title: My note`)",
                kind(&other)
            ),
        )),
        Err(e) => {
            let location = e.location();
            // The parser counts from the frontmatter's first line; people count from the file's.
            let line = location.map_or(FRONTMATTER_FIRST_LINE, |at| {
                usize::try_from(at.line()).unwrap_or(0) + FRONTMATTER_FIRST_LINE - 1
            });
            let mut message = e.without_snippet().to_string();
            if let Some(at) = location {
                let suffix = format!(" at line {}, column {}", at.line(), at.column());
                if let Some(bare) = message.strip_suffix(&suffix) {
                    message = format!("{bare} (column {})", at.column());
                }
            }
            // A hint about the parser's options means nothing to someone editing a note.
            if let Some(cut) = message.find(", set DuplicateKeyPolicy") {
                message.truncate(cut);
            }
            Err(error(
                line,
                format!("invalid YAML frontmatter at line {line}: {message}"),
            ))
        }
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "empty",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// A scalar as text: `title: 2024` is a title too.
fn scalar_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn tags(value: Option<&Value>) -> Vec<String> {
    let raw: Vec<String> = match value {
        Some(Value::Array(items)) => items.iter().filter_map(scalar_string).collect(),
        Some(Value::String(s)) => s.split(',').map(str::to_owned).collect(),
        Some(other) => scalar_string(other).into_iter().collect(),
        None => Vec::new(),
    };
    let mut seen = std::collections::HashSet::new();
    raw.iter()
        // `"#rust"` is how a hashtag must be quoted in YAML; the `#` is not part of the tag.
        .map(|tag| tag.trim().trim_start_matches('#').trim())
        .filter(|tag| !tag.is_empty() && seen.insert(tag.to_lowercase()))
        .map(str::to_owned)
        .collect()
}

fn file_stem(path: &str) -> String {
    Path::new(path).file_stem().map_or_else(
        || path.to_owned(),
        |stem| stem.to_string_lossy().into_owned(),
    )
}

/// The text of the first level-1 ATX heading outside code blocks.
fn first_heading(body: &str) -> Option<String> {
    let mut fence = Fence::default();
    for line in body.lines() {
        if fence.skip(line) {
            continue;
        }
        let t = line.trim();
        if let Some(text) = t.strip_prefix("# ") {
            // A closing sequence of `#` is decoration.
            let text = strip_inline(text.trim_end_matches('#'));
            if !text.is_empty() {
                return Some(text);
            }
        }
    }
    None
}

/// Tracks fenced code blocks while walking lines.
#[derive(Default)]
struct Fence {
    open: Option<(char, usize)>,
}

impl Fence {
    /// Whether `line` is part of a fenced code block (its fences included).
    fn skip(&mut self, line: &str) -> bool {
        let t = line.trim_start();
        let marker = t.chars().next().filter(|c| matches!(c, '`' | '~'));
        let run = marker.map_or(0, |m| t.chars().take_while(|&c| c == m).count());
        match (self.open, marker) {
            (Some((open, len)), Some(m)) if m == open && run >= len => {
                self.open = None;
                true
            }
            (Some(_), _) => true,
            (None, Some(m)) if run >= 3 => {
                self.open = Some((m, run));
                true
            }
            (None, _) => false,
        }
    }
}

/// The first sentence of the body's first paragraph: headings, code, rules, tables, HTML
/// and images are passed over; list and quote markers and inline markup are stripped.
fn summary(body: &str) -> String {
    let mut fence = Fence::default();
    let mut in_comment = false;
    let mut paragraph: Vec<&str> = Vec::new();
    for line in body.lines() {
        if fence.skip(line) {
            if !paragraph.is_empty() {
                break;
            }
            continue;
        }
        let t = line.trim();
        if in_comment {
            in_comment = !t.contains("-->");
            continue;
        }
        if t.starts_with("<!--") {
            in_comment = !t.contains("-->");
            continue;
        }
        // A setext underline makes the paragraph so far a heading, not a summary.
        if !paragraph.is_empty() && (is_rule(t, '=') || is_rule(t, '-')) {
            paragraph.clear();
            continue;
        }
        let block_break = t.is_empty()
            || is_heading(t)
            || is_rule(t, '-')
            || is_rule(t, '*')
            || is_rule(t, '_')
            || t.starts_with('|')
            || t.starts_with('<')
            || (t.starts_with("![") && t.ends_with(')'));
        if block_break {
            if !paragraph.is_empty() {
                break;
            }
            continue;
        }
        let (text, list_item) = strip_block_markers(t);
        // A list item interrupts a paragraph; each item is a block of its own.
        if list_item && !paragraph.is_empty() {
            break;
        }
        if !text.is_empty() {
            paragraph.push(text);
        }
    }
    let text = strip_inline(&paragraph.join(" "));
    truncate_words(first_sentence(&text), SUMMARY_MAX_CHARS)
}

fn is_heading(t: &str) -> bool {
    let hashes = t.chars().take_while(|&c| c == '#').count();
    // `#tag` at the start of a line is a hashtag, not a heading.
    (1..=6).contains(&hashes) && t[hashes..].chars().next().is_none_or(char::is_whitespace)
}

/// A thematic break (`---`, `* * *`) or setext underline (`===`) made of `marker`.
fn is_rule(t: &str, marker: char) -> bool {
    let mut count = 0;
    for c in t.chars() {
        if c == marker {
            count += 1;
        } else if c != ' ' && c != '\t' {
            return false;
        }
    }
    count >= 3
}

/// Strips blockquote, list and task markers; says whether the line starts a list item.
fn strip_block_markers(t: &str) -> (&str, bool) {
    let mut t = t;
    while let Some(rest) = t.strip_prefix('>') {
        t = rest.trim_start();
    }
    let mut list_item = false;
    if let Some(rest) = t
        .strip_prefix("- ")
        .or_else(|| t.strip_prefix("* "))
        .or_else(|| t.strip_prefix("+ "))
    {
        t = rest.trim_start();
        list_item = true;
    } else {
        let digits = t.chars().take_while(char::is_ascii_digit).count();
        if (1..=9).contains(&digits) {
            let rest = &t[digits..];
            if let Some(rest) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
                t = rest.trim_start();
                list_item = true;
            }
        }
    }
    if list_item {
        for task in ["[ ] ", "[x] ", "[X] "] {
            if let Some(rest) = t.strip_prefix(task) {
                t = rest.trim_start();
            }
        }
    }
    (t, list_item)
}

/// Removes inline markdown roughly: emphasis and code markers, links and images (their
/// text stays), wiki links, autolinks (their address stays), HTML tags, escapes. Collapses
/// whitespace.
fn strip_inline(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '\\' if next.is_some_and(|n| n.is_ascii_punctuation()) => {
                out.extend(next);
                i += 2;
            }
            // An image is a link whose text is its description.
            '!' if next == Some('[') => i += 1,
            '[' => {
                if let Some((shown, end)) = link(&chars, i) {
                    out.push_str(&strip_inline(&shown));
                    i = end;
                } else {
                    out.push('[');
                    i += 1;
                }
            }
            '<' => match find(&chars, i + 1, '>') {
                Some(close) if is_tag_or_autolink(&chars[i + 1..close]) => {
                    let inner: String = chars[i + 1..close].iter().collect();
                    if inner.contains("://") || inner.starts_with("mailto:") {
                        out.push_str(&inner);
                    }
                    i = close + 1;
                }
                _ => {
                    out.push('<');
                    i += 1;
                }
            },
            '`' => i += 1,
            '~' if next == Some('~') => i += 2,
            '*' => {
                // A lone `*` between spaces is arithmetic, not emphasis.
                let spaced =
                    i > 0 && chars[i - 1].is_whitespace() && next.is_some_and(char::is_whitespace);
                if spaced {
                    out.push('*');
                }
                i += 1;
            }
            '_' => {
                // `_` marks emphasis only at a word boundary: snake_case stays.
                let inside_word = i > 0
                    && chars[i - 1].is_alphanumeric()
                    && next.is_some_and(char::is_alphanumeric);
                if inside_word {
                    out.push('_');
                }
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A link starting at `chars[start] == '['`: `[[target|shown]]`, `[shown](url)`,
/// `[shown][ref]`, or a footnote reference `[^1]` (shown as nothing). Returns the text to
/// show and the index after the link.
fn link(chars: &[char], start: usize) -> Option<(String, usize)> {
    if chars.get(start + 1) == Some(&'[') {
        let end = (start + 2..chars.len().saturating_sub(1))
            .find(|&j| chars[j] == ']' && chars[j + 1] == ']')?;
        let inner: String = chars[start + 2..end].iter().collect();
        let shown = inner.rsplit('|').next().unwrap_or_default().to_owned();
        return Some((shown, end + 2));
    }
    let close = matching(chars, start, '[', ']')?;
    let inner: String = chars[start + 1..close].iter().collect();
    match chars.get(close + 1) {
        Some('(') => {
            let end = matching(chars, close + 1, '(', ')')?;
            Some((inner, end + 1))
        }
        Some('[') => {
            let end = find(chars, close + 2, ']')?;
            Some((inner, end + 1))
        }
        _ if inner.starts_with('^') => Some((String::new(), close + 1)),
        _ => None,
    }
}

/// The index of the bracket closing the one at `open_at`, counting nesting.
fn matching(chars: &[char], open_at: usize, open: char, close: char) -> Option<usize> {
    let mut depth = 0usize;
    for (j, &c) in chars.iter().enumerate().skip(open_at) {
        if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                return Some(j);
            }
        }
    }
    None
}

fn find(chars: &[char], from: usize, target: char) -> Option<usize> {
    (from..chars.len()).find(|&j| chars[j] == target)
}

/// `<https://…>`, `<em>`, `</em>`, `<br/>`: but not `a < b > c`.
fn is_tag_or_autolink(inner: &[char]) -> bool {
    inner
        .first()
        .is_some_and(|&c| c.is_ascii_alphabetic() || c == '/' || c == '!')
        && !inner.contains(&'\n')
}

/// The text up to and including the first sentence end: `.`, `!` or `?` followed by
/// whitespace or the end (abbreviations like `e.g.` and initials like `J.` don't count),
/// or an ideographic full stop.
fn first_sentence(text: &str) -> &str {
    let mut word_start = 0;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            word_start = i + c.len_utf8();
            continue;
        }
        let end = i + c.len_utf8();
        let at_break = match c {
            '。' | '！' | '？' => true,
            '.' | '!' | '?' => text[end..].chars().next().is_none_or(char::is_whitespace),
            _ => false,
        };
        if !at_break {
            continue;
        }
        if c == '.' {
            let word = &text[word_start..i];
            let initial = word.chars().count() == 1 && word.chars().all(char::is_uppercase);
            if word.contains('.') || initial {
                continue;
            }
        }
        return &text[..end];
    }
    text
}

/// At most `max` characters, cut at a word boundary and marked with `…` when cut.
fn truncate_words(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut = text
        .char_indices()
        .nth(max - 1)
        .map_or(text.len(), |(i, _)| i);
    let head = &text[..cut];
    let head = match head.rfind(char::is_whitespace) {
        // Cut at the last space unless that would throw most of it away (one long word).
        Some(space) if space > cut / 2 => &head[..space],
        _ => head,
    };
    format!(
        "{}…",
        head.trim_end_matches(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | ':'))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// What a case expects: the parsed fields, or an error at a line whose message contains
    /// some text.
    enum Expect<'a> {
        Note {
            title: &'a str,
            tags: &'a [&'a str],
            date: Option<&'a str>,
            summary: &'a str,
        },
        Error {
            line: usize,
            contains: &'a str,
        },
    }
    use Expect::{Error, Note as Parsed};

    #[track_caller]
    fn check(path: &str, text: &str, expect: Expect<'_>) {
        let result = parse_note(path, text);
        match expect {
            Parsed {
                title,
                tags,
                date,
                summary,
            } => {
                let note = result.unwrap_or_else(|e| panic!("{path}: unexpected error {e}"));
                assert_eq!(note.path, path);
                assert_eq!(note.title, title, "title of {path}");
                assert_eq!(note.tags, tags, "tags of {path}");
                assert_eq!(note.date.as_deref(), date, "date of {path}");
                assert_eq!(note.summary, summary, "summary of {path}");
            }
            Error { line, contains } => {
                let error = result.expect_err(path);
                assert_eq!(error.path, path);
                assert_eq!(error.line, Some(line), "{error}");
                let shown = error.to_string();
                assert!(shown.starts_with(&format!("{path}: ")), "{shown}");
                assert!(shown.contains(&format!("line {line}")), "{shown}");
                assert!(
                    shown.contains(contains),
                    "{shown} should contain {contains:?}"
                );
            }
        }
    }

    #[test]
    fn frontmatter_variants() {
        let cases = [
            (
                "plain.md",
                "Just text. More text.\n",
                Parsed {
                    title: "plain",
                    tags: &[],
                    date: None,
                    summary: "Just text.",
                },
            ),
            (
                "list.md",
                "---\ntitle: Rust ideas\ntags: [rust, Ideas]\n---\nBody here.\n",
                Parsed {
                    title: "Rust ideas",
                    tags: &["rust", "Ideas"],
                    date: None,
                    summary: "Body here.",
                },
            ),
            (
                "block-list.md",
                "---\ntags:\n  - one\n  - two\n---\nText.\n",
                Parsed {
                    title: "block-list",
                    tags: &["one", "two"],
                    date: None,
                    summary: "Text.",
                },
            ),
            (
                "string-tags.md",
                "---\ntags: \"rust, async ,, Rust, #web\"\n---\nText.\n",
                Parsed {
                    title: "string-tags",
                    tags: &["rust", "async", "web"],
                    date: None,
                    summary: "Text.",
                },
            ),
            (
                "date.md",
                "---\ndate: 2024-05-01\n---\nText.\n",
                Parsed {
                    title: "date",
                    tags: &[],
                    date: Some("2024-05-01"),
                    summary: "Text.",
                },
            ),
            (
                "datetime.md",
                "---\ndate: 2024-05-01T10:30:00Z\ntitle: 2024\n---\n",
                Parsed {
                    title: "2024",
                    tags: &[],
                    date: Some("2024-05-01T10:30:00Z"),
                    summary: "",
                },
            ),
            (
                "crlf.md",
                "\u{feff}---\r\ntitle: Windows\r\ntags: [a]\r\n---\r\nLine one.\r\n",
                Parsed {
                    title: "Windows",
                    tags: &["a"],
                    date: None,
                    summary: "Line one.",
                },
            ),
            (
                "empty-frontmatter.md",
                "---\n---\n# Heading\n",
                Parsed {
                    title: "Heading",
                    tags: &[],
                    date: None,
                    summary: "",
                },
            ),
            (
                "comments-only.md",
                "---\n# just a comment\n---\nText.\n",
                Parsed {
                    title: "comments-only",
                    tags: &[],
                    date: None,
                    summary: "Text.",
                },
            ),
            (
                "dots.md",
                "---\ntitle: Dots\n...\nText.\n",
                Parsed {
                    title: "Dots",
                    tags: &[],
                    date: None,
                    summary: "Text.",
                },
            ),
            (
                "not-frontmatter.md",
                "Text first.\n\n---\ntitle: no\n---\n",
                Parsed {
                    title: "not-frontmatter",
                    tags: &[],
                    date: None,
                    summary: "Text first.",
                },
            ),
            (
                "broken-list.md",
                "---\ntitle: a\ntags: [x, y\ndate: 2024-05-01\n---\nText.\n",
                Error {
                    line: 4,
                    contains: "invalid YAML frontmatter",
                },
            ),
            (
                "broken-indent.md",
                "---\ntitle: a\n  b: c\n---\n",
                Error {
                    line: 3,
                    contains: "column",
                },
            ),
            (
                "duplicate.md",
                "---\ntitle: a\ntitle: b\n---\n",
                Error {
                    line: 3,
                    contains: "duplicate",
                },
            ),
            (
                "unclosed.md",
                "---\ntitle: a\nText without an end.\n",
                Error {
                    line: 1,
                    contains: "never closed",
                },
            ),
            (
                "list-frontmatter.md",
                "---\n- a\n- b\n---\n",
                Error {
                    line: 2,
                    contains: "not a mapping",
                },
            ),
        ];
        for (path, text, expect) in cases {
            check(path, text, expect);
        }
    }

    #[test]
    fn the_whole_frontmatter_is_kept_as_json() {
        let note = parse_note(
            "n.md",
            "---\ntitle: T\ndraft: true\nrating: 4\nnested: {a: [1, 2]}\n---\nBody.\n",
        )
        .unwrap();
        assert_eq!(
            note.frontmatter,
            json!({"title": "T", "draft": true, "rating": 4, "nested": {"a": [1, 2]}})
        );
        assert_eq!(note.body, "Body.\n");
        let none = parse_note("n.md", "Body.\n").unwrap();
        assert_eq!(none.frontmatter, json!({}));
        assert_eq!(none.body, "Body.\n");
    }

    #[test]
    fn title_fallbacks() {
        let cases = [
            ("a/b/from-stem.md", "no heading here\n", "from-stem"),
            (
                "x.MD",
                "## Second level\n\n# First *level*  #\n",
                "First level",
            ),
            ("x.md", "```\n# not a heading\n```\n# Real\n", "Real"),
            ("x.md", "#hashtag only\n", "x"),
            (
                "x.md",
                "---\ntitle: \"  \"\n---\n# From heading\n",
                "From heading",
            ),
            ("x.md", "---\ntitle: [a, b]\n---\n", "x"),
            ("x.md", "# [Linked](http://x) title\n", "Linked title"),
        ];
        for (path, text, title) in cases {
            let summary = parse_note(path, text).unwrap().summary;
            check(
                path,
                text,
                Parsed {
                    title,
                    tags: &[],
                    date: None,
                    summary: &summary,
                },
            );
        }
    }

    #[test]
    fn summary_extraction() {
        let long = "word ".repeat(100);
        let long_cut = format!("{}…", "word ".repeat(39).trim_end());
        let cases = [
            (
                "# Title\n\nFirst sentence. Second one.\n",
                "First sentence.",
            ),
            ("\n\n## Sub\n\nIs it? Yes.\n", "Is it?"),
            (
                "A **bold** and _em_ and `code` and snake_case_name here.\n",
                "A bold and em and code and snake_case_name here.",
            ),
            (
                "See [the docs](https://x.y/z?a=(1)) and ![a cat](cat.png) now.\n",
                "See the docs and a cat now.",
            ),
            (
                "Links [[Wiki Page]], [[target|alias]], [ref][1] and <https://a.b>.\n",
                "Links Wiki Page, alias, ref and https://a.b.",
            ),
            (
                "Line one\ncontinues here. Next.\n",
                "Line one continues here.",
            ),
            (
                "No end mark at all\n\nSecond paragraph.\n",
                "No end mark at all",
            ),
            (
                "It costs 3.50 dollars, e.g. today. Then.\n",
                "It costs 3.50 dollars, e.g. today.",
            ),
            ("By J. Smith and co. Done.\n", "By J. Smith and co."),
            ("```rust\nfn main() {}\n```\n\nAfter code.\n", "After code."),
            (
                "<!-- a\ncomment -->\n<div>html</div>\n\nReal text.\n",
                "Real text.",
            ),
            ("* * *\n\nAfter a rule.\n", "After a rule."),
            (
                "Setext heading\n==============\n\nBody text.\n",
                "Body text.",
            ),
            ("- [ ] first item. More\n- second item\n", "first item."),
            ("Intro line\n- a list\n", "Intro line"),
            ("> Quoted *wisdom*. Yes.\n", "Quoted wisdom."),
            ("| a | b |\n|---|---|\n\nAfter table.\n", "After table."),
            ("![only](image.png)\n\nCaption text.\n", "Caption text."),
            ("Math: 2 * 3 = 6.\n", "Math: 2 * 3 = 6."),
            ("Escaped \\*stars\\* stay.\n", "Escaped *stars* stay."),
            ("日本語の文。次の文。\n", "日本語の文。"),
            ("", ""),
            (long.as_str(), long_cut.as_str()),
        ];
        for (body, summary) in cases {
            let title = parse_note("s.md", body).unwrap().title;
            check(
                "s.md",
                body,
                Parsed {
                    title: &title,
                    tags: &[],
                    date: None,
                    summary,
                },
            );
        }
        let note = parse_note("s.md", &long).unwrap();
        assert!(note.summary.chars().count() <= SUMMARY_MAX_CHARS);
    }

    #[test]
    fn never_panics_on_odd_markup() {
        for text in [
            "[",
            "[[",
            "[[x",
            "[a](",
            "[a][",
            "<",
            "<a",
            "\\",
            "_",
            "*",
            "![",
            "---\n",
            "---",
            "# ",
            "#",
            "```",
            "~~~\n",
            "[^",
            "a.\u{301}",
            "…",
            "[a]([b]",
        ] {
            let _ = parse_note("odd.md", text);
        }
    }
}
