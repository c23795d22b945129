//! The SQLite file layer every brains database shares: which kind of brains file a
//! database is, refusing files that are not that kind, versioned migrations, and
//! connections with brains' pragmas.
//!
//! Each kind of file (the job queue's `brain.db`, the notes index's `notes.db`) carries its
//! own `PRAGMA application_id` and its schema version in `PRAGMA user_version`. Opening
//! checks both *before* writing anything: a file that is not SQLite, an SQLite file of
//! another application or of another kind of brains file, and a file from a newer brains
//! are refused untouched.
//!
//! Until 2026-12 every brains file carried one id, [`LEGACY_APPLICATION_ID`]; such a file is
//! taken as a kind's own when it has the kind's marker table, and relabelled with the
//! kind's id at its next migration.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

/// "BRNS": the id every brains file carried before each kind had its own.
pub const LEGACY_APPLICATION_ID: i32 = 0x4252_4E53;

/// How long one statement waits for another process's write lock.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a file was refused, or what failed while checking or migrating it.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{path} is not an SQLite file")]
    NotADatabase { path: PathBuf },
    #[error(
        "{path} is an SQLite database of another application (application_id {application_id:#x})"
    )]
    Foreign { path: PathBuf, application_id: i32 },
    #[error(
        "{path} was written by a newer brains (schema version {found}; this build supports up to {supported})"
    )]
    Newer {
        path: PathBuf,
        found: i32,
        supported: i32,
    },
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// One kind of brains database file.
#[derive(Debug)]
pub struct Kind {
    /// What `PRAGMA application_id` says in a file of this kind.
    pub application_id: i32,
    /// A table every versioned file of this kind has: what tells a legacy-labelled file of
    /// this kind from one of another kind.
    pub marker_table: &'static str,
    /// Migrations in order; a file's `user_version` is the number applied.
    pub migrations: &'static [&'static str],
}

impl Kind {
    /// The schema version this build writes.
    pub fn version(&self) -> i32 {
        i32::try_from(self.migrations.len()).unwrap_or(i32::MAX)
    }

