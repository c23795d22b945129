//! The job database on PostgreSQL: its own schema (`brains`), versioned migrations, and
//! refusing a database this build must not touch.
//!
//! Everything lives in the `brains` schema, so the database may hold other applications'
//! tables. `brains.meta` names what the schema is (`kind = brains-job-queue`) and its
//! version. Opening checks both before writing: a `brains` schema without that mark (some
//! other application's) and a schema of a newer version are refused untouched. Migrations
//! run in one transaction under an advisory lock, so processes starting together migrate
//! once.

use tokio_postgres::Client;

use crate::error::{QueueError, Result};

/// What `brains.meta` says in a job database.
const KIND: &str = "brains-job-queue";

/// The advisory lock migrations hold ("BRNQ").
const MIGRATION_LOCK: i64 = 0x4252_4E51;

/// Migrations in order; `meta.version` is the number applied. The tables follow the SQLite
/// driver's (`sqlite/schema.rs`) but for two things: a batch's counters are rows per
/// connection (`batch_counts`), so no row is updated by every job's change in every process;
/// and rows that belong to a job go with it by foreign key.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE brains.jobs (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
    created_at BIGINT NOT NULL,
    scheduled_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    lease_token BIGINT,
    lease_expires_at BIGINT,
    worker_id TEXT,
    cancel_requested BOOLEAN NOT NULL DEFAULT false,
    progress_current BIGINT NOT NULL DEFAULT 0,
    progress_total BIGINT NOT NULL DEFAULT 0,
    progress_message TEXT,
    batch_id TEXT,
    label TEXT,
    -- How many of the job's dependencies have not ended; claimable only at 0.
    waiting_on INTEGER NOT NULL DEFAULT 0,
    run_after_failure BOOLEAN NOT NULL DEFAULT false,
    unique_key TEXT,
    wording TEXT
);
-- Claiming walks this in order; only claimable rows are in it.
CREATE INDEX jobs_claim ON brains.jobs (priority DESC, scheduled_at, seq)
    WHERE status = 'pending' AND waiting_on = 0;
CREATE INDEX jobs_running ON brains.jobs (lease_expires_at) WHERE status = 'processing';
CREATE INDEX jobs_batch ON brains.jobs (batch_id, status) WHERE batch_id IS NOT NULL;
CREATE INDEX jobs_finished ON brains.jobs (finished_at) WHERE finished_at IS NOT NULL;
-- Active listings. Not `WHERE status IN ('pending', 'processing')`: a claim's condition
-- implies that one, and with statistics from before a burst of enqueues the planner would
-- claim along it (sorting every pending job) instead of along `jobs_claim`. Only active
-- jobs have no `finished_at`.
CREATE INDEX jobs_active ON brains.jobs (created_at) WHERE finished_at IS NULL;
CREATE UNIQUE INDEX jobs_unique ON brains.jobs (job_type, unique_key)
    WHERE unique_key IS NOT NULL AND status IN ('pending', 'processing');

