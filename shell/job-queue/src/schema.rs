//! The database file: refusing files that are not ours, versioned migrations, pragmas.
//!
//! A brains database carries `PRAGMA application_id = APPLICATION_ID` and its schema
//! version in `PRAGMA user_version`. Opening checks both *before* writing anything: a file
//! that is not SQLite, an SQLite file of another application, or a database from a newer
//! brains is refused untouched.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::error::{QueueError, Result};

/// "BRNS": marks a file as a brains database.
pub(crate) const APPLICATION_ID: i32 = 0x4252_4E53;

/// Migrations in order; the database's `user_version` is the number applied.
const MIGRATIONS: &[&str] = &[
    // v1: jobs, batches (with counters kept by triggers), workers, estimates.
    r#"
CREATE TABLE jobs (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    job_type TEXT NOT NULL,
    input TEXT NOT NULL,
    result TEXT,
    source TEXT NOT NULL,
    metadata TEXT,
    status TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    attempt INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    scheduled_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    lease_token INTEGER,
    lease_expires_at INTEGER,
    worker_id TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    progress_current INTEGER NOT NULL DEFAULT 0,
    progress_total INTEGER NOT NULL DEFAULT 0,
    progress_message TEXT,
    batch_id TEXT,
    label TEXT
);
-- Claiming walks this in order; only pending rows are in it, so it stays small.
CREATE INDEX jobs_claim ON jobs (priority DESC, scheduled_at, seq) WHERE status = 'pending';
-- Lease sweeps and heartbeats.
CREATE INDEX jobs_running ON jobs (lease_expires_at) WHERE status = 'processing';
-- Batch status, failed items, cancel-by-batch.
CREATE INDEX jobs_batch ON jobs (batch_id, status) WHERE batch_id IS NOT NULL;
-- Recently finished listings and pruning.
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
-- Active listings.
CREATE INDEX jobs_active ON jobs (created_at) WHERE status IN ('pending', 'processing');

CREATE TABLE batches (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    label TEXT,
    metadata TEXT,
    -- The type of its jobs when they share one: what estimates are drawn from.
    job_type TEXT,
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    total INTEGER NOT NULL DEFAULT 0,
    pending INTEGER NOT NULL DEFAULT 0,
    processing INTEGER NOT NULL DEFAULT 0,
    completed INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    cancelled INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX batches_finished ON batches (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX batches_active ON batches (created_at) WHERE finished_at IS NULL;

-- A batch's counters change in the same transaction as its jobs' status, so its derived
-- status can never disagree with its jobs.
CREATE TRIGGER jobs_batch_insert AFTER INSERT ON jobs WHEN NEW.batch_id IS NOT NULL
BEGIN
    UPDATE batches SET
        total = total + 1,
        pending = pending + (NEW.status = 'pending'),
        processing = processing + (NEW.status = 'processing'),
        completed = completed + (NEW.status = 'completed'),
        failed = failed + (NEW.status = 'failed'),
        cancelled = cancelled + (NEW.status = 'cancelled')
    WHERE id = NEW.batch_id;
END;
CREATE TRIGGER jobs_batch_status AFTER UPDATE OF status ON jobs
WHEN NEW.batch_id IS NOT NULL AND NEW.status <> OLD.status
BEGIN
    UPDATE batches SET
        pending = pending + (NEW.status = 'pending') - (OLD.status = 'pending'),
        processing = processing + (NEW.status = 'processing') - (OLD.status = 'processing'),
        completed = completed + (NEW.status = 'completed') - (OLD.status = 'completed'),
        failed = failed + (NEW.status = 'failed') - (OLD.status = 'failed'),
        cancelled = cancelled + (NEW.status = 'cancelled') - (OLD.status = 'cancelled'),
        started_at = COALESCE(started_at, NEW.started_at),
        -- Right-hand sides see the row before this update: old counters plus this change.
        finished_at = CASE
            WHEN pending + (NEW.status = 'pending') - (OLD.status = 'pending')
               + processing + (NEW.status = 'processing') - (OLD.status = 'processing') = 0
            THEN COALESCE(finished_at, NEW.finished_at, CAST(unixepoch('subsec') * 1000 AS INTEGER))
            ELSE NULL
        END
    WHERE id = NEW.batch_id;
END;

CREATE TABLE workers (
    id TEXT PRIMARY KEY,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    lease_ms INTEGER NOT NULL,
    concurrency INTEGER NOT NULL,
    job_types TEXT NOT NULL,
    wake_port INTEGER
) WITHOUT ROWID;

CREATE TABLE estimates (
    job_type TEXT PRIMARY KEY,
    mean_ms REAL NOT NULL,
    var_ms2 REAL NOT NULL,
    samples INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
"#,
    // v2: dependencies between operations, and worker pools that run only some operations.
    r#"
-- How many of the job's dependencies have not ended yet; it is claimable only at 0.
ALTER TABLE jobs ADD COLUMN waiting_on INTEGER NOT NULL DEFAULT 0;
-- 1: run even if a dependency failed or was cancelled (default: end cancelled, not run).
ALTER TABLE jobs ADD COLUMN run_after_failure INTEGER NOT NULL DEFAULT 0;
DROP INDEX jobs_claim;
CREATE INDEX jobs_claim ON jobs (priority DESC, scheduled_at, seq) WHERE status = 'pending' AND waiting_on = 0;

-- job_seq waits for after_id (a batch, or a job outside batches) to end; `resolved` once
-- that end has been counted for it. Kept afterwards, so a status can say what a job waited
-- for; deleted with the job.
CREATE TABLE job_deps (
    after_id TEXT NOT NULL,
    job_seq INTEGER NOT NULL,
    resolved INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (after_id, job_seq)
) WITHOUT ROWID;
CREATE INDEX job_deps_job ON job_deps (job_seq);
-- The writer asks once per transaction whether anything still waits: almost never, so
-- the work that ends pays nothing for dependencies.
CREATE INDEX job_deps_open ON job_deps (after_id) WHERE resolved = 0;
CREATE TRIGGER jobs_deps_delete AFTER DELETE ON jobs
BEGIN
    DELETE FROM job_deps WHERE job_seq = OLD.seq;
END;

-- Comma-separated job and batch ids a pool is limited to (a one-shot command runs only its
-- own operation and what it depends on); NULL: it runs any work of its types.
ALTER TABLE workers ADD COLUMN scope TEXT;
"#,
    // v3: the outbox of durable side effects, stored with the completion that owns them.
    r#"
-- Effects a run staged, inserted in the transaction that completes it (so only the run
-- holding the lease has any) and deleted once applied; rows left by a process that stopped
-- in between are applied at the next pool start. `kind`: write, remove, replace-dir
-- (`path` is then the folder moved in, `target` where it goes).
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    job_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    path TEXT NOT NULL,
    target TEXT,
    bytes BLOB
);
CREATE INDEX outbox_job ON outbox (job_id);
"#,
    // v4: unique operations.
    r#"
-- At most one pending or running job per (job type, key): a second enqueue shares it.
ALTER TABLE jobs ADD COLUMN unique_key TEXT;
CREATE UNIQUE INDEX jobs_unique ON jobs (job_type, unique_key)
    WHERE unique_key IS NOT NULL AND status IN ('pending', 'processing');
"#,
    // v5: how the plugin words an operation's end ("Generated 5 sections"), as JSON, so
    // every process says it the same way.
    r#"
ALTER TABLE jobs ADD COLUMN wording TEXT;
ALTER TABLE batches ADD COLUMN wording TEXT;
"#,
    // v6: each job's log (`brain jobs logs`): what it reported and how its attempts ended,
    // bounded per job (see `store::LOG_ROWS_PER_JOB`) and deleted with the job.
    r#"
CREATE TABLE job_log (
    id INTEGER PRIMARY KEY,
    job_seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    -- progress, error, lost, retried
    kind TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX job_log_job ON job_log (job_seq, id);
CREATE TRIGGER job_log_delete AFTER DELETE ON jobs
BEGIN
    DELETE FROM job_log WHERE job_seq = OLD.seq;
END;
"#,
];

/// The schema version this build writes.
pub(crate) const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// How long one statement waits for another process's write lock before retrying.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Checks that `path` is absent, empty, or a brains database this build can open,
/// without modifying it.
pub(crate) fn check_file(path: &Path) -> Result<()> {
    let io = |source| QueueError::Io {
        path: path.to_owned(),
        source,
    };
    // A FIFO, device or folder under the database's name: opening one for reading would
    // block or fail obscurely, so only a regular file (or nothing) goes on.
    match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() => {
            return Err(QueueError::NotADatabase {
                path: path.to_owned(),
            });
        }
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
        _ => {}
    }
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
    if read < 16 || &header != b"SQLite format 3\0" {
        return Err(QueueError::NotADatabase {
            path: path.to_owned(),
        });
    }
    let conn = connect_read_only(path)?;
    check_identity(&conn, path)
}

fn check_identity(conn: &Connection, path: &Path) -> Result<()> {
    let application_id: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
    let version: i32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let objects: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
    if application_id != APPLICATION_ID && (objects > 0 || version != 0 || application_id != 0) {
        return Err(QueueError::ForeignDatabase {
            path: path.to_owned(),
            application_id,
        });
    }
    if version > SCHEMA_VERSION {
        return Err(QueueError::NewerSchema {
            path: path.to_owned(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// The size the write-ahead log is cut back to once checkpointed (bytes): a burst of
/// writes grows it, and without a limit it would stay at its largest while brains runs.
pub const WAL_SIZE_LIMIT: i64 = 4 << 20;

/// Opens a read-write connection with the queue's pragmas — or, for an existing file that
/// cannot be opened for writing (a read-only folder; a full disk where the WAL index cannot
/// be created), a read-only one: the brain can still be read, and writes say why not.
pub(crate) fn connect(path: &Path) -> Result<Connection> {
    match connect_read_write(path) {
        Err(QueueError::Sqlite(e)) if cannot_write(&e) && path.exists() => {
            tracing::debug!(error = %e, "opening {} read-only", path.display());
            connect_read_only(path).map_err(|_| QueueError::Sqlite(e))
        }
        other => other,
    }
}

fn cannot_write(error: &rusqlite::Error) -> bool {
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

/// Read-only; immutable when even the WAL index cannot be created, which means no process
/// has the database open (it would have created it).
fn connect_read_only(path: &Path) -> Result<Connection> {
    let readable = |conn: Connection| -> rusqlite::Result<Connection> {
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))?;
        Ok(conn)
    };
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = match Connection::open_with_flags(path, flags).and_then(readable) {
        Err(e) if cannot_write(&e) => {
            let uri = format!(
                "file:{}?immutable=1",
                path.to_string_lossy()
                    .replace('%', "%25")
                    .replace('?', "%3F")
                    .replace('#', "%23")
            );
            Connection::open_with_flags(uri, flags | OpenFlags::SQLITE_OPEN_URI)
                .and_then(readable)?
        }
        other => other?,
    };
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

fn connect_read_write(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // WAL lets readers (status queries, other processes) run beside the writer; NORMAL
    // sync is crash-safe in WAL mode and only risks the last commits on power loss.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "cache_size", -16_000)?;
    // A checkpoint folds the log back but leaves the file at its largest; whichever
    // connection next starts the log over cuts it to this size.
    conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
    conn.set_prepared_statement_cache_capacity(64);
    #[cfg(test)]
    conn.trace_v2(
        rusqlite::trace::TraceEventCodes::SQLITE_TRACE_STMT,
        Some(crate::query_plans::record),
    );
    Ok(conn)
}

/// How long opening waits for another process's write lock before giving up, as the
/// writer does for every other write.
const OPEN_PATIENCE: Duration = Duration::from_secs(120);

/// Checks the file, then applies pending migrations in one transaction. A database that is
/// up to date is not written at all (a read-only brain can still be read); when it needs a
/// migration and another process holds the write lock, it waits, as every write does.
pub(crate) fn open_and_migrate(path: &Path) -> Result<Connection> {
    check_file(path)?;
    let deadline = std::time::Instant::now() + OPEN_PATIENCE;
    let mut delay = Duration::from_millis(5);
    loop {
        match open_once(path) {
            Err(QueueError::Sqlite(e))
                if crate::store::is_busy(&e) && std::time::Instant::now() < deadline =>
            {
                tracing::debug!("database busy; opening again in {delay:?}");
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(250));
            }
            other => return other,
        }
    }
}

/// One try of [`open_and_migrate`]: busy errors are the caller's to retry.
fn open_once(path: &Path) -> Result<Connection> {
    let mut conn = connect(path)?;
    // This becomes the writer's connection: checkpoints run on a thread of their own.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    let application_id: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
    let version: i32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if application_id != APPLICATION_ID || version != SCHEMA_VERSION {
        migrate(&mut conn, path)?;
    }
    Ok(conn)
}

/// Applies the migrations this file lacks, in one transaction under the write lock.
fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Checked again under the write lock: another process may have migrated meanwhile.
    check_identity(&tx, path)?;
    let version: i32 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        tx.execute_batch(migration)?;
        tx.pragma_update(None, "user_version", index as i32 + 1)?;
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_a_new_file_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.db");
        drop(open_and_migrate(&path).unwrap());
        let conn = open_and_migrate(&path).unwrap();
        let v: i32 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
    }

    #[test]
    fn refuses_other_files_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "hello, these are my notes\n").unwrap();
        let err = open_and_migrate(&text).unwrap_err();
        assert!(matches!(err, QueueError::NotADatabase { .. }), "{err}");
        assert_eq!(
            std::fs::read_to_string(&text).unwrap(),
            "hello, these are my notes\n"
        );

        let other = dir.path().join("other.db");
        Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .unwrap();
        let before = std::fs::read(&other).unwrap();
        let err = open_and_migrate(&other).unwrap_err();
        assert!(matches!(err, QueueError::ForeignDatabase { .. }), "{err}");
        assert!(err.to_string().contains("other.db"), "{err}");
        assert_eq!(std::fs::read(&other).unwrap(), before);
    }

    #[test]
    fn refuses_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.db");
        let conn = open_and_migrate(&path).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(conn);
        let err = open_and_migrate(&path).unwrap_err();
        assert!(
            matches!(err, QueueError::NewerSchema { found, .. } if found == SCHEMA_VERSION + 1),
            "{err}"
        );
        assert!(err.to_string().contains("upgrade brains"), "{err}");
    }
}