    /// Checks that `path` is absent, empty, or a file of this kind this build can open,
    /// without modifying it (nor creating `-wal`/`-shm` files beside one that is refused
    /// by its header alone).
    pub fn check_file(&self, path: &Path) -> Result<(), FileError> {
        let io = |source| FileError::Io {
            path: path.to_owned(),
            source,
        };
        let not_a_database = || FileError::NotADatabase {
            path: path.to_owned(),
        };
        // A FIFO, device or folder under the file's name: opening one for reading would
        // block or fail obscurely, so only a regular file (or nothing) goes on.
        match std::fs::metadata(path) {
            Ok(meta) if !meta.is_file() => return Err(not_a_database()),
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
            _ => {}
        }
        let mut file = match std::fs::File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io(e)),
        };
        let mut header = [0u8; 100];
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
        if read < 16 || &header[..16] != b"SQLite format 3\0" {
            return Err(not_a_database());
        }
        // The header carries both numbers (offsets 68 and 60, big-endian): refuse what it
        // already shows is not ours before SQLite opens the file. It can lag a WAL another
        // process holds; the check below, and again under the write lock, reads the
        // current values.
        if read == header.len() {
            let at = |offset: usize| {
                i32::from_be_bytes([
                    header[offset],
                    header[offset + 1],
                    header[offset + 2],
                    header[offset + 3],
                ])
            };
            self.check_ids(path, at(68), at(60), None)?;
        }
        let conn = connect_read_only(path)?;
        self.check_identity(&conn, path)
    }

    /// Refuses a connected file of another kind or a newer schema.
    pub fn check_identity(&self, conn: &Connection, path: &Path) -> Result<(), FileError> {
        let (application_id, version) = ids(conn)?;
        let objects: i64 =
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
        let marked: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
            [self.marker_table],
            |r| r.get(0),
        )?;
        self.check_ids(path, application_id, version, Some((objects, marked)))
    }

    /// `contents` is (number of schema objects, whether the marker table exists), when
    /// known; without it only what is certainly foreign is refused.
    fn check_ids(
        &self,
        path: &Path,
        application_id: i32,
        version: i32,
        contents: Option<(i64, bool)>,
    ) -> Result<(), FileError> {
        let ours = match (application_id, contents) {
            (id, _) if id == self.application_id => true,
            // A brains file from before each kind had its id: ours if it has our table
            // (or is still empty), another kind's otherwise.
            (LEGACY_APPLICATION_ID, Some((objects, marked))) => {
                marked || (objects == 0 && version == 0)
            }
            (LEGACY_APPLICATION_ID, None) => true,
            (0, Some((objects, _))) => objects == 0 && version == 0,
            (0, None) => version == 0,
            _ => false,
        };
        if !ours {
            return Err(FileError::Foreign {
                path: path.to_owned(),
                application_id,
            });
        }
        if version > self.version() {
            return Err(FileError::Newer {
                path: path.to_owned(),
                found: version,
                supported: self.version(),
            });
        }
        Ok(())
    }

    /// Whether the connected file is of this kind and schema version (nothing to migrate).
    pub fn is_current(&self, conn: &Connection) -> Result<bool, FileError> {
        Ok(ids(conn)? == (self.application_id, self.version()))
    }

    /// Applies the migrations the file lacks and labels it with this kind's id, in one
    /// transaction under the write lock. Busy errors are the caller's to retry.
    pub fn migrate(&self, conn: &mut Connection, path: &Path) -> Result<(), FileError> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Checked again under the write lock: another process may have migrated meanwhile.
        self.check_identity(&tx, path)?;
        let (_, version) = ids(&tx)?;
        for (index, migration) in self
            .migrations
            .iter()
            .enumerate()
            .skip(usize::try_from(version).unwrap_or(0))
        {
            tx.execute_batch(migration)?;
            tx.pragma_update(None, "user_version", index + 1)?;
        }
        tx.pragma_update(None, "application_id", self.application_id)?;
        tx.commit()?;
        Ok(())
    }
}

/// (application_id, user_version) of a connected file.
fn ids(conn: &Connection) -> rusqlite::Result<(i32, i32)> {
    Ok((
        conn.pragma_query_value(None, "application_id", |r| r.get(0))?,
        conn.pragma_query_value(None, "user_version", |r| r.get(0))?,
    ))
}

/// SQLite's ways of saying a file cannot be written: read-only, or (a full disk) its WAL
/// index cannot be created.
pub fn cannot_write(error: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode;
    matches!(
        error.sqlite_error_code(),
        Some(
            ErrorCode::ReadOnly
                | ErrorCode::CannotOpen
                | ErrorCode::DiskFull
                | ErrorCode::SystemIoFailure
        )
    )
}

/// A read-only connection; immutable when even the WAL index cannot be created, which
/// means no process has the file open for writing (it would have created it).
pub fn connect_read_only(path: &Path) -> rusqlite::Result<Connection> {
    let readable = |conn: Connection| -> rusqlite::Result<Connection> {
        // Fails when the WAL index cannot be created beside the file.
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))?;
        Ok(conn)
    };
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = match Connection::open_with_flags(path, flags).and_then(readable) {
        Err(e) if cannot_write(&e) => {
            let uri = format!("file:{}?immutable=1", uri_path(path));
            Connection::open_with_flags(uri, flags | OpenFlags::SQLITE_OPEN_URI)
                .and_then(readable)?
        }
        other => other?,
    };
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

