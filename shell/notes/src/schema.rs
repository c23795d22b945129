//! The index database file: refusing files that are not ours, versioned migrations, pragmas.
//!
//! Like every brains database, the index carries `PRAGMA application_id = APPLICATION_ID`
//! and its schema version in `PRAGMA user_version`. Opening checks both *before* writing
//! anything: a file that is not SQLite, an SQLite file of another application, and an index
//! from a newer brains are refused untouched. Because the job database has the same
//! application id, a versioned file without the `notes` table is refused too: it is some
//! other brains database, and migrating "from its version" would corrupt it.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::error::NotesError;

/// "BRNS": marks a file as a brains database.
pub(crate) const APPLICATION_ID: i32 = 0x4252_4E53;

/// Migrations in order; the database's `user_version` is the number applied.
const MIGRATIONS: &[&str] = &[
    // v1: notes, their tags, and the full-text index over them.
    r#"
-- `id` is the FTS rowid: an explicit INTEGER PRIMARY KEY keeps it stable (VACUUM may
-- renumber implicit rowids, which would silently detach the full-text index). `path` is
-- the natural key.
CREATE TABLE notes (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    -- What the no-change pass compares against a stat of the file.
    mtime_ns INTEGER NOT NULL,
    size INTEGER NOT NULL,
    -- BLAKE3 of the file's bytes: a touched but unchanged file is not re-parsed.
    hash BLOB NOT NULL,
    title TEXT NOT NULL,
    -- JSON array of the tags as written.
    tags TEXT NOT NULL,
    -- The tags joined by spaces: what the full-text index reads.
    tag_text TEXT NOT NULL,
    date TEXT,
    summary TEXT NOT NULL,
    body TEXT NOT NULL,
    -- JSON object: the whole frontmatter.
    frontmatter TEXT NOT NULL
);

-- Tags folded to lower case (in Rust, so non-ASCII tags fold too), for `tagged`.
CREATE TABLE note_tags (
    tag TEXT NOT NULL,
    note_id INTEGER NOT NULL,
    PRIMARY KEY (tag, note_id)
) WITHOUT ROWID;
CREATE INDEX note_tags_note ON note_tags (note_id);

-- External content: the text lives once, in `notes`. The index is kept in step by the
-- code that writes `notes`, in the same transaction, not by triggers: a trigger makes every
-- write to `notes` open a statement savepoint, and FTS5 flushes its pending terms to disk
-- at each savepoint, which made a cold index of 10,000 notes almost twice as slow.
CREATE VIRTUAL TABLE notes_fts USING fts5(
    title, tag_text, body,
    content = 'notes', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
-- `ORDER BY rank` ranks by bm25 with a title match worth ten body matches, a tag five.
INSERT INTO notes_fts (notes_fts, rank) VALUES ('rank', 'bm25(10.0, 5.0, 1.0)');
"#,
    // v2: bodies in chunks, and a contentless full-text index. FTS5's snippet() re-reads a
    // whole note and is quadratic in its size; snippets are now built from chunks (see
    // `snippet.rs`), so the index needs no copy of the text. The index is a cache of the
    // notes folder: it is emptied here and the next refresh reads every note again.
    r#"
DROP TABLE notes_fts;
DROP TABLE notes;
DELETE FROM note_tags;
CREATE TABLE notes (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    mtime_ns INTEGER NOT NULL,
    size INTEGER NOT NULL,
    hash BLOB NOT NULL,
    title TEXT NOT NULL,
    tags TEXT NOT NULL,
    tag_text TEXT NOT NULL,
    date TEXT,
    summary TEXT NOT NULL,
    frontmatter TEXT NOT NULL
);

-- A note's body in pieces of about 16 KB, cut after whitespace, in order.
CREATE TABLE note_chunks (
    note_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    text TEXT NOT NULL
);
CREATE UNIQUE INDEX note_chunks_key ON note_chunks (note_id, seq);

-- Contentless: the index alone (matching, bm25); rows are deleted by rowid.
CREATE VIRTUAL TABLE notes_fts USING fts5(
    title, tag_text, body,
    content = '', contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO notes_fts (notes_fts, rank) VALUES ('rank', 'bm25(10.0, 5.0, 1.0)');
"#,
];

/// The schema version this build writes.
pub(crate) const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// How long one statement waits for another process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Checks that `path` is absent, empty, or a notes index this build can open, without
/// modifying it.
fn check_file(path: &Path) -> Result<(), NotesError> {
    let io = |source| NotesError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(e)),
    };
    let mut header = [0u8; 16];
    let mut read = 0;
    while read < header.len() {
        match file.read(&mut header[read..]).map_err(io)? {
            0 => break,
            n => read += n,
        }
    }
    if read == 0 {
        return Ok(());
    }
    if read < header.len() || &header != b"SQLite format 3\0" {
        return Err(NotesError::NotADatabase {
            path: path.to_owned(),
        });
    }
    // The header carries both numbers: refuse what it already shows is not ours before
    // SQLite opens the file, which in WAL mode would create `-wal` and `-shm` files beside
    // it. (The header can lag a WAL that another process still holds; the checks below,
    // and again under the write lock, read the current values.)
    if let Some((application_id, version)) = header_ids(&mut file) {
        check_ids(path, application_id, version, None)?;
    }
    let conn = connect(path, Access::ReadOnly)?;
    check_identity(&conn, path)
}

