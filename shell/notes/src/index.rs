//! The index itself: incremental refresh from the notes folder, full-text search, tag
//! listings and lookups.
//!
//! A refresh stats every file and compares (mtime, size) with one `SELECT` of all rows held
//! in a `HashMap`; only files that differ are read, and only those whose BLAKE3 hash
//! differs are parsed and re-indexed. Changes are written in transactions of up to
//! [`BATCH_FILES`] files; every write to a note updates the full-text index in the same
//! transaction, so a crash can lose at most the current batch, never desynchronise the
//! two. Queries take a connection of their own from a small pool, so they run beside a
//! refresh (WAL) and beside each other.
//!
//! A search is bounded: its SQL stops after [`SEARCH_BUDGET`], and its snippets read at
//! most [`SNIPPET_BUDGET`] bytes of the hits' text (`snippet.rs`), whatever the notes' sizes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use brain_plugin_api::{NoteHit, NoteText, is_published, tag_key};
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};
use serde::de::DeserializeOwned;

use crate::error::NotesError;
use crate::parse::{Note, parse_note};
use crate::scan::{FoundFile, scan};
use crate::schema;
use crate::snippet::{self, Terms};

/// Changed files per write transaction: large enough that commits are not the cost of a
/// cold index, small enough that a cancelled or crashed refresh keeps most of its work.
const BATCH_FILES: usize = 500;

/// Progress is reported when this many files or this much time passed since the last report.
const PROGRESS_FILES: u64 = 50;
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// Longer queries are cut: more words only make matching slower, never better.
const MAX_QUERY_WORDS: usize = 32;

/// A note's body is stored in pieces of about this size; a snippet reads whole pieces.
const CHUNK_BYTES: usize = 16 * 1024;

/// The longest a search's SQL runs (matching and ranking): beyond it the search stops with
/// an error that says so, instead of holding a connection and a thread.
const SEARCH_BUDGET: Duration = Duration::from_secs(2);

/// Text read for the snippets of one search, all hits together: a note's match beyond it
/// gets the note's opening as its snippet.
const SNIPPET_BUDGET: usize = 1024 * 1024;

/// Idle query connections kept open; more are opened while queries run side by side.
const IDLE_READERS: usize = 4;

/// What a refresh did. Each scanned file is counted once in `added`, `updated`,
/// `unchanged` or `skipped` (unless it was deleted during the refresh); `removed` counts
/// index entries dropped because their file is gone or now fails to parse. `skipped` also
/// lists folders and file names the scan could not use.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct IndexReport {
    /// Markdown files found.
    pub scanned: u64,
    pub added: u64,
    pub updated: u64,
    pub removed: u64,
    /// Not re-indexed: same (mtime, size), or same content.
    pub unchanged: u64,
    /// Files that could not be indexed, with why.
    pub skipped: Vec<SkippedNote>,
    /// Links to files outside the notes folder, never indexed (also in `skipped`): search
    /// is a public tool, and would serve whatever they point at.
    pub links_outside: Vec<String>,
}

/// A file the refresh could not index.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SkippedNote {
    /// Relative to the notes folder.
    pub path: String,
    /// Why, naming the line when one is at fault.
    pub error: String,
}

/// The notes index: an SQLite database of the notes under one folder. Cheap to clone;
/// every method is synchronous (async callers use `spawn_blocking`).
#[derive(Clone)]
pub struct NotesIndex {
    inner: Arc<Inner>,
}

struct Inner {
    db_path: PathBuf,
    notes_dir: PathBuf,
    /// Refreshes; held for a whole refresh so two never interleave.
    writer: Mutex<Connection>,
    /// Idle query connections: a query takes one (or opens one) and gives it back.
    readers: Mutex<Vec<Connection>>,
    access: schema::Access,
}

impl std::fmt::Debug for NotesIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotesIndex")
            .field("db_path", &self.inner.db_path)
            .field("notes_dir", &self.inner.notes_dir)
            .finish_non_exhaustive()
    }
}

/// What the index knew of a file before this refresh.
struct Known {
    id: i64,
    mtime_ns: i64,
    size: i64,
    hash: Vec<u8>,
}

