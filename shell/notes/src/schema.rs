//! The index database file: refusing files that are not ours, versioned migrations, pragmas.
//!
//! The checks themselves are `brain-sqlite-file`'s, shared with the job database: the
//! index carries its own `application_id` ([`KIND`]) and its schema version in
//! `user_version`, and a file that is not SQLite, another application's or another kind of
//! brains file (the job database: migrating it "from its version" would corrupt it), or an
//! index from a newer brains is refused untouched.

use std::path::Path;

use brain_sqlite_file::{Kind, cannot_write};
use rusqlite::Connection;

use crate::error::NotesError;

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

/// The notes index: its own application id ("BRNI"), and `notes` as the table that tells
/// a file labelled with the id all brains files once shared from the job database.
pub(crate) const KIND: Kind = Kind {
    application_id: 0x4252_4E49,
    marker_table: "notes",
    migrations: MIGRATIONS,
};

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
    let conn = match access {
        Access::ReadOnly => brain_sqlite_file::connect_read_only(path),
        Access::ReadWrite => brain_sqlite_file::connect_read_write(path, 32),
    };
    conn.map_err(|source| open_error(path, source))
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

/// Checks the file, applies pending migrations in one transaction, and returns the
/// (writer, reader) connections and how they were opened. A current index is not written
/// at all (a full disk or a read-only copy still opens); one that cannot be written is
/// opened read-only.
pub(crate) fn open(path: &Path) -> Result<(Connection, Connection, Access), NotesError> {
    open_unnamed(path).map_err(|e| name_file(path, e))
}

fn open_unnamed(path: &Path) -> Result<(Connection, Connection, Access), NotesError> {
    KIND.check_file(path)?;
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
        let current = KIND.is_current(&conn)?;
        Ok((conn, current))
    });
    let writer = match opened {
        Ok((conn, true)) => conn,
        Ok((mut conn, false)) => {
            KIND.migrate(&mut conn, path)?;
            conn
        }
        Err(e) if read_only(&e) && path.exists() => {
            let conn = connect(path, Access::ReadOnly)?;
            if !KIND.is_current(&conn)? {
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
