//! The `local` provider: composes website sections from the notes the request carries,
//! with no language model and no network. The same request always gives the same output,
//! so sites build offline, in tests and in CI, and a rebuild changes only what the notes
//! changed.
//!
//! # The context contract
//!
//! The site-builder plugin sends kinds `site-section:<template>` with this `context`:
//!
//! ```json
//! { "site": { "title": "...", "description": "...", "base_url": "...",
//!             "cta": { "headline": "...", "text": "...", "button_text": "...", "button_url": "..." },
//!             "notes_path": "/notes" },
//!   "route": { "id": "landing", "path": "/", "title": "Home" },
//!   "section": { "id": "features", "template": "features" },
//!   "notes": [ /* NoteHit objects (path, title, tags, summary, snippet, score), most relevant first */ ],
//!   "products": [ /* NoteHit objects of the notes tagged "product" */ ] }
//! ```
//!
//! Every field is optional (`cta` and each of its fields especially): what is missing falls
//! back to a sensible default, so every string in the output is non-empty. Output, with
//! snake_case keys:
//!
//! | kind | output |
//! | --- | --- |
//! | `site-section:hero` | `{ headline: site.title, subheadline: site.description, cta_text, cta_url }` |
//! | `site-section:features` | `{ title, items: [{ title, description, note }] }`: up to 6 notes; with none, 3 generic items whose `note` is `null` |
//! | `site-section:products` | `{ title: "Products", items: [{ name, description, note }] }`: one per product, possibly none |
//! | `site-section:cta` | `{ headline, text, button_text, button_url }` |
//! | `site-section:text` | `{ title: route.title, body }`: Markdown with the site description and the top notes with their summaries |
//! | `site-section:note-list` | `{ title: route.title or section.id, notes: [{ title, path, summary }] }` |
//!
//! `note` and `path` are note paths relative to the notes folder (`ideas/rust.md`). Any other
//! kind is [`GenerateError::Unsupported`]. Answers ([`ContentGenerator::answer`]) quote the
//! passages' snippets with the `[` `]` match markers removed.

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use brain_plugin_api::{Answer, ContentGenerator, GenerateError, GenerationRequest, NoteHit};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const NAME: &str = "local";
const FEATURE_ITEMS: usize = 6;
/// How many notes an about page lists; more would turn it into an index.
const TEXT_NOTES: usize = 8;
/// How many passages an answer quotes.
const ANSWER_PASSAGES: usize = 5;

const DEFAULT_TITLE: &str = "A personal brain";
const DEFAULT_DESCRIPTION: &str = "Notes, ideas and projects, kept in one place.";
const DEFAULT_CTA_HEADLINE: &str = "Explore the notes";
const DEFAULT_BUTTON_TEXT: &str = "Read the notes";
/// Where the button goes when the site lists no published notes.
const DEFAULT_BUTTON_URL: &str = "/about";

/// The offline, deterministic generator. See the module documentation for the context it
/// reads and the shapes it returns.
#[derive(Debug, Clone, Default)]
pub struct LocalGenerator {
    delay: Duration,
}

impl LocalGenerator {
    /// `delay` is a pause before each generate call (`[ai.local] delay_ms`); tests and demos
    /// use it to make jobs take visible time. The pause ends early when the job is cancelled.
    pub fn new(delay: Duration) -> Self {
        Self { delay }
    }
}

#[async_trait]
impl ContentGenerator for LocalGenerator {
    fn name(&self) -> &str {
        NAME
    }

    /// The configured pause plus composing the section (a few milliseconds).
    fn typical_duration(&self) -> Duration {
        self.delay + Duration::from_millis(5)
    }

    async fn generate(
        &self,
        request: &GenerationRequest,
        cancel: &CancellationToken,
    ) -> Result<Value, GenerateError> {
        // Unsupported kinds fail at once: waiting first would only slow the error down.
        let compose: fn(&Context<'_>) -> Value = match request.kind.strip_prefix("site-section:") {
            Some("hero") => hero,
            Some("features") => features,
            Some("products") => products,
            Some("cta") => cta,
            Some("text") => text,
            Some("note-list") => note_list,
            _ => {
                return Err(GenerateError::Unsupported {
                    provider: NAME.into(),
                    kind: request.kind.clone(),
                });
            }
        };
        if cancel.is_cancelled() {
            return Err(GenerateError::Cancelled);
        }
        if !self.delay.is_zero() {
            tokio::select! {
                () = cancel.cancelled() => return Err(GenerateError::Cancelled),
                () = tokio::time::sleep(self.delay) => {}
            }
        }
        Ok(compose(&Context(&request.context)))
    }

    async fn answer(
        &self,
        question: &str,
        passages: &[NoteHit],
        cancel: &CancellationToken,
    ) -> Result<Answer, GenerateError> {
        if cancel.is_cancelled() {
            return Err(GenerateError::Cancelled);
        }
        if passages.is_empty() {
            return Ok(Answer {
                text: format!("No note matches “{}”.", question.trim()),
                sources: Vec::new(),
            });
        }
        let quoted = &passages[..passages.len().min(ANSWER_PASSAGES)];
        let text = quoted
            .iter()
            .map(|hit| {
                let snippet = strip_markers(&hit.snippet);
                let passage = first_non_empty(&[&snippet, &hit.summary]).unwrap_or("(no text)");
                let title = first_non_empty(&[&hit.title, &hit.path]).unwrap_or("a note");
                format!("From “{title}”: {passage}")
            })
            .collect::<Vec<_>>()
            .join("\n\n");
        Ok(Answer {
            text,
            sources: quoted.to_vec(),
        })
    }
}