/// What to do with one file whose (mtime, size) changed.
enum Action {
    /// Same content as the indexed note with this id: remember the new (mtime, size) only.
    Touch(i64),
    Index(Box<Note>, blake3::Hash),
    Skip(String),
    /// Deleted between the scan and the read.
    Vanished,
}

impl NotesIndex {
    /// Opens (creating) the index database at `db_path` for the notes under `notes_dir`.
    /// Refuses a file that is not SQLite, another application's database, or a newer
    /// schema, without touching it (errors name the path). An index that cannot be written
    /// (a read-only folder) is opened for searching only: `reindex` then says so
    /// ([`NotesError::ReadOnly`]).
    pub fn open(db_path: &Path, notes_dir: &Path) -> Result<NotesIndex, NotesError> {
        let (writer, reader, access) = schema::open(db_path)?;
        Ok(NotesIndex {
            inner: Arc::new(Inner {
                db_path: db_path.to_owned(),
                notes_dir: notes_dir.to_owned(),
                writer: Mutex::new(writer),
                readers: Mutex::new(vec![reader]),
                access,
            }),
        })
    }

    /// Whether the index can only be searched (its file cannot be written).
    pub fn is_read_only(&self) -> bool {
        self.inner.access == schema::Access::ReadOnly
    }

    /// The folder the notes are read from.
    pub fn notes_dir(&self) -> &Path {
        &self.inner.notes_dir
    }

    /// Brings the index up to date incrementally: only files whose (mtime, size) changed
    /// are read, and of those only ones whose content hash changed are re-parsed and
    /// re-indexed; deleted files are removed. Files are `*.md` (any case) under the notes
    /// folder, recursively, skipping hidden directories and files.
    ///
    /// `progress(current, total, message)` is called at most every 50 files or 100 ms, and
    /// once at the end. `cancelled()` is polled before each file; on cancellation the work
    /// done so far is committed (it is consistent) and [`NotesError::Cancelled`] returned.
    /// A note that cannot be parsed (broken frontmatter, not UTF-8) is reported in
    /// [`IndexReport::skipped`] and any previously indexed version of it removed.
    pub fn reindex(
        &self,
        progress: &mut dyn FnMut(u64, u64, &str),
        cancelled: &dyn Fn() -> bool,
    ) -> Result<IndexReport, NotesError> {
        self.refresh(progress, cancelled)
            .map_err(|e| schema::name_file(&self.inner.db_path, e))
    }

    fn refresh(
        &self,
        progress: &mut dyn FnMut(u64, u64, &str),
        cancelled: &dyn Fn() -> bool,
    ) -> Result<IndexReport, NotesError> {
        if self.inner.access == schema::Access::ReadOnly {
            return Err(NotesError::ReadOnly {
                path: self.inner.db_path.clone(),
            });
        }
        let conn = lock(&self.inner.writer);
        let found = scan(&self.inner.notes_dir)?;
        let mut known = load_known(&conn)?;
        let total = found.files.len() as u64;
        let mut report = IndexReport {
            scanned: total,
            skipped: found
                .problems
                .into_iter()
                .map(|(path, error)| SkippedNote { path, error })
                .collect(),
            links_outside: found.outside,
            ..IndexReport::default()
        };
        let mut batch = Batch::new(&conn);
        let mut throttle = Throttle::default();
        for (current, file) in (0u64..).zip(&found.files) {
            if cancelled() {
                batch.commit()?;
                return Err(NotesError::Cancelled);
            }
            throttle.report(progress, current, total, || {
                format!("Indexing {}", file.path)
            });
            let previous = known.remove(&file.path);
            if let Some(known) = &previous
                && known.mtime_ns == file.mtime_ns
                && known.size == file.size
            {
                report.unchanged += 1;
                continue;
            }
            match examine(file, previous.as_ref()) {
                Action::Touch(id) => {
                    batch.touch(id, file)?;
                    report.unchanged += 1;
                }
                Action::Index(note, hash) => {
                    batch.upsert(file, &note, &hash)?;
                    if previous.is_some() {
                        report.updated += 1;
                    } else {
                        report.added += 1;
                    }
                }
                Action::Skip(error) => {
                    if let Some(known) = &previous {
                        batch.delete(known.id)?;
                        report.removed += 1;
                    }
                    report.skipped.push(SkippedNote {
                        path: file.path.clone(),
                        error,
                    });
                }
                Action::Vanished => {
                    if let Some(known) = &previous {
                        batch.delete(known.id)?;
                        report.removed += 1;
                    }
                }
            }
        }
        // What is left was not found on disk.
        for gone in known.values() {
            batch.delete(gone.id)?;
            report.removed += 1;
        }
        batch.commit()?;
        progress(total, total, &format!("Indexed {total} notes"));
        Ok(report)
    }

