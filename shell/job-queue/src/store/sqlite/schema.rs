//! The database file: refusing files that are not ours, versioned migrations, pragmas.
//!
//! The checks themselves are `brain-sqlite-file`'s, shared with the notes index: the job
//! database carries its own `application_id` ([`KIND`]) and its schema version in
//! `user_version`, and a file that is not SQLite, another application's or another kind of
//! brains file, or a database from a newer brains is refused untouched.

use std::path::Path;
use std::time::Duration;

use brain_sqlite_file::Kind;
use rusqlite::Connection;

use crate::error::{QueueError, Result};

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
    // v7: the duration each job was expected to take when it was queued, to compare with
    // what it took (the dashboard's estimates page).
    r#"
ALTER TABLE jobs ADD COLUMN estimated_ms INTEGER;
"#,
];

/// The job database: its own application id ("BRNQ"), and `jobs` as the table that tells
/// a file labelled with the id all brains files once shared from a notes index.
pub(crate) const KIND: Kind = Kind {
    application_id: 0x4252_4E51,
    marker_table: "jobs",
    migrations: MIGRATIONS,
};

/// Opens a read-write connection with the queue's pragmas — or, for an existing file that
/// cannot be opened for writing (a read-only folder; a full disk where the WAL index cannot
/// be created), a read-only one: the brain can still be read, and writes say why not.
pub(crate) fn connect(path: &Path) -> Result<Connection> {
    match connect_read_write(path) {
        Err(e) if brain_sqlite_file::cannot_write(&e) && path.exists() => {
            tracing::debug!(error = %e, "opening {} read-only", path.display());
            brain_sqlite_file::connect_read_only(path).map_err(|_| QueueError::Sqlite(e))
        }
        other => Ok(other?),
    }
}

fn connect_read_write(path: &Path) -> rusqlite::Result<Connection> {
    let conn = brain_sqlite_file::connect_read_write(path, 64)?;
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
    KIND.check_file(path)?;
    let deadline = std::time::Instant::now() + OPEN_PATIENCE;
    let mut delay = Duration::from_millis(5);
    loop {
        match open_once(path) {
            Err(QueueError::Sqlite(e))
                if super::is_busy(&e) && std::time::Instant::now() < deadline =>
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
    if !KIND.is_current(&conn)? {
        KIND.migrate(&mut conn, path)?;
    }
    Ok(conn)
}
