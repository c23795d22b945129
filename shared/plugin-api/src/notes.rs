//! Whole notes as a plugin publishes them, and the one rule that says which notes are
//! public: the notes index (`shell/notes`) answers [`PluginContext::published_notes`] with
//! it, and the test context applies the same rule.
//!
//! [`PluginContext::published_notes`]: crate::PluginContext::published_notes

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One note with its whole text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NoteText {
    /// Path relative to the notes folder, `/`-separated, e.g. `blog/first-post.md`.
    pub path: String,
    /// The frontmatter's `title`, else the first `# ` heading, else the file name's stem.
    pub title: String,
    /// The tags as written, without duplicates.
    pub tags: Vec<String>,
    /// The frontmatter's `date` as written (usually `YYYY-MM-DD`).
    pub date: Option<String>,
    /// The body's first sentence, Markdown stripped.
    pub summary: String,
    /// The text after the frontmatter, Markdown as written.
    pub body: String,
    /// The whole frontmatter (an object; empty when the note has none).
    pub frontmatter: Value,
    /// A hash of the note's file (hex), the same as [`NoteHit::hash`](crate::NoteHit).
    pub hash: String,
}

/// Whether a note is public: its frontmatter says `publish: true`, or it carries one of
/// `publish_tags` (compared case-insensitively, a leading `#` ignored) and does not say
/// `publish: false`. Anything else — no `publish` key, `publish: maybe`, a tag not listed —
/// keeps it private: a personal brain publishes nothing by default.
pub fn is_published(frontmatter: &Value, tags: &[String], publish_tags: &[String]) -> bool {
    match publish_flag(frontmatter) {
        Some(flag) => flag,
        None => tags.iter().any(|tag| {
            let tag = tag_key(tag);
            publish_tags.iter().any(|wanted| tag_key(wanted) == tag)
        }),
    }
}

/// The frontmatter's `publish` as a yes or no: a boolean, or the words `true`/`yes` and
/// `false`/`no` (YAML 1.2 reads `yes` as a string, and people write it); `None` when absent
/// or anything else.
fn publish_flag(frontmatter: &Value) -> Option<bool> {
    match frontmatter.get("publish")? {
        Value::Bool(flag) => Some(*flag),
        Value::String(word) => match word.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" => Some(true),
            "false" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// How tags compare: `#Blog`, ` blog ` and `blog` are one tag (case ignored, a leading `#`
/// and surrounding spaces too).
pub fn tag_key(tag: &str) -> String {
    tag.trim().trim_start_matches('#').trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_what_says_so_is_published() {
        let tags = |t: &[&str]| t.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let blog = tags(&["Blog"]);
        assert!(!is_published(&json!({}), &tags(&["ideas"]), &blog));
        assert!(is_published(&json!({"publish": true}), &[], &[]));
        assert!(is_published(&json!({"publish": "yes"}), &[], &[]));
        assert!(is_published(&json!({}), &tags(&["#blog"]), &blog));
        assert!(
            !is_published(&json!({"publish": false}), &tags(&["blog"]), &blog),
            "an explicit no wins over a tag"
        );
        assert!(!is_published(&json!({"publish": "maybe"}), &[], &blog));
        assert!(!is_published(&json!({"publish": 1}), &[], &blog));
    }
}