    /// Full-text search over titles, tags and bodies, best first (bm25; a title match
    /// weighs ten body matches, a tag five), at most `limit` hits. Any text is a valid
    /// query: its words are matched as prefixes, all of them if any note has all, else any.
    /// `snippet` is a passage with the matched words in `[` `]` (or the note's opening when
    /// its matches lie beyond the search's text budget); `score` is higher for better
    /// matches. Stops with [`NotesError::SearchTooLong`] after [`SEARCH_BUDGET`].
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<NoteHit>, NotesError> {
        self.search_within(query, limit, SEARCH_BUDGET)
    }

    fn search_within(
        &self,
        query: &str,
        limit: usize,
        budget: Duration,
    ) -> Result<Vec<NoteHit>, NotesError> {
        let words = query_words(query);
        if words.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_reader(|conn| {
            let started = Instant::now();
            conn.progress_handler(1000, Some(move || started.elapsed() > budget));
            let found = (|| {
                let hits = run_search(conn, &fts_query(&words, " AND "), limit)?;
                if hits.is_empty() && words.len() > 1 {
                    return run_search(conn, &fts_query(&words, " OR "), limit);
                }
                Ok(hits)
            })();
            conn.progress_handler(0, None::<fn() -> bool>);
            let found = found.map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, _)
                    if f.code == rusqlite::ErrorCode::OperationInterrupted =>
                {
                    NotesError::SearchTooLong {
                        query: words.join(" "),
                        budget,
                    }
                }
                other => other.into(),
            })?;
            let terms = Terms::new(&words);
            let mut budget = SNIPPET_BUDGET;
            found
                .into_iter()
                .map(|found| {
                    let snippet = note_snippet(conn, &found, &terms, &mut budget)?;
                    Ok(found.hit(snippet))
                })
                .collect()
        })
    }

    /// Notes with this tag (case-insensitive, a leading `#` ignored), newest `date` first
    /// (undated last), then by path; at most `limit`. `snippet` is the summary, `score` 0.
    pub fn tagged(&self, tag: &str, limit: usize) -> Result<Vec<NoteHit>, NotesError> {
        let tag = tag_key(tag);
        if tag.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_reader(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT n.path, n.title, n.tags, n.summary, n.hash
                 FROM note_tags t JOIN notes n ON n.id = t.note_id
                 WHERE t.tag = ?1
                 ORDER BY n.date IS NULL, n.date DESC, n.path
                 LIMIT ?2 + 0",
            )?;
            let hits = statement
                .query_map(params![tag, limit], |row| {
                    let summary: String = row.get(3)?;
                    Ok(NoteHit {
                        path: row.get(0)?,
                        title: row.get(1)?,
                        tags: json_column(row, 2)?,
                        snippet: summary.clone(),
                        summary,
                        score: 0.0,
                        hash: hex(&row.get::<_, Vec<u8>>(4)?),
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(hits)
        })
    }

    /// The indexed note at `path` (relative to the notes folder, `/`-separated).
    pub fn get(&self, path: &str) -> Result<Option<Note>, NotesError> {
        self.with_reader(|conn| {
            let tx = conn.unchecked_transaction()?;
            let note = tx
                .prepare_cached(
                    "SELECT id, path, title, tags, date, summary, frontmatter
                     FROM notes WHERE path = ?1",
                )?
                .query_row([path], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        Note {
                            path: row.get(1)?,
                            title: row.get(2)?,
                            tags: json_column(row, 3)?,
                            date: row.get(4)?,
                            summary: row.get(5)?,
                            body: String::new(),
                            frontmatter: json_column(row, 6)?,
                        },
                    ))
                })
                .optional()?;
            let Some((id, mut note)) = note else {
                return Ok(None);
            };
            let mut chunks =
                tx.prepare_cached("SELECT text FROM note_chunks WHERE note_id = ?1 ORDER BY seq")?;
            let mut rows = chunks.query([id])?;
            while let Some(row) = rows.next()? {
                note.body.push_str(&row.get::<_, String>(0)?);
            }
            Ok(Some(note))
        })
    }

    /// Every note [`is_published`] accepts with `publish_tags`, with its whole text, by
    /// path. Only the public notes' bodies are read.
    pub fn published(&self, publish_tags: &[String]) -> Result<Vec<NoteText>, NotesError> {
        self.with_reader(|conn| {
            let tx = conn.unchecked_transaction()?;
            let mut public = Vec::new();
            {
                let mut statement = tx.prepare_cached(
                    "SELECT id, path, title, tags, date, summary, frontmatter, hash
                     FROM notes ORDER BY path",
                )?;
                let mut rows = statement.query([])?;
                while let Some(row) = rows.next()? {
                    let tags: Vec<String> = json_column(row, 3)?;
                    let frontmatter: serde_json::Value = json_column(row, 6)?;
                    if !is_published(&frontmatter, &tags, publish_tags) {
                        continue;
                    }
                    public.push((
                        row.get::<_, i64>(0)?,
                        NoteText {
                            path: row.get(1)?,
                            title: row.get(2)?,
                            tags,
                            date: row.get(4)?,
                            summary: row.get(5)?,
                            body: String::new(),
                            frontmatter,
                            hash: hex(&row.get::<_, Vec<u8>>(7)?),
                        },
                    ));
                }
            }
            let mut chunks =
                tx.prepare_cached("SELECT text FROM note_chunks WHERE note_id = ?1 ORDER BY seq")?;
            for (id, note) in &mut public {
                let mut rows = chunks.query([*id])?;
                while let Some(row) = rows.next()? {
                    note.body.push_str(&row.get::<_, String>(0)?);
                }
            }
            Ok(public.into_iter().map(|(_, note)| note).collect())
        })
    }

    /// How many notes are indexed.
    pub fn count(&self) -> Result<u64, NotesError> {
        self.with_reader(|conn| {
            let count: i64 = conn.query_row("SELECT count(*) FROM notes", [], |row| row.get(0))?;
            Ok(u64::try_from(count).unwrap_or(0))
        })
    }

    /// Runs `f` on an idle query connection (opening one when none is idle), so queries
    /// never wait for each other.
    fn with_reader<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, NotesError>,
    ) -> Result<T, NotesError> {
        let idle = lock(&self.inner.readers).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => schema::connect(&self.inner.db_path, self.inner.access)?,
        };
        let result = f(&conn).map_err(|e| schema::name_file(&self.inner.db_path, e));
        let mut idle = lock(&self.inner.readers);
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
        result
    }
}