CREATE TABLE brains.batches (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    label TEXT,
    metadata TEXT,
    job_type TEXT,
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    wording TEXT
);
CREATE INDEX batches_finished ON brains.batches (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX batches_active ON brains.batches (created_at) WHERE finished_at IS NULL;

-- A batch's counters, one row per (batch, connection) that changed its jobs: summed when
-- read. Each connection updates only its own row, so workers on many hosts never queue
-- behind one counter row (the hot-row lesson); the batch row itself is locked once per
-- transaction, at its end, to settle `finished_at`.
CREATE TABLE brains.batch_counts (
    batch_id TEXT NOT NULL REFERENCES brains.batches (id) ON DELETE CASCADE,
    shard INTEGER NOT NULL,
    total BIGINT NOT NULL DEFAULT 0,
    pending BIGINT NOT NULL DEFAULT 0,
    processing BIGINT NOT NULL DEFAULT 0,
    completed BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0,
    cancelled BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (batch_id, shard)
);
CREATE FUNCTION brains.count_batch_job() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    total_delta BIGINT := CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE 0 END;
    old_status TEXT := CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.status END;
BEGIN
    INSERT INTO brains.batch_counts AS c
        (batch_id, shard, total, pending, processing, completed, failed, cancelled)
    VALUES (
        NEW.batch_id, pg_backend_pid(), total_delta,
        (NEW.status = 'pending')::int - (old_status IS NOT DISTINCT FROM 'pending')::int,
        (NEW.status = 'processing')::int - (old_status IS NOT DISTINCT FROM 'processing')::int,
        (NEW.status = 'completed')::int - (old_status IS NOT DISTINCT FROM 'completed')::int,
        (NEW.status = 'failed')::int - (old_status IS NOT DISTINCT FROM 'failed')::int,
        (NEW.status = 'cancelled')::int - (old_status IS NOT DISTINCT FROM 'cancelled')::int
    )
    ON CONFLICT (batch_id, shard) DO UPDATE SET
        total = c.total + EXCLUDED.total,
        pending = c.pending + EXCLUDED.pending,
        processing = c.processing + EXCLUDED.processing,
        completed = c.completed + EXCLUDED.completed,
        failed = c.failed + EXCLUDED.failed,
        cancelled = c.cancelled + EXCLUDED.cancelled;
    RETURN NULL;
END $$;
CREATE TRIGGER jobs_batch_insert AFTER INSERT ON brains.jobs
    FOR EACH ROW WHEN (NEW.batch_id IS NOT NULL) EXECUTE FUNCTION brains.count_batch_job();
CREATE TRIGGER jobs_batch_status AFTER UPDATE OF status ON brains.jobs
    FOR EACH ROW WHEN (NEW.batch_id IS NOT NULL AND NEW.status <> OLD.status)
    EXECUTE FUNCTION brains.count_batch_job();

CREATE TABLE brains.workers (
    id TEXT PRIMARY KEY,
    pid BIGINT NOT NULL,
    host TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    lease_ms BIGINT NOT NULL,
    concurrency BIGINT NOT NULL,
    job_types TEXT NOT NULL,
    wake_port INTEGER,
    scope TEXT
);

CREATE TABLE brains.estimates (
    job_type TEXT PRIMARY KEY,
    mean_ms DOUBLE PRECISION NOT NULL,
    var_ms2 DOUBLE PRECISION NOT NULL,
    samples BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE brains.job_deps (
    after_id TEXT NOT NULL,
    job_seq BIGINT NOT NULL REFERENCES brains.jobs (seq) ON DELETE CASCADE,
    resolved BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (after_id, job_seq)
);
CREATE INDEX job_deps_job ON brains.job_deps (job_seq);
CREATE INDEX job_deps_open ON brains.job_deps (after_id) WHERE NOT resolved;

CREATE TABLE brains.outbox (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    path TEXT NOT NULL,
    target TEXT,
    bytes BYTEA
);
CREATE INDEX outbox_job ON brains.outbox (job_id);

CREATE TABLE brains.job_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_seq BIGINT NOT NULL REFERENCES brains.jobs (seq) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    attempt INTEGER NOT NULL,
    kind TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX job_log_job ON brains.job_log (job_seq, id);
"#,
    // v2: the duration each job was expected to take when it was queued (as SQLite's v7).
    r#"
ALTER TABLE brains.jobs ADD COLUMN estimated_ms BIGINT;
"#,
];

/// The schema version this build writes.
pub(crate) fn version() -> i32 {
    i32::try_from(MIGRATIONS.len()).unwrap_or(i32::MAX)
}

/// Checks the database and applies the migrations it lacks. `location` names it in errors.
pub(crate) async fn migrate(client: &mut Client, location: &str) -> Result<()> {
    if current(client, location).await? == version() {
        return Ok(());
    }
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    // Checked again under the lock: another process may have migrated meanwhile.
    let found = current(&tx, location).await?;
    if found == 0 {
        tx.batch_execute(
            "CREATE SCHEMA IF NOT EXISTS brains; \
             CREATE TABLE brains.meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);",
        )
        .await?;
        tx.execute(
            "INSERT INTO brains.meta (name, value) VALUES ('kind', $1), ('version', '0')",
            &[&KIND],
        )
        .await?;
    }
    for (index, migration) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(found).unwrap_or(0))
    {
        tx.batch_execute(migration).await?;
        let applied = (index + 1).to_string();
        tx.execute(
            "UPDATE brains.meta SET value = $1 WHERE name = 'version'",
            &[&applied],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The version of the job database here: 0 when there is none yet. A `brains` schema that
/// is not one (or of a newer version) is refused.
async fn current(client: &impl tokio_postgres::GenericClient, location: &str) -> Result<i32> {
    let schema: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'brains')",
            &[],
        )
        .await?
        .get(0);
    if !schema {
        return Ok(0);
    }
    let meta: bool = client
        .query_one("SELECT to_regclass('brains.meta') IS NOT NULL", &[])
        .await?
        .get(0);
    let foreign = || QueueError::ForeignSchema {
        location: location.to_owned(),
    };
    if !meta {
        return Err(foreign());
    }
    let rows = client
        .query("SELECT name, value FROM brains.meta", &[])
        .await?;
    let value = |name: &str| {
        rows.iter()
            .find(|r| r.get::<_, String>(0) == name)
            .map(|r| r.get::<_, String>(1))
    };
    if value("kind").as_deref() != Some(KIND) {
        return Err(foreign());
    }
    let found: i32 = value("version")
        .and_then(|v| v.parse().ok())
        .ok_or_else(foreign)?;
    if found > version() {
        return Err(QueueError::NewerSchema {
            path: location.into(),
            found,
            supported: version(),
        });
    }
    Ok(found)
}