/// A read-write connection (the file is created if absent) in WAL mode with brains'
/// pragmas, caching up to `statements` prepared statements.
pub fn connect_read_write(path: &Path, statements: usize) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // WAL lets readers (status queries, searches, other processes) run beside the writer;
    // NORMAL sync is crash-safe in WAL mode and only risks the last commits on power loss.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "cache_size", -16_000)?;
    // A checkpoint folds the log back but leaves the file at its largest; whichever
    // connection next starts the log over cuts it to this size.
    conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
    conn.set_prepared_statement_cache_capacity(statements);
    Ok(conn)
}

/// The size the write-ahead log is cut back to once checkpointed (bytes): a burst of
/// writes grows it, and without a limit it would stay at its largest.
pub const WAL_SIZE_LIMIT: i64 = 4 << 20;

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

#[cfg(test)]
mod tests {
    use super::*;

    const THINGS: Kind = Kind {
        application_id: 0x0102_0304,
        marker_table: "things",
        migrations: &["CREATE TABLE things (x);", "ALTER TABLE things ADD y;"],
    };
    const OTHERS: Kind = Kind {
        application_id: 0x0102_0305,
        marker_table: "others",
        migrations: &["CREATE TABLE others (x);"],
    };

    fn opened(kind: &Kind, path: &Path) -> Result<Connection, FileError> {
        kind.check_file(path)?;
        let mut conn = connect_read_write(path, 8)?;
        if !kind.is_current(&conn)? {
            kind.migrate(&mut conn, path)?;
        }
        Ok(conn)
    }

    #[test]
    fn a_new_file_is_migrated_and_labelled() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        drop(opened(&THINGS, &path).unwrap());
        let conn = opened(&THINGS, &path).unwrap();
        assert_eq!(ids(&conn).unwrap(), (0x0102_0304, 2));
    }

    #[test]
    fn each_kind_refuses_the_others_file_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.db");
        drop(opened(&OTHERS, &path).unwrap());
        let before = std::fs::read(&path).unwrap();
        let err = opened(&THINGS, &path).unwrap_err();
        assert!(
            matches!(
                err,
                FileError::Foreign {
                    application_id: 0x0102_0305,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn a_legacy_file_is_ours_only_with_our_table_and_is_relabelled() {
        let dir = tempfile::tempdir().unwrap();
        let ours = dir.path().join("ours.db");
        Connection::open(&ours)
            .unwrap()
            .execute_batch(&format!(
                "CREATE TABLE things (x); INSERT INTO things VALUES (1);
                 PRAGMA user_version = 1; PRAGMA application_id = {LEGACY_APPLICATION_ID};"
            ))
            .unwrap();
        let conn = opened(&THINGS, &ours).unwrap();
        assert_eq!(ids(&conn).unwrap(), (THINGS.application_id, 2));
        let kept: i64 = conn
            .query_row("SELECT x FROM things", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kept, 1);

        let theirs = dir.path().join("theirs.db");
        Connection::open(&theirs)
            .unwrap()
            .execute_batch(&format!(
                "CREATE TABLE others (x); PRAGMA user_version = 1; \
                 PRAGMA application_id = {LEGACY_APPLICATION_ID};"
            ))
            .unwrap();
        let before = std::fs::read(&theirs).unwrap();
        let err = opened(&THINGS, &theirs).unwrap_err();
        assert!(matches!(err, FileError::Foreign { .. }), "{err}");
        assert_eq!(std::fs::read(&theirs).unwrap(), before);
    }

    #[test]
    fn text_and_newer_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "hello\n").unwrap();
        assert!(matches!(
            opened(&THINGS, &text).unwrap_err(),
            FileError::NotADatabase { .. }
        ));
        let newer = dir.path().join("newer.db");
        drop(opened(&THINGS, &newer).unwrap());
        Connection::open(&newer)
            .unwrap()
            .pragma_update(None, "user_version", 3)
            .unwrap();
        assert!(matches!(
            opened(&THINGS, &newer).unwrap_err(),
            FileError::Newer {
                found: 3,
                supported: 2,
                ..
            }
        ));
    }
}