/// A panic elsewhere while holding the lock leaves what it guards usable: an open
/// transaction was rolled back when its guard dropped.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn load_known(conn: &Connection) -> Result<HashMap<String, Known>, NotesError> {
    let mut statement = conn.prepare("SELECT path, id, mtime_ns, size, hash FROM notes")?;
    let known = statement
        .query_map([], |row| {
            Ok((
                row.get(0)?,
                Known {
                    id: row.get(1)?,
                    mtime_ns: row.get(2)?,
                    size: row.get(3)?,
                    hash: row.get(4)?,
                },
            ))
        })?
        .collect::<Result<HashMap<_, _>, _>>()?;
    Ok(known)
}

/// Reads, hashes and (if its content changed) parses one file.
fn examine(file: &FoundFile, previous: Option<&Known>) -> Action {
    let bytes = match std::fs::read(&file.full) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Action::Vanished,
        Err(e) => return Action::Skip(format!("cannot read the file: {e}")),
    };
    let hash = blake3::hash(&bytes);
    if let Some(known) = previous
        && known.hash == hash.as_bytes()
    {
        return Action::Touch(known.id);
    }
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
            return Action::Skip(format!(
                "the file is not valid UTF-8 (line {line}); save it as UTF-8 to index it"
            ));
        }
    };
    match parse_note(&file.path, &text) {
        Ok(note) => Action::Index(Box::new(note), hash),
        Err(e) => Action::Skip(e.message),
    }
}

/// Writes of one refresh, grouped into transactions of up to [`BATCH_FILES`] files. The
/// transaction opens lazily, so a refresh that changes nothing writes nothing.
struct Batch<'c> {
    conn: &'c Connection,
    tx: Option<Transaction<'c>>,
    files: usize,
}

