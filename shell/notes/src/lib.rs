//! The notes index: the markdown notes of a brain's folder, parsed (YAML frontmatter,
//! title, tags, date, a one-sentence summary) and indexed in an SQLite database with FTS5
//! full-text search. Refreshes are incremental — an unchanged folder costs one `stat` per
//! file — and every method is synchronous: async callers wrap them in `spawn_blocking`.
//!
//! ```text
//! notes/**/*.md ──scan (stat)──► changed? ──read, BLAKE3──► new content? ──parse_note──►
//!     notes + note_chunks + notes_fts, same transaction (bm25: title > tags > body)
//! ```
//!
//! Searches return [`NoteHit`]s, the shape plugins and interfaces see; they are bounded in
//! time and in the text read for snippets, whatever the size of a note.

mod error;
mod index;
mod parse;
mod scan;
mod schema;
mod snippet;

pub use error::{NoteError, NotesError};
pub use index::{IndexReport, NotesIndex, SkippedNote};
pub use parse::{Note, parse_note};
// The search result type is plugin-facing; re-exported so index users need one import.
pub use brain_plugin_api::NoteHit;