fn check_identity(conn: &Connection, path: &Path) -> Result<(), NotesError> {
    let application_id: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
    let version: i32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let objects: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
    let has_notes: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'notes')",
        [],
        |r| r.get(0),
    )?;
    check_ids(path, application_id, version, Some((objects, has_notes)))
}

/// Refuses other applications' files and newer schemas. `contents` is (number of schema
/// objects, whether the `notes` table exists), when known.
fn check_ids(
    path: &Path,
    application_id: i32,
    version: i32,
    contents: Option<(i64, bool)>,
) -> Result<(), NotesError> {
    let foreign = match contents {
        // Ours, but maybe the job database: versioned without our table.
        Some((_, has_notes)) if application_id == APPLICATION_ID => version > 0 && !has_notes,
        Some((objects, _)) => objects > 0 || version != 0 || application_id != 0,
        None => application_id != APPLICATION_ID && (application_id != 0 || version != 0),
    };
    if foreign {
        return Err(NotesError::ForeignDatabase {
            path: path.to_owned(),
            application_id,
        });
    }
    if version > SCHEMA_VERSION {
        return Err(NotesError::NewerSchema {
            path: path.to_owned(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// (application_id, user_version) from the database header (offsets 68 and 60, big-endian),
/// or `None` if the header is short.
fn header_ids(file: &mut std::fs::File) -> Option<(i32, i32)> {
    use std::io::{Seek, SeekFrom};
    let mut header = [0u8; 100];
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_exact(&mut header).ok()?;
    let at = |offset: usize| {
        let bytes: [u8; 4] = header[offset..offset + 4].try_into().ok()?;
        Some(i32::from_be_bytes(bytes))
    };
    Some((at(68)?, at(60)?))
}

/// How the index was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    ReadWrite,
    /// The file or its folder cannot be written (a read-only mount, a backup): it is
    /// searched as it is and never refreshed.
    ReadOnly,
}

/// Opens a connection with the index's pragmas: read-write, or read-only (immutable when
/// its `-wal` and `-shm` files cannot be created) when `access` says so.
pub(crate) fn connect(path: &Path, access: Access) -> Result<Connection, NotesError> {
    if access == Access::ReadOnly {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .and_then(|conn| {
            // Fails when the WAL index cannot be created beside the file.
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))?;
            Ok(conn)
        })
        .or_else(|e| {
            if !cannot_write(&e) {
                return Err(e);
            }
            // The WAL index cannot be created (a read-only folder, a full disk), so no
            // process has the file open for writing: reading it as immutable is safe.
            let uri = format!("file:{}?immutable=1", uri_path(path));
            Connection::open_with_flags(
                uri,
                OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_URI
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
        })
        .map_err(|source| open_error(path, source))?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        return Ok(conn);
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|source| open_error(path, source))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // WAL lets searches run beside a reindex; NORMAL sync is crash-safe in WAL mode and
    // only risks the last commits on power loss (the next reindex redoes them).
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(|source| open_error(path, source))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "cache_size", -16_000)?;
    // The log is cut back to 4 MB when it starts over, not left at its largest.
    conn.pragma_update(None, "journal_size_limit", 4 << 20)?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

/// A path as a URI path: `%`, `?` and `#` escaped.
fn uri_path(path: &Path) -> String {
    let mut out = String::new();
    for c in path.to_string_lossy().chars() {
        match c {
            '%' | '?' | '#' => out.push_str(&format!("%{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// An error opening or reading the file itself, naming it.
pub(crate) fn open_error(path: &Path, source: rusqlite::Error) -> NotesError {
    NotesError::File {
        path: path.to_owned(),
        cause: source,
    }
}

/// An SQLite error about the file itself (damaged, read-only, disk full, I/O) as an error
/// naming the file; any other error as it is.
pub(crate) fn name_file(path: &Path, error: NotesError) -> NotesError {
    use rusqlite::ErrorCode;
    match error {
        NotesError::Sqlite(cause)
            if matches!(
                cause.sqlite_error_code(),
                Some(
                    ErrorCode::DatabaseCorrupt
                        | ErrorCode::NotADatabase
                        | ErrorCode::ReadOnly
                        | ErrorCode::CannotOpen
                        | ErrorCode::PermissionDenied
                        | ErrorCode::DiskFull
                        | ErrorCode::SystemIoFailure
                )
            ) =>
        {
            open_error(path, cause)
        }
        other => other,
    }
}

/// Whether an open failed because the file cannot be written (read-only, or a full disk).
fn read_only(error: &NotesError) -> bool {
    match error {
        NotesError::File { cause, .. } | NotesError::Sqlite(cause) => cannot_write(cause),
        NotesError::Io { source, .. } => matches!(
            source.kind(),
            std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
        ),
        _ => false,
    }
}

/// SQLite's ways of saying a file cannot be written: read-only, or (a full disk) its WAL
/// index cannot be created.
fn cannot_write(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(
            rusqlite::ErrorCode::ReadOnly
                | rusqlite::ErrorCode::CannotOpen
                | rusqlite::ErrorCode::DiskFull
                | rusqlite::ErrorCode::SystemIoFailure
        )
    )
}

/// Checks the file, applies pending migrations in one transaction, and returns the
/// (writer, reader) connections and how they were opened. A current index is not written
/// at all (a full disk or a read-only copy still opens); one that cannot be written is
/// opened read-only.
pub(crate) fn open(path: &Path) -> Result<(Connection, Connection, Access), NotesError> {
    open_unnamed(path).map_err(|e| name_file(path, e))
}

fn open_unnamed(path: &Path) -> Result<(Connection, Connection, Access), NotesError> {
    check_file(path)?;
    let opened = connect(path, Access::ReadWrite).and_then(|conn| {
        // SQLite opens a file it cannot write read-only without a word.
        if conn.is_readonly(rusqlite::MAIN_DB)? {
            return Err(open_error(
                path,
                rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_READONLY),
                    None,
                ),
            ));
        }
        let current = is_current(&conn)?;
        Ok((conn, current))
    });
    let writer = match opened {
        Ok((conn, true)) => conn,
        Ok((mut conn, false)) => {
            migrate(&mut conn, path)?;
            conn
        }
        Err(e) if read_only(&e) && path.exists() => {
            let conn = connect(path, Access::ReadOnly)?;
            if !is_current(&conn)? {
                return Err(NotesError::ReadOnlyUpgrade {
                    path: path.to_owned(),
                });
            }
            let reader = connect(path, Access::ReadOnly)?;
            return Ok((conn, reader, Access::ReadOnly));
        }
        Err(e) => return Err(e),
    };
    let reader = connect(path, Access::ReadWrite)?;
    Ok((writer, reader, Access::ReadWrite))
}

/// Whether the file is a notes index of this build's schema (nothing to migrate).
fn is_current(conn: &Connection) -> Result<bool, NotesError> {
    let application_id: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
    let version: i32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    Ok(application_id == APPLICATION_ID && version == SCHEMA_VERSION)
}

/// Applies the migrations the file lacks, in one transaction under the write lock.
fn migrate(conn: &mut Connection, path: &Path) -> Result<(), NotesError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Checked again under the write lock: another process may have migrated meanwhile.
    check_identity(&tx, path)?;
    let version: i32 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (index, migration) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(version).unwrap_or(0))
    {
        tx.execute_batch(migration)?;
        tx.pragma_update(None, "user_version", index + 1)?;
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.commit()?;
    Ok(())
}