impl<'c> Batch<'c> {
    fn new(conn: &'c Connection) -> Self {
        Batch {
            conn,
            tx: None,
            files: 0,
        }
    }

    /// The open transaction, counting one more file in it; commits full batches first.
    fn tx(&mut self) -> Result<&Transaction<'c>, NotesError> {
        if self.files >= BATCH_FILES {
            self.commit()?;
        }
        self.files += 1;
        let conn = self.conn;
        match &mut self.tx {
            Some(tx) => Ok(tx),
            slot @ None => Ok(slot.insert(Transaction::new_unchecked(
                conn,
                TransactionBehavior::Immediate,
            )?)),
        }
    }

    fn commit(&mut self) -> Result<(), NotesError> {
        self.files = 0;
        if let Some(tx) = self.tx.take() {
            tx.commit()?;
        }
        Ok(())
    }

    fn touch(&mut self, id: i64, file: &FoundFile) -> Result<(), NotesError> {
        self.tx()?
            .prepare_cached("UPDATE notes SET mtime_ns = ?2, size = ?3 WHERE id = ?1")?
            .execute(params![id, file.mtime_ns, file.size])?;
        Ok(())
    }

    fn upsert(
        &mut self,
        file: &FoundFile,
        note: &Note,
        hash: &blake3::Hash,
    ) -> Result<(), NotesError> {
        let tx = self.tx()?;
        let tags = serde_json::to_string(&note.tags).map_err(json_error)?;
        let frontmatter = serde_json::to_string(&note.frontmatter).map_err(json_error)?;
        let tag_text = note.tags.join(" ");
        // Looked up inside the transaction rather than taken from the snapshot: another
        // process refreshing the same index may have added the path since.
        let existing: Option<i64> = tx
            .prepare_cached("SELECT id FROM notes WHERE path = ?1")?
            .query_row([&note.path], |row| row.get(0))
            .optional()?;
        let id = match existing {
            Some(id) => {
                unindex(tx, id)?;
                tx.prepare_cached(
                    "UPDATE notes SET mtime_ns = ?2, size = ?3, hash = ?4, title = ?5, tags = ?6,
                         tag_text = ?7, date = ?8, summary = ?9, frontmatter = ?10
                     WHERE id = ?1",
                )?
                .execute(params![
                    id,
                    file.mtime_ns,
                    file.size,
                    hash.as_bytes().as_slice(),
                    note.title,
                    tags,
                    tag_text,
                    note.date,
                    note.summary,
                    frontmatter,
                ])?;
                tx.prepare_cached("DELETE FROM note_tags WHERE note_id = ?1")?
                    .execute([id])?;
                id
            }
            None => {
                tx.prepare_cached(
                    "INSERT INTO notes (path, mtime_ns, size, hash, title, tags, tag_text, date,
                         summary, frontmatter)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )?
                .execute(params![
                    note.path,
                    file.mtime_ns,
                    file.size,
                    hash.as_bytes().as_slice(),
                    note.title,
                    tags,
                    tag_text,
                    note.date,
                    note.summary,
                    frontmatter,
                ])?;
                tx.last_insert_rowid()
            }
        };
        tx.prepare_cached(
            "INSERT INTO notes_fts (rowid, title, tag_text, body) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![id, note.title, tag_text, note.body])?;
        let mut insert_chunk =
            tx.prepare_cached("INSERT INTO note_chunks (note_id, seq, text) VALUES (?1, ?2, ?3)")?;
        for (seq, chunk) in snippet::chunks(&note.body, CHUNK_BYTES)
            .into_iter()
            .enumerate()
        {
            insert_chunk.execute(params![id, seq as i64, chunk])?;
        }
        let mut insert_tag =
            tx.prepare_cached("INSERT OR IGNORE INTO note_tags (tag, note_id) VALUES (?1, ?2)")?;
        for tag in &note.tags {
            insert_tag.execute(params![tag.to_lowercase(), id])?;
        }
        Ok(())
    }

    fn delete(&mut self, id: i64) -> Result<(), NotesError> {
        let tx = self.tx()?;
        // Another process may have removed it already.
        if unindex(tx, id)? {
            tx.prepare_cached("DELETE FROM notes WHERE id = ?1")?
                .execute([id])?;
            tx.prepare_cached("DELETE FROM note_tags WHERE note_id = ?1")?
                .execute([id])?;
        }
        Ok(())
    }
}