/// Lenient reads of the request context: wrong types count as missing, so that an older or
/// newer site-builder still gets a page rather than an error.
struct Context<'a>(&'a Value);

impl Context<'_> {
    fn str(&self, pointer: &str) -> Option<&str> {
        self.0
            .pointer(pointer)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    fn title(&self) -> &str {
        self.str("/site/title").unwrap_or(DEFAULT_TITLE)
    }

    fn description(&self) -> &str {
        self.str("/site/description").unwrap_or(DEFAULT_DESCRIPTION)
    }

    fn button_text(&self) -> &str {
        self.str("/site/cta/button_text")
            .unwrap_or(DEFAULT_BUTTON_TEXT)
    }

    /// The site's own button, else the list of published notes, else the about page.
    fn button_url(&self) -> &str {
        self.str("/site/cta/button_url")
            .or_else(|| self.str("/site/notes_path"))
            .unwrap_or(DEFAULT_BUTTON_URL)
    }

    fn route_title(&self) -> Option<&str> {
        self.str("/route/title")
    }

    fn section_id(&self) -> Option<&str> {
        self.str("/section/id")
    }

    /// The notes under `key`, in the order given, skipping entries without a path and
    /// repeats of a path.
    fn notes(&self, key: &str) -> Vec<Note<'_>> {
        let mut seen = HashSet::new();
        self.0
            .get(key)
            .and_then(Value::as_array)
            .map(|notes| {
                notes
                    .iter()
                    .filter_map(Note::read)
                    .filter(|note| seen.insert(note.path))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A note from the context, with fallbacks so no field is empty.
struct Note<'a> {
    path: &'a str,
    title: String,
    summary: String,
}

impl<'a> Note<'a> {
    fn read(value: &'a Value) -> Option<Self> {
        let field = |name: &str| {
            value
                .get(name)
                .and_then(Value::as_str)
                .map(str::trim)
                .unwrap_or("")
        };
        let path = field("path");
        if path.is_empty() {
            return None;
        }
        let title = first_non_empty(&[field("title"), &title_from_path(path), path])
            .unwrap_or(path)
            .to_owned();
        let snippet = strip_markers(field("snippet"));
        let summary = first_non_empty(&[field("summary"), snippet.trim()])
            .unwrap_or("A note in this brain.")
            .to_owned();
        Some(Self {
            path,
            title,
            summary,
        })
    }
}

fn hero(ctx: &Context<'_>) -> Value {
    json!({
        "headline": ctx.title(),
        "subheadline": ctx.description(),
        "cta_text": ctx.button_text(),
        "cta_url": ctx.button_url(),
    })
}

fn features(ctx: &Context<'_>) -> Value {
    let notes = ctx.notes("notes");
    if notes.is_empty() {
        // A new brain still gets a features section: what a brain is for, in three items.
        return json!({
            "title": "What you'll find here",
            "items": [
                { "title": "Notes", "description": "Plain Markdown notes, written and kept in one folder.", "note": null },
                { "title": "Ideas", "description": "Thoughts linked across notes, so they can be found again.", "note": null },
                { "title": "Projects", "description": "Work in progress, shared as it grows.", "note": null },
            ],
        });
    }
    let items: Vec<Value> = notes
        .iter()
        .take(FEATURE_ITEMS)
        .map(|note| json!({ "title": note.title, "description": note.summary, "note": note.path }))
        .collect();
    json!({ "title": "Highlights from the notes", "items": items })
}

fn products(ctx: &Context<'_>) -> Value {
    let items: Vec<Value> = ctx
        .notes("products")
        .iter()
        .map(|note| json!({ "name": note.title, "description": note.summary, "note": note.path }))
        .collect();
    json!({ "title": "Products", "items": items })
}

fn cta(ctx: &Context<'_>) -> Value {
    json!({
        "headline": ctx.str("/site/cta/headline").unwrap_or(DEFAULT_CTA_HEADLINE),
        "text": ctx.str("/site/cta/text").unwrap_or(ctx.description()),
        "button_text": ctx.button_text(),
        "button_url": ctx.button_url(),
    })
}

fn text(ctx: &Context<'_>) -> Value {
    let title = ctx.route_title().unwrap_or(ctx.title());
    let mut body = format!("{}\n", ctx.description());
    let notes = ctx.notes("notes");
    if notes.is_empty() {
        body.push_str("\nNothing has been written here yet.\n");
    } else {
        body.push_str("\n## From the notes\n\n");
        for note in notes.iter().take(TEXT_NOTES) {
            body.push_str(&format!("- **{}**: {}\n", note.title, note.summary));
        }
    }
    json!({ "title": title, "body": body })
}

fn note_list(ctx: &Context<'_>) -> Value {
    let title = ctx.route_title().or(ctx.section_id()).unwrap_or("Notes");
    let notes: Vec<Value> = ctx
        .notes("notes")
        .iter()
        .map(|note| json!({ "title": note.title, "path": note.path, "summary": note.summary }))
        .collect();
    json!({ "title": title, "notes": notes })
}

/// Removes the `[` `]` the notes index puts around matched words.
fn strip_markers(snippet: &str) -> String {
    snippet
        .chars()
        .filter(|c| !matches!(c, '[' | ']'))
        .collect()
}

/// `ideas/rust-notes.md` → `rust notes`: a title for a note whose title is empty.
fn title_from_path(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    let stem = file.strip_suffix(".md").unwrap_or(file);
    stem.replace(['-', '_'], " ")
}

fn first_non_empty<'a>(candidates: &[&'a str]) -> Option<&'a str> {
    candidates.iter().map(|s| s.trim()).find(|s| !s.is_empty())
}