/// Removes a note's text: its chunks and its entry in the full-text index. Says whether
/// the note exists.
fn unindex(tx: &Transaction<'_>, id: i64) -> Result<bool, NotesError> {
    let exists = tx
        .prepare_cached("SELECT 1 FROM notes WHERE id = ?1")?
        .exists([id])?;
    if exists {
        tx.prepare_cached("DELETE FROM notes_fts WHERE rowid = ?1")?
            .execute([id])?;
        tx.prepare_cached("DELETE FROM note_chunks WHERE note_id = ?1")?
            .execute([id])?;
    }
    Ok(exists)
}

/// Serializing plain strings and JSON values cannot fail; should it, it surfaces as a
/// database conversion error rather than a panic.
fn json_error(e: serde_json::Error) -> NotesError {
    NotesError::Sqlite(rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

/// Reads a JSON text column.
fn json_column<T: DeserializeOwned>(row: &Row<'_>, index: usize) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(index, Type::Text, Box::new(e)))
}

/// Rate-limits progress reports.
#[derive(Default)]
struct Throttle {
    last: Option<(u64, Instant)>,
}

impl Throttle {
    fn report(
        &mut self,
        progress: &mut dyn FnMut(u64, u64, &str),
        current: u64,
        total: u64,
        message: impl FnOnce() -> String,
    ) {
        let due = self.last.is_none_or(|(count, at)| {
            current - count >= PROGRESS_FILES || at.elapsed() >= PROGRESS_INTERVAL
        });
        if due {
            progress(current, total, &message());
            self.last = Some((current, Instant::now()));
        }
    }
}

/// The query's words: runs of letters and digits, as the index's tokenizer sees them.
/// Everything else (quotes, `*`, `-`, parentheses) separates words, so no user text can
/// form FTS5 syntax.
fn query_words(query: &str) -> Vec<&str> {
    query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .take(MAX_QUERY_WORDS)
        .collect()
}

/// Each word as a quoted prefix term (`"rust"*`): a quoted string is never an operator
/// (`AND`, `NEAR`), and quotes inside are doubled should any remain.
fn fts_query(words: &[&str], operator: &str) -> String {
    words
        .iter()
        .map(|word| format!("\"{}\"*", word.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(operator)
}

/// The first 8 bytes of a content hash, in hex: enough to tell versions of a note apart.
fn hex(hash: &[u8]) -> String {
    hash.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// A note found by a search, before its snippet.
struct Found {
    id: i64,
    path: String,
    hash: String,
    title: String,
    tags: Vec<String>,
    tag_text: String,
    summary: String,
    score: f64,
}

impl Found {
    fn hit(self, snippet: String) -> NoteHit {
        NoteHit {
            path: self.path,
            title: self.title,
            tags: self.tags,
            summary: self.summary,
            snippet,
            score: self.score,
            hash: self.hash,
        }
    }
}

fn run_search(conn: &Connection, fts_query: &str, limit: i64) -> rusqlite::Result<Vec<Found>> {
    let mut statement = conn.prepare_cached(
        "SELECT n.id, n.path, n.title, n.tags, n.tag_text, n.summary, f.rank, n.hash
         FROM (
             SELECT rowid, rank FROM notes_fts WHERE notes_fts MATCH ?1
             ORDER BY rank LIMIT ?2 + 0
         ) f
         JOIN notes n ON n.id = f.rowid
         ORDER BY f.rank",
    )?;
    statement
        .query_map(params![fts_query, limit], |row| {
            let rank: f64 = row.get(6)?;
            Ok(Found {
                id: row.get(0)?,
                path: row.get(1)?,
                title: row.get(2)?,
                tags: json_column(row, 3)?,
                tag_text: row.get(4)?,
                summary: row.get(5)?,
                // bm25 is lower for better matches.
                score: -rank,
                hash: hex(&row.get::<_, Vec<u8>>(7)?),
            })
        })?
        .collect()
}

/// The snippet of one hit: the window with the most distinct query words among its body
/// (read chunk by chunk while `budget` lasts, stopping at a window with every word), its
/// title and its tags, the body preferred on a tie; the body's opening when no word was
/// found within the budget.
fn note_snippet(
    conn: &Connection,
    found: &Found,
    terms: &Terms,
    budget: &mut usize,
) -> Result<String, NotesError> {
    let mut best: Option<snippet::Window> = None;
    let mut opening = None;
    let mut statement = conn.prepare_cached(
        "SELECT seq, text, seq = (SELECT max(seq) FROM note_chunks WHERE note_id = ?1)
         FROM note_chunks WHERE note_id = ?1 ORDER BY seq",
    )?;
    let mut rows = statement.query([found.id])?;
    let mut first = true;
    while let Some(row) = rows.next()? {
        let text: String = row.get(1)?;
        // The first chunk is always read: it is the opening when nothing else is found.
        if !first && text.len() > *budget {
            break;
        }
        *budget = budget.saturating_sub(text.len());
        let more_before = row.get::<_, i64>(0)? > 0;
        let more_after = !row.get::<_, bool>(2)?;
        if first {
            opening = Some(snippet::opening(&text, more_after));
            first = false;
        }
        if let Some(window) = snippet::best_window(&text, terms, more_before, more_after)
            && best.as_ref().is_none_or(|b| window.distinct > b.distinct)
        {
            let complete = window.distinct == terms.len();
            best = Some(window);
            if complete {
                break;
            }
        }
    }
    for field in [&found.title, &found.tag_text] {
        if let Some(window) = snippet::best_window(field, terms, false, false)
            && best.as_ref().is_none_or(|b| window.distinct > b.distinct)
        {
            best = Some(window);
        }
    }
    Ok(best
        .map(|b| b.text)
        .or(opening)
        .unwrap_or_else(|| found.summary.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index_of(notes: usize) -> (tempfile::TempDir, NotesIndex) {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("notes");
        std::fs::create_dir(&folder).unwrap();
        for n in 0..notes {
            let text = format!("# Note {n}\n\nAbout rust and other things, number {n}.\n");
            std::fs::write(folder.join(format!("n{n}.md")), text).unwrap();
        }
        let index = NotesIndex::open(&dir.path().join("notes.db"), &folder).unwrap();
        index.reindex(&mut |_, _, _| {}, &|| false).unwrap();
        (dir, index)
    }

    #[test]
    fn a_search_does_not_wait_for_another_query() {
        let (_dir, index) = index_of(3);
        // While one query holds a connection, a search on another thread completes (with
        // one shared connection behind a lock it would wait until the first ended: here,
        // never). The bound is only an upper bound.
        let held = index.with_reader(|_held| {
            let (tx, rx) = std::sync::mpsc::channel();
            let other = index.clone();
            std::thread::spawn(move || tx.send(other.search("rust", 10)));
            Ok(rx.recv_timeout(Duration::from_secs(60)))
        });
        let hits = held.unwrap().expect("the second search finished").unwrap();
        assert_eq!(hits.len(), 3);
    }

    #[test]
    fn a_search_over_its_time_budget_stops_and_says_so() {
        let (_dir, index) = index_of(200);
        let error = index
            .search_within("rust things", 50, Duration::ZERO)
            .unwrap_err();
        assert!(
            matches!(&error, NotesError::SearchTooLong { query, .. } if query == "rust things"),
            "{error}"
        );
        assert!(
            error.to_string().contains("fewer or longer words"),
            "{error}"
        );
        // The connection is usable afterwards, without the budget.
        assert_eq!(index.search("rust", 50).unwrap().len(), 50);
    }

    #[test]
    fn queries_are_quoted_prefix_terms() {
        let cases = [
            ("rust async", "\"rust\"* AND \"async\"*"),
            (
                "\"NEAR(a b)\" -x*",
                "\"NEAR\"* AND \"a\"* AND \"b\"* AND \"x\"*",
            ),
            ("  ", ""),
            ("\"", ""),
            ("Ünïcødé 日本", "\"Ünïcødé\"* AND \"日本\"*"),
        ];
        for (query, expected) in cases {
            assert_eq!(fts_query(&query_words(query), " AND "), expected, "{query}");
        }
        assert_eq!(query_words(&"a ".repeat(100)).len(), MAX_QUERY_WORDS);
    }
}
