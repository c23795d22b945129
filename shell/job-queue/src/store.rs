//! The SQLite store: one writer thread that commits many operations per transaction
//! (group commit), and a read connection for status queries.
//!
//! Every change goes through [`Writer`]: callers send a [`Cmd`], the writer thread takes
//! the first command waiting, drains whatever else is queued behind it, runs them all in
//! one `BEGIN IMMEDIATE` transaction and answers each caller after the commit. That is how
//! a no-op job costs a fraction of a disk sync. If one command fails, the transaction is
//! rolled back and the commands are replayed one transaction each, so a bad command only
//! fails its own caller.
//!
//! After each commit the writer reports what changed as [`Effect`]s to the progress
//! monitor, so events describe committed state only.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brain_plugin_api::{JobStatus, SideEffect, Source, Wording};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use tokio::sync::{mpsc, oneshot};

use crate::error::{QueueError, Result};
use crate::schema;
use crate::util::{now_ms, random_i64};

/// At most this many commands share one transaction, so a flood of enqueues cannot hold
/// the write lock long enough to starve other processes.
const MAX_GROUP: usize = 2048;

/// The columns of a job that do not change while it runs; carried through the worker so
/// that finishing a job needs no read.
#[derive(Debug, Clone)]
pub(crate) struct JobHead {
    pub(crate) seq: i64,
    pub(crate) id: String,
    pub(crate) job_type: String,
    pub(crate) source: Source,
    pub(crate) label: Option<String>,
    pub(crate) batch_id: Option<String>,
    pub(crate) priority: i32,
    pub(crate) attempt: u32,
    pub(crate) max_attempts: u32,
    pub(crate) started_at: Option<i64>,
    pub(crate) wording: Option<Wording>,
}

/// A job a worker has claimed.
#[derive(Debug)]
pub(crate) struct Claimed {
    pub(crate) head: Arc<JobHead>,
    pub(crate) input: String,
    pub(crate) lease_token: i64,
}

/// A row to insert.
#[derive(Debug, Clone)]
pub(crate) struct InsertJob {
    pub(crate) id: String,
    pub(crate) job_type: String,
    pub(crate) input: String,
    pub(crate) source: Source,
    pub(crate) metadata: Option<String>,
    pub(crate) priority: i32,
    pub(crate) max_attempts: u32,
    /// Milliseconds after the commit at which the job becomes due.
    pub(crate) delay_ms: i64,
    pub(crate) label: Option<String>,
    /// Job and batch ids it waits for (deduplicated).
    pub(crate) after: Vec<String>,
    pub(crate) run_after_failure: bool,
    pub(crate) unique_key: Option<String>,
    pub(crate) wording: Option<Wording>,
}

impl InsertJob {
    /// The head of the row just stored as `seq`.
    fn head(&self, seq: i64, batch_id: Option<&str>) -> Arc<JobHead> {
        Arc::new(JobHead {
            seq,
            id: self.id.clone(),
            job_type: self.job_type.clone(),
            source: self.source.clone(),
            label: self.label.clone(),
            batch_id: batch_id.map(str::to_owned),
            priority: self.priority,
            attempt: 0,
            max_attempts: self.max_attempts,
            started_at: None,
            wording: self.wording.clone(),
        })
    }
}

/// What an enqueue stored.
#[derive(Debug, Default)]
pub(crate) struct Inserted {
    pub(crate) heads: Vec<Arc<JobHead>>,
    /// Jobs not stored because a pending or running job with their type and key exists.
    pub(crate) skipped: usize,
    /// The operations (batches, or jobs outside batches) doing the skipped jobs' work.
    pub(crate) shared_with: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct InsertBatch {
    pub(crate) id: String,
    pub(crate) source: Source,
    pub(crate) label: Option<String>,
    pub(crate) metadata: Option<String>,
    pub(crate) job_type: Option<String>,
    pub(crate) wording: Option<Wording>,
}

/// How a run ended, as the worker reports it.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    Completed {
        result: String,
        /// Side effects the run staged: stored with the completion, so only the run that
        /// still holds the lease has any applied.
        effects: Vec<SideEffect>,
    },
    /// Run again at `retry_at` (unless cancellation was requested meanwhile).
    Retry {
        error: String,
        retry_at: i64,
    },
    Failed {
        error: String,
    },
    Cancelled {
        reason: String,
    },
    /// Shutdown: back to pending without spending an attempt.
    Released,
    /// Something the job needs is exhausted (the disk is full): pending again at
    /// `retry_at`, without spending an attempt.
    Wait {
        error: String,
        retry_at: i64,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct ProgressRow {
    pub(crate) current: u64,
    pub(crate) total: u64,
    pub(crate) message: String,
}

/// The counters of a batch after a commit.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BatchRow {
    pub(crate) id: String,
    pub(crate) source: Source,
    pub(crate) label: Option<String>,
    pub(crate) job_type: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) started_at: Option<i64>,
    pub(crate) finished_at: Option<i64>,
    pub(crate) total: u64,
    pub(crate) pending: u64,
    pub(crate) processing: u64,
    pub(crate) completed: u64,
    pub(crate) failed: u64,
    pub(crate) cancelled: u64,
    pub(crate) wording: Option<Wording>,
}

impl BatchRow {
    /// Whether the batch ended with every job completed; `None` while it runs.
    fn ended(&self) -> Option<bool> {
        self.finished_at.map(|_| self.failed + self.cancelled == 0)
    }
}

impl BatchRow {
    /// A batch is pending until a job starts, processing while any job is unfinished, then
    /// completed if every job completed, failed if any failed, else cancelled.
    pub(crate) fn status(&self) -> JobStatus {
        if self.pending + self.processing > 0 {
            if self.started_at.is_some() || self.processing > 0 || self.finished() > 0 {
                JobStatus::Processing
            } else {
                JobStatus::Pending
            }
        } else if self.failed > 0 {
            JobStatus::Failed
        } else if self.cancelled > 0 {
            JobStatus::Cancelled
        } else {
            JobStatus::Completed
        }
    }

    pub(crate) fn finished(&self) -> u64 {
        self.completed + self.failed + self.cancelled
    }
}

/// What a commit changed, for the progress monitor.
#[derive(Debug, Clone)]
pub(crate) enum Effect {
    Enqueued(Arc<JobHead>),
    Started(Arc<JobHead>),
    /// A run ended; `status` is what was stored (pending for a scheduled retry).
    Finished {
        head: Arc<JobHead>,
        status: JobStatus,
        result: Option<String>,
        error: Option<String>,
        retry_at: Option<i64>,
        finished_at: i64,
    },
    /// A job that never ran was cancelled, for this reason.
    CancelledPending(Arc<JobHead>, String),
    Batch(BatchRow),
    /// Jobs whose last dependency ended, so they can be claimed now: wake these pools.
    Unblocked {
        wake_ports: Vec<u16>,
    },
}

/// The answer to a cancel request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CancelResult {
    /// Pending jobs cancelled at once.
    pub(crate) cancelled: u64,
    /// Running jobs asked to stop: (seq, worker id).
    pub(crate) requested: Vec<(i64, Option<String>)>,
    pub(crate) found: bool,
}

/// What a heartbeat learned.
#[derive(Debug, Default)]
pub(crate) struct HeartbeatResult {
    /// (seq, lease token) of runs someone asked to cancel.
    pub(crate) cancel_requested: Vec<(i64, i64)>,
    /// (seq, lease token) of runs whose lease was taken over (or that ended elsewhere).
    pub(crate) lost: Vec<(i64, i64)>,
    /// The worker's row was gone (another process took it for dead while this one was
    /// paused): it must register again.
    pub(crate) unregistered: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct WorkerRow {
    pub(crate) id: String,
    pub(crate) pid: u32,
    pub(crate) host: String,
    pub(crate) lease_ms: i64,
    pub(crate) concurrency: u32,
    pub(crate) job_types: Vec<String>,
    pub(crate) wake_port: Option<u16>,
    /// The job and batch ids a scoped pool is limited to; `None`: any work of its types.
    pub(crate) scope: Option<Vec<String>>,
}

impl WorkerRow {
    /// Whether this row's process is known to be gone: it ran on `this_host` and its pid
    /// no longer exists. Elsewhere only the lease can tell.
    pub(crate) fn known_dead(&self, this_host: &str) -> bool {
        self.host == this_host && crate::util::pid_alive(self.pid) == Some(false)
    }
}

type Reply<T> = oneshot::Sender<Result<T>>;

pub(crate) enum Cmd {
    Enqueue {
        batch: Option<InsertBatch>,
        jobs: Vec<InsertJob>,
        reply: Reply<Inserted>,
    },
    Claim {
        worker_id: Arc<str>,
        types: Arc<[String]>,
        /// Only jobs with one of these ids or batch ids (a scoped pool).
        scope: Option<Arc<[String]>>,
        limit: usize,
        lease_ms: i64,
        reply: Reply<Vec<Claimed>>,
    },
    Finish {
        head: Arc<JobHead>,
        lease_token: i64,
        outcome: Outcome,
        progress: Option<ProgressRow>,
        reply: Option<Reply<bool>>,
    },
    Heartbeat {
        worker_id: Arc<str>,
        leases: Vec<(i64, i64, ProgressRow)>,
        lease_ms: i64,
        reply: Reply<HeartbeatResult>,
    },
    SaveProgress {
        seq: i64,
        lease_token: i64,
        progress: ProgressRow,
    },
    Cancel {
        id: String,
        reply: Reply<CancelResult>,
    },
    /// Leases that expired, and jobs of workers on this host whose process is gone.
    Sweep {
        dead_workers: Vec<String>,
        /// Workers whose process is alive on this host (paused, say): their rows stay,
        /// however old their heartbeat.
        alive_workers: Vec<String>,
        reply: Reply<u64>,
    },
    RegisterWorker {
        worker: WorkerRow,
        reply: Reply<()>,
    },
    UnregisterWorker {
        id: String,
        reply: Reply<()>,
    },
    SaveEstimates {
        rows: Vec<(String, f64, f64, u64)>,
        reply: Option<Reply<()>>,
    },
    Prune {
        before: i64,
        limit: usize,
        reply: Reply<u64>,
    },
    /// A failed job, or a batch's failed items, queued again for a fresh set of attempts.
    Retry {
        id: String,
        reply: Reply<u64>,
    },
    /// Effects applied: their outbox rows go.
    OutboxDone {
        ids: Vec<i64>,
        reply: Reply<()>,
    },
}

/// The handle to the writer thread.
#[derive(Clone)]
pub(crate) struct Writer {
    tx: mpsc::UnboundedSender<Cmd>,
}

impl Writer {
    /// Starts the writer thread on an open, migrated connection.
    pub(crate) fn start(conn: Connection, effects: EffectSink) -> Result<Self> {
        let (tx, rx) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("brain-queue-writer".into())
            .spawn(move || WriterThread { conn, effects }.run(rx))
            .map_err(|source| QueueError::Io {
                path: PathBuf::from("<writer thread>"),
                source,
            })?;
        Ok(Self { tx })
    }

    pub(crate) fn send(&self, cmd: Cmd) -> Result<()> {
        self.tx.send(cmd).map_err(|_| QueueError::Closed)
    }

    /// Sends a command built around a reply channel and waits for the answer.
    pub(crate) async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Cmd) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        self.send(make(reply))?;
        answer.await.map_err(|_| QueueError::Closed)?
    }
}

/// Where the writer reports committed changes.
pub(crate) type EffectSink = Box<dyn Fn(Vec<Effect>) + Send>;

struct WriterThread {
    conn: Connection,
    effects: EffectSink,
}

/// A command's answer, held until the transaction commits.
enum Out {
    Inserted(Inserted),
    Claimed(Vec<Claimed>),
    Bool(bool),
    Heartbeat(HeartbeatResult),
    Cancel(CancelResult),
    Count(u64),
    Unit,
}

impl Cmd {
    /// Answers the caller; a caller that stopped waiting is fine to ignore.
    fn respond(self, out: Result<Out>) {
        fn pick<T>(out: Result<Out>, f: impl FnOnce(Out) -> Option<T>) -> Result<T> {
            out.and_then(|o| {
                f(o).ok_or_else(|| QueueError::Corrupt("writer answer mismatch".into()))
            })
        }
        match self {
            Cmd::Enqueue { reply, .. } => {
                let _ = reply.send(pick(out, |o| {
                    if let Out::Inserted(v) = o {
                        Some(v)
                    } else {
                        None
                    }
                }));
            }
            Cmd::Claim { reply, .. } => {
                let _ = reply.send(pick(out, |o| {
                    if let Out::Claimed(v) = o {
                        Some(v)
                    } else {
                        None
                    }
                }));
            }
            Cmd::Finish { reply, .. } => {
                if let Some(reply) = reply {
                    let _ =
                        reply.send(pick(
                            out,
                            |o| if let Out::Bool(v) = o { Some(v) } else { None },
                        ));
                }
            }
            Cmd::Heartbeat { reply, .. } => {
                let _ = reply.send(pick(out, |o| {
                    if let Out::Heartbeat(v) = o {
                        Some(v)
                    } else {
                        None
                    }
                }));
            }
            Cmd::Cancel { reply, .. } => {
                let _ = reply.send(pick(out, |o| {
                    if let Out::Cancel(v) = o {
                        Some(v)
                    } else {
                        None
                    }
                }));
            }
            Cmd::Sweep { reply, .. } | Cmd::Prune { reply, .. } | Cmd::Retry { reply, .. } => {
                let _ = reply.send(pick(out, |o| {
                    if let Out::Count(v) = o { Some(v) } else { None }
                }));
            }
            Cmd::RegisterWorker { reply, .. }
            | Cmd::UnregisterWorker { reply, .. }
            | Cmd::OutboxDone { reply, .. } => {
                let _ = reply.send(out.map(|_| ()));
            }
            Cmd::SaveEstimates { reply, .. } => {
                if let Some(reply) = reply {
                    let _ = reply.send(out.map(|_| ()));
                }
            }
            Cmd::SaveProgress { .. } => {
                if let Err(error) = out {
                    tracing::warn!(%error, "could not save a progress snapshot");
                }
            }
        }
    }
}

pub(crate) fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

impl WriterThread {
    fn run(mut self, mut rx: mpsc::UnboundedReceiver<Cmd>) {
        let mut group = Vec::with_capacity(MAX_GROUP);
        while let Some(first) = rx.blocking_recv() {
            group.push(first);
            while group.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(cmd) => group.push(cmd),
                    Err(_) => break,
                }
            }
            self.run_group(&mut group);
        }
    }

    fn run_group(&mut self, group: &mut Vec<Cmd>) {
        let mut effects = Vec::new();
        match self.attempt(group, &mut effects) {
            Ok(outs) => {
                self.publish(effects);
                for (cmd, out) in group.drain(..).zip(outs) {
                    cmd.respond(Ok(out));
                }
            }
            Err(error) => {
                tracing::debug!(%error, commands = group.len(), "group commit failed; retrying one by one");
                for cmd in group.drain(..) {
                    let mut effects = Vec::new();
                    match self.attempt(std::slice::from_ref(&cmd), &mut effects) {
                        Ok(mut outs) => {
                            self.publish(effects);
                            match outs.pop() {
                                Some(out) => cmd.respond(Ok(out)),
                                None => cmd.respond(Err(QueueError::Closed)),
                            }
                        }
                        Err(error) => cmd.respond(Err(self.naming(error))),
                    }
                }
            }
        }
    }

    /// Errors about the database file name it.
    fn naming(&self, error: QueueError) -> QueueError {
        match self.conn.path() {
            Some(path) => error.naming(Path::new(path)),
            None => error,
        }
    }

    fn publish(&self, effects: Vec<Effect>) {
        if !effects.is_empty() {
            (self.effects)(effects);
        }
    }

    /// Runs the commands in one transaction, retrying while another process holds the
    /// write lock, so "database is locked" never reaches a caller.
    fn attempt(&mut self, group: &[Cmd], effects: &mut Vec<Effect>) -> Result<Vec<Out>> {
        let mut delay = Duration::from_millis(5);
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            effects.clear();
            match self.transaction(group, effects) {
                Err(QueueError::Sqlite(e))
                    if is_busy(&e) && std::time::Instant::now() < deadline =>
                {
                    tracing::debug!("database busy; retrying the transaction in {delay:?}");
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_millis(250));
                }
                other => return other,
            }
        }
    }

    fn transaction(&mut self, group: &[Cmd], effects: &mut Vec<Effect>) -> Result<Vec<Out>> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = now_ms();
        let mut outs = Vec::with_capacity(group.len());
        let mut batches = Vec::new();
        for cmd in group {
            outs.push(execute(&tx, cmd, now, effects, &mut batches)?);
        }
        resolve_dependencies(&tx, now, effects, &mut batches)?;
        batches.sort_unstable();
        batches.dedup();
        for id in batches {
            if let Some(row) = batch_row(&tx, &id)? {
                effects.push(Effect::Batch(row));
            }
        }
        tx.commit()?;
        Ok(outs)
    }
}

/// The most log lines a job keeps (the oldest go first): a job that reports a new message
/// for each of thousands of items keeps its last ones, and the database stays small.
pub(crate) const LOG_ROWS_PER_JOB: i64 = 200;

/// The longest log message kept, in characters.
const LOG_MESSAGE_MAX: usize = 1_000;

/// Appends a line to job `seq`'s log, at its current attempt, and drops its oldest lines
/// past [`LOG_ROWS_PER_JOB`].
fn append_log(tx: &Connection, seq: i64, at: i64, kind: &str, message: &str) -> Result<()> {
    let message = brain_plugin_api::shorten(message, LOG_MESSAGE_MAX);
    let added = tx
        .prepare_cached(
            "INSERT INTO job_log (job_seq, at, attempt, kind, message) \
             SELECT seq, ?2, attempt, ?3, ?4 FROM jobs WHERE seq = ?1",
        )?
        .execute(params![seq, at, kind, message])?;
    if added > 0 {
        tx.prepare_cached(
            "DELETE FROM job_log WHERE job_seq = ?1 AND id <= \
             (SELECT id FROM job_log WHERE job_seq = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
        )?
        .execute(params![seq, LOG_ROWS_PER_JOB])?;
    }
    Ok(())
}

/// Logs `message` as job `seq`'s progress unless it is empty or what it last logged.
fn log_progress(tx: &Connection, seq: i64, at: i64, message: &str) -> Result<()> {
    if message.is_empty() {
        return Ok(());
    }
    let last: Option<String> = tx
        .prepare_cached(
            "SELECT message FROM job_log WHERE job_seq = ?1 AND kind = 'progress' \
             ORDER BY id DESC LIMIT 1",
        )?
        .query_row([seq], |r| r.get(0))
        .optional()?;
    if last.as_deref() == Some(brain_plugin_api::shorten(message, LOG_MESSAGE_MAX).as_str()) {
        return Ok(());
    }
    append_log(tx, seq, at, "progress", message)
}

const HEAD_COLUMNS: &str = "seq, id, job_type, source, label, batch_id, priority, attempt, max_attempts, started_at, wording";

/// How many columns [`HEAD_COLUMNS`] has: the index of the first column after them.
const HEAD_WIDTH: usize = 11;

/// A wording as stored: JSON.
fn wording_text(wording: Option<&Wording>) -> Option<String> {
    wording.and_then(|w| serde_json::to_string(w).ok())
}

/// A stored wording; one that does not parse (edited by hand) is no wording.
fn wording_column(text: Option<String>) -> Option<Wording> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

fn head_from_row(row: &Row<'_>) -> rusqlite::Result<JobHead> {
    let source: String = row.get(3)?;
    Ok(JobHead {
        seq: row.get(0)?,
        id: row.get(1)?,
        job_type: row.get(2)?,
        // Sources are validated before they are stored; a bad one means a hand-edited row.
        source: source.parse().unwrap_or_else(|_| Source::system()),
        label: row.get(4)?,
        batch_id: row.get(5)?,
        priority: row.get(6)?,
        attempt: row.get(7)?,
        max_attempts: row.get(8)?,
        started_at: row.get(9)?,
        wording: wording_column(row.get(10)?),
    })
}

fn status_from(value: &str) -> Result<JobStatus> {
    JobStatus::parse(value)
        .ok_or_else(|| QueueError::Corrupt(format!("unknown job status {value:?}")))
}

fn execute(
    tx: &Connection,
    cmd: &Cmd,
    now: i64,
    effects: &mut Vec<Effect>,
    batches: &mut Vec<String>,
) -> Result<Out> {
    match cmd {
        Cmd::Enqueue { batch, jobs, .. } => {
            let mut inserted = Inserted::default();
            // Jobs whose type and key a pending or running job has are not stored: that one
            // does their work.
            let mut fresh = Vec::with_capacity(jobs.len());
            let mut keys = std::collections::HashSet::new();
            for j in jobs {
                if let Some(key) = &j.unique_key
                    && !keys.insert((j.job_type.as_str(), key.as_str()))
                {
                    // The same work twice in one enqueue: once is enough.
                    inserted.skipped += 1;
                    continue;
                }
                let existing = match &j.unique_key {
                    None => None,
                    Some(key) => tx
                        .prepare_cached(
                            "SELECT COALESCE(batch_id, id) FROM jobs WHERE job_type = ?1 AND unique_key = ?2 \
                             AND unique_key IS NOT NULL AND status IN ('pending', 'processing')",
                        )?
                        .query_row(params![j.job_type, key], |r| r.get::<_, String>(0))
                        .optional()?,
                };
                match existing {
                    Some(owner) => {
                        inserted.skipped += 1;
                        if !inserted.shared_with.contains(&owner) {
                            inserted.shared_with.push(owner);
                        }
                    }
                    None => fresh.push(j),
                }
            }
            if fresh.is_empty() {
                return Ok(Out::Inserted(inserted));
            }
            if let Some(b) = batch {
                tx.prepare_cached(
                    "INSERT INTO batches (id, source, label, metadata, job_type, created_at, wording) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(params![
                    b.id,
                    b.source.as_str(),
                    b.label,
                    b.metadata,
                    b.job_type,
                    now,
                    wording_text(b.wording.as_ref())
                ])?;
                batches.push(b.id.clone());
            }
            let batch_id = batch.as_ref().map(|b| b.id.as_str());
            let mut insert = tx.prepare_cached(
                "INSERT INTO jobs (id, job_type, input, source, metadata, status, priority, max_attempts, \
                 created_at, scheduled_at, batch_id, label, unique_key, wording) \
                 VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?;
            let mut heads = Vec::with_capacity(fresh.len());
            let mut deps = DependencyCheck::default();
            for j in fresh {
                if !j.after.is_empty() {
                    let head = insert_dependent(tx, j, batch_id, now, &mut deps)?;
                    if batch_id.is_none() {
                        effects.push(if let Some(reason) = &head.1 {
                            Effect::CancelledPending(head.0.clone(), reason.clone())
                        } else {
                            Effect::Enqueued(head.0.clone())
                        });
                    }
                    heads.push(head.0);
                    continue;
                }
                insert.execute(params![
                    j.id,
                    j.job_type,
                    j.input,
                    j.source.as_str(),
                    j.metadata,
                    j.priority,
                    j.max_attempts,
                    now,
                    now + j.delay_ms,
                    batch_id,
                    j.label,
                    j.unique_key,
                    wording_text(j.wording.as_ref())
                ])?;
                let head = j.head(tx.last_insert_rowid(), batch_id);
                if batch_id.is_none() {
                    effects.push(Effect::Enqueued(head.clone()));
                }
                heads.push(head);
            }
            inserted.heads = heads;
            Ok(Out::Inserted(inserted))
        }
        Cmd::Claim {
            worker_id,
            types,
            scope,
            limit,
            lease_ms,
            ..
        } => {
            if types.is_empty() || *limit == 0 || scope.as_ref().is_some_and(|s| s.is_empty()) {
                return Ok(Out::Claimed(Vec::new()));
            }
            let due = due_condition(types.len(), scope.as_ref().map_or(0, |s| s.len()), 6);
            let sql = format!(
                "UPDATE jobs SET status = 'processing', attempt = attempt + 1, lease_token = ?1, \
                 lease_expires_at = ?2, started_at = COALESCE(started_at, ?3), worker_id = ?4 \
                 WHERE seq IN (SELECT seq FROM jobs WHERE {due} AND scheduled_at <= ?3 \
                 ORDER BY priority DESC, scheduled_at, seq LIMIT ?5 + 0) \
                 RETURNING {HEAD_COLUMNS}, input"
            );
            // `LIMIT ?5 + 0`: a bare bound LIMIT makes SQLite re-prepare the statement for
            // every new value (it is treated as plan-relevant); the same holds below.
            let token = random_i64();
            let mut stmt = tx.prepare_cached(&sql)?;
            let mut values: Vec<rusqlite::types::Value> = vec![
                token.into(),
                (now + lease_ms).into(),
                now.into(),
                worker_id.to_string().into(),
                (*limit as i64).into(),
            ];
            values.extend(
                types
                    .iter()
                    .chain(scope.iter().flat_map(|s| s.iter()))
                    .map(|t| rusqlite::types::Value::from(t.clone())),
            );
            let mut rows = stmt.query(rusqlite::params_from_iter(values))?;
            let mut claimed = Vec::new();
            while let Some(row) = rows.next()? {
                let head = Arc::new(head_from_row(row)?);
                if head.batch_id.is_none() {
                    effects.push(Effect::Started(head.clone()));
                } else if let Some(b) = &head.batch_id {
                    batches.push(b.clone());
                }
                claimed.push(Claimed {
                    head,
                    input: row.get(HEAD_WIDTH)?,
                    lease_token: token,
                });
            }
            Ok(Out::Claimed(claimed))
        }
        Cmd::Finish {
            head,
            lease_token,
            outcome,
            progress,
            ..
        } => {
            let (sql, result, error, retry_at): (&str, Option<&str>, Option<&str>, Option<i64>) =
                match outcome {
                    Outcome::Completed { result, .. } => (
                        "UPDATE jobs SET status = 'completed', result = ?3, finished_at = ?4, lease_token = NULL, \
                         lease_expires_at = NULL, progress_current = COALESCE(?6, progress_current), \
                         progress_total = COALESCE(?7, progress_total), progress_message = COALESCE(?8, progress_message) \
                         WHERE seq = ?1 AND lease_token = ?2 AND status = 'processing'",
                        Some(result),
                        None,
                        None,
                    ),
                    Outcome::Retry { error, retry_at } => (
                        "UPDATE jobs SET status = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'pending' END, \
                         last_error = ?3, scheduled_at = ?5, \
                         finished_at = CASE WHEN cancel_requested THEN ?4 END, lease_token = NULL, \
                         lease_expires_at = NULL, worker_id = NULL, progress_current = COALESCE(?6, progress_current), \
                         progress_total = COALESCE(?7, progress_total), progress_message = COALESCE(?8, progress_message) \
                         WHERE seq = ?1 AND lease_token = ?2 AND status = 'processing' RETURNING status, ?5",
                        None,
                        Some(error),
                        Some(*retry_at),
                    ),
                    Outcome::Failed { error } | Outcome::Cancelled { reason: error } => (
                        if matches!(outcome, Outcome::Failed { .. }) {
                            "UPDATE jobs SET status = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'failed' END, \
                             last_error = ?3, finished_at = ?4, lease_token = NULL, lease_expires_at = NULL, \
                             progress_current = COALESCE(?6, progress_current), progress_total = COALESCE(?7, progress_total), \
                             progress_message = COALESCE(?8, progress_message) \
                             WHERE seq = ?1 AND lease_token = ?2 AND status = 'processing' RETURNING status, ?5"
                        } else {
                            "UPDATE jobs SET status = 'cancelled', last_error = ?3, finished_at = ?4, lease_token = NULL, \
                             lease_expires_at = NULL, progress_current = COALESCE(?6, progress_current), \
                             progress_total = COALESCE(?7, progress_total), progress_message = COALESCE(?8, progress_message) \
                             WHERE seq = ?1 AND lease_token = ?2 AND status = 'processing'"
                        },
                        None,
                        Some(error),
                        None,
                    ),
                    Outcome::Released | Outcome::Wait { .. } => (
                        "UPDATE jobs SET status = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'pending' END, \
                         finished_at = CASE WHEN cancel_requested THEN ?4 END, \
                         attempt = MAX(attempt - 1, 0), scheduled_at = COALESCE(?5, ?4), lease_token = NULL, lease_expires_at = NULL, \
                         worker_id = NULL, last_error = COALESCE(?3, last_error), progress_current = COALESCE(?6, progress_current), \
                         progress_total = COALESCE(?7, progress_total), progress_message = COALESCE(?8, progress_message) \
                         WHERE seq = ?1 AND lease_token = ?2 AND status = 'processing' RETURNING status, ?5",
                        None,
                        match outcome {
                            Outcome::Wait { error, .. } => Some(error.as_str()),
                            _ => None,
                        },
                        match outcome {
                            Outcome::Wait { retry_at, .. } => Some(*retry_at),
                            _ => None,
                        },
                    ),
                };
            let value = match outcome {
                Outcome::Completed { .. } => result,
                _ => error,
            };
            let values = params![
                head.seq,
                lease_token,
                value,
                now,
                retry_at,
                progress.as_ref().map(|p| p.current as i64),
                progress.as_ref().map(|p| p.total as i64),
                progress.as_ref().map(|p| p.message.as_str()),
            ];
            let mut stmt = tx.prepare_cached(sql)?;
            // Where the stored status is known, a plain UPDATE avoids RETURNING's statement
            // journal on the hottest statement of the queue. (`?5` still counts as a
            // parameter: SQLite sizes the list by the largest index.)
            let status = match outcome {
                Outcome::Completed { effects, .. } => {
                    if stmt.execute(values)? == 0 {
                        return Ok(Out::Bool(false));
                    }
                    store_effects(tx, &head.id, effects)?;
                    JobStatus::Completed
                }
                Outcome::Cancelled { .. } => {
                    if stmt.execute(values)? == 0 {
                        return Ok(Out::Bool(false));
                    }
                    JobStatus::Cancelled
                }
                _ => {
                    let stored: Option<String> = stmt.query_row(values, |r| r.get(0)).optional()?;
                    let Some(stored) = stored else {
                        return Ok(Out::Bool(false));
                    };
                    status_from(&stored)?
                }
            };
            if let Some(p) = progress {
                log_progress(tx, head.seq, now, &p.message)?;
            }
            if let Some(error) = error {
                let kind = match status {
                    JobStatus::Cancelled => "cancelled",
                    _ => "error",
                };
                append_log(tx, head.seq, now, kind, error)?;
            }
            if let Some(b) = &head.batch_id {
                batches.push(b.clone());
            }
            effects.push(Effect::Finished {
                head: head.clone(),
                status,
                result: result.map(str::to_owned),
                error: error.map(str::to_owned),
                retry_at: if status == JobStatus::Pending {
                    retry_at.or(Some(now))
                } else {
                    None
                },
                finished_at: now,
            });
            Ok(Out::Bool(true))
        }
        Cmd::Heartbeat {
            worker_id,
            leases,
            lease_ms,
            ..
        } => {
            let registered = tx
                .prepare_cached("UPDATE workers SET heartbeat_at = ?2 WHERE id = ?1")?
                .execute(params![worker_id.as_ref(), now])?;
            let mut stmt = tx.prepare_cached(
                "UPDATE jobs SET lease_expires_at = ?3, progress_current = ?4, progress_total = ?5, \
                 progress_message = ?6 WHERE seq = ?1 AND lease_token = ?2 AND status = 'processing' \
                 RETURNING cancel_requested",
            )?;
            let mut result = HeartbeatResult {
                unregistered: registered == 0,
                ..HeartbeatResult::default()
            };
            for (seq, token, p) in leases {
                let cancel: Option<bool> = stmt
                    .query_row(
                        params![
                            seq,
                            token,
                            now + lease_ms,
                            p.current as i64,
                            p.total as i64,
                            p.message
                        ],
                        |r| r.get(0),
                    )
                    .optional()?;
                match cancel {
                    None => result.lost.push((*seq, *token)),
                    Some(true) => result.cancel_requested.push((*seq, *token)),
                    Some(false) => {}
                }
            }
            Ok(Out::Heartbeat(result))
        }
        Cmd::SaveProgress {
            seq,
            lease_token,
            progress,
        } => {
            let saved = tx
                .prepare_cached(
                    "UPDATE jobs SET progress_current = ?3, progress_total = ?4, progress_message = ?5 \
                     WHERE seq = ?1 AND lease_token = ?2 AND status = 'processing'",
                )?
                .execute(params![
                    seq,
                    lease_token,
                    progress.current as i64,
                    progress.total as i64,
                    progress.message
                ])?;
            if saved > 0 {
                log_progress(tx, *seq, now, &progress.message)?;
            }
            Ok(Out::Unit)
        }
        Cmd::Cancel { id, .. } => cancel(tx, id, now, effects, batches).map(Out::Cancel),
        Cmd::Retry { id, .. } => retry(tx, id, now, effects, batches).map(Out::Count),
        Cmd::Sweep {
            dead_workers,
            alive_workers,
            ..
        } => {
            for worker in dead_workers {
                tx.prepare_cached("UPDATE jobs SET lease_expires_at = 0 WHERE status = 'processing' AND worker_id = ?1")?
                    .execute([worker])?;
                tx.prepare_cached("DELETE FROM workers WHERE id = ?1")?
                    .execute([worker])?;
            }
            // A live process's row is never deleted (a paused one heartbeats again when it
            // resumes); elsewhere only a long silence tells.
            let alive = serde_json::to_string(alive_workers)
                .map_err(|e| QueueError::Corrupt(e.to_string()))?;
            tx.prepare_cached(
                "DELETE FROM workers WHERE heartbeat_at + 3 * lease_ms < ?1 \
                 AND id NOT IN (SELECT value FROM json_each(?2))",
            )?
            .execute(params![now, alive])?;
            let sql = format!(
                "UPDATE jobs SET \
                 status = CASE WHEN cancel_requested THEN 'cancelled' WHEN attempt >= max_attempts THEN 'failed' ELSE 'pending' END, \
                 last_error = 'the worker running attempt ' || attempt || ' stopped (its lease expired)', \
                 finished_at = CASE WHEN cancel_requested OR attempt >= max_attempts THEN ?1 END, \
                 scheduled_at = ?1, lease_token = NULL, lease_expires_at = NULL, worker_id = NULL \
                 WHERE status = 'processing' AND lease_expires_at < ?1 \
                 RETURNING {HEAD_COLUMNS}, status, last_error"
            );
            let mut stmt = tx.prepare_cached(&sql)?;
            let mut rows = stmt.query([now])?;
            let mut recovered = Vec::new();
            while let Some(row) = rows.next()? {
                let head = Arc::new(head_from_row(row)?);
                let status = status_from(&row.get::<_, String>(HEAD_WIDTH)?)?;
                let error: Option<String> = row.get(HEAD_WIDTH + 1)?;
                recovered.push((head, status, error));
            }
            drop(rows);
            drop(stmt);
            let count = recovered.len() as u64;
            for (head, status, error) in recovered {
                if let Some(b) = &head.batch_id {
                    batches.push(b.clone());
                }
                tracing::warn!(job = %head.id, %status, "recovered a job whose worker stopped");
                append_log(
                    tx,
                    head.seq,
                    now,
                    "lost",
                    error.as_deref().unwrap_or_default(),
                )?;
                effects.push(Effect::Finished {
                    head,
                    status,
                    result: None,
                    error,
                    retry_at: (status == JobStatus::Pending).then_some(now),
                    finished_at: now,
                });
            }
            Ok(Out::Count(count))
        }
        Cmd::RegisterWorker { worker, .. } => {
            tx.prepare_cached(
                "INSERT INTO workers (id, pid, host, started_at, heartbeat_at, lease_ms, concurrency, job_types, wake_port, scope) \
                 VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (id) DO UPDATE SET scope = ?9, heartbeat_at = ?4",
            )?
            .execute(params![
                worker.id,
                worker.pid,
                worker.host,
                now,
                worker.lease_ms,
                worker.concurrency,
                worker.job_types.join(","),
                worker.wake_port,
                worker.scope.as_ref().map(|s| s.join(","))
            ])?;
            Ok(Out::Unit)
        }
        Cmd::UnregisterWorker { id, .. } => {
            tx.prepare_cached("DELETE FROM workers WHERE id = ?1")?
                .execute([id])?;
            Ok(Out::Unit)
        }
        Cmd::SaveEstimates { rows, .. } => {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO estimates (job_type, mean_ms, var_ms2, samples, updated_at) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (job_type) DO UPDATE SET mean_ms = ?2, var_ms2 = ?3, samples = ?4, updated_at = ?5",
            )?;
            for (job_type, mean, var, samples) in rows {
                stmt.execute(params![job_type, mean, var, *samples as i64, now])?;
            }
            Ok(Out::Unit)
        }
        Cmd::OutboxDone { ids, .. } => {
            let mut jobs: Vec<String> = Vec::new();
            {
                let mut stmt =
                    tx.prepare_cached("DELETE FROM outbox WHERE id = ?1 RETURNING job_id")?;
                for id in ids {
                    if let Some(job) = stmt.query_row([id], |r| r.get(0)).optional()? {
                        jobs.push(job);
                    }
                }
            }
            jobs.sort_unstable();
            jobs.dedup();
            // What waited for these operations waited for their files too: released now
            // that they are in place (see `resolve_dependencies`).
            let mut ended = Vec::new();
            for job in jobs {
                let row: Option<(String, Option<String>)> = tx
                    .prepare_cached("SELECT status, batch_id FROM jobs WHERE id = ?1")?
                    .query_row([&job], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                match row {
                    Some((_, Some(batch))) => {
                        if let Some(ok) = batch_row(tx, &batch)?.and_then(|row| row.ended()) {
                            ended.push((batch, ok));
                        }
                    }
                    Some((status, None)) if status == "completed" => ended.push((job, true)),
                    _ => {}
                }
            }
            if !ended.is_empty() {
                release(tx, now, effects, batches, ended)?;
            }
            Ok(Out::Unit)
        }
        Cmd::Prune { before, limit, .. } => {
            // A batch's jobs go only with the batch, so a batch never loses items it reports.
            let deleted = tx
                .prepare_cached(
                    "DELETE FROM jobs WHERE seq IN (SELECT seq FROM jobs WHERE finished_at < ?1 AND \
                     (batch_id IS NULL OR batch_id IN (SELECT id FROM batches WHERE finished_at < ?1)) LIMIT ?2 + 0)",
                )?
                .execute(params![before, *limit as i64])?;
            tx.prepare_cached(
                "DELETE FROM batches WHERE finished_at < ?1 AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.batch_id = batches.id)",
            )?
            .execute([before])?;
            Ok(Out::Count(deleted as u64))
        }
    }
}

/// Stores a completed run's staged effects in its completion's transaction.
fn store_effects(tx: &Connection, job_id: &str, effects: &[SideEffect]) -> Result<()> {
    if effects.is_empty() {
        return Ok(());
    }
    let mut stmt = tx.prepare_cached(
        "INSERT INTO outbox (job_id, kind, path, target, bytes) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for effect in effects {
        let text = |p: &Path| p.to_string_lossy().into_owned();
        let (path, target, bytes) = match effect {
            SideEffect::WriteFile { path, bytes } => (text(path), None, Some(bytes.as_slice())),
            SideEffect::RemoveFile { path } | SideEffect::RemoveEmptyDir { path } => {
                (text(path), None, None)
            }
            SideEffect::ReplaceDir { from, to } => (text(from), Some(text(to)), None),
        };
        stmt.execute(params![job_id, effect.kind(), path, target, bytes])?;
    }
    Ok(())
}

/// The condition a claimable job meets: pending, nothing left to wait for, one of the
/// pool's types and, for a scoped pool, in its scope. Placeholders are numbered from
/// `first` (types, then scope ids); a bare `?` would take the largest index seen so far.
fn due_condition(types: usize, scope: usize, first: usize) -> String {
    let list = |from: usize, n: usize| {
        (from..from + n)
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut sql = format!(
        "status = 'pending' AND waiting_on = 0 AND job_type IN ({})",
        list(first, types)
    );
    if scope > 0 {
        let ids = list(first + types, scope);
        sql.push_str(&format!(" AND (id IN ({ids}) OR batch_id IN ({ids}))"));
    }
    sql
}

/// Whether files that operation `id` (a job outside batches, or a batch) staged are still
/// to be put in place: what waits for it must not start before they are.
fn files_pending(tx: &Connection, id: &str) -> Result<bool> {
    Ok(tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE job_id = ?1 \
             OR job_id IN (SELECT id FROM jobs WHERE batch_id = ?1 AND batch_id IS NOT NULL))",
        )?
        .query_row([id], |r| r.get(0))?)
}

/// What the dependencies named in one enqueue are, looked up once per command.
#[derive(Default)]
struct DependencyCheck {
    /// id → `None` while unfinished, `Some(true)` completed, `Some(false)` failed or
    /// cancelled.
    ended: std::collections::HashMap<String, Option<bool>>,
}

impl DependencyCheck {
    fn lookup(&mut self, tx: &Connection, id: &str) -> Result<Option<bool>> {
        if let Some(known) = self.ended.get(id) {
            return Ok(*known);
        }
        let job: Option<(String, Option<String>)> = tx
            .prepare_cached("SELECT status, batch_id FROM jobs WHERE id = ?1")?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let ended = match job {
            Some((_, Some(batch))) => {
                return Err(QueueError::InvalidArgument {
                    field: "after",
                    reason: format!(
                        "{id} is one item of {batch}: work waits for whole operations, so name {batch}"
                    ),
                });
            }
            // Completed with files not yet in place: waited for until they are.
            Some((status, None)) => match status_from(&status)? {
                JobStatus::Pending | JobStatus::Processing => None,
                JobStatus::Completed if files_pending(tx, id)? => None,
                JobStatus::Completed => Some(true),
                JobStatus::Failed | JobStatus::Cancelled => Some(false),
            },
            None => match batch_row(tx, id)? {
                Some(batch) if batch.finished_at.is_none() => None,
                Some(_) if files_pending(tx, id)? => None,
                Some(batch) => batch.ended(),
                None => {
                    return Err(QueueError::UnknownDependency { id: id.to_owned() });
                }
            },
        };
        self.ended.insert(id.to_owned(), ended);
        Ok(ended)
    }
}

/// Inserts a job that names dependencies: it waits for the unfinished ones, and ends
/// cancelled at once if one already failed (unless it runs after failures). Returns its
/// head and, if it was cancelled, why.
fn insert_dependent(
    tx: &Connection,
    j: &InsertJob,
    batch_id: Option<&str>,
    now: i64,
    deps: &mut DependencyCheck,
) -> Result<(Arc<JobHead>, Option<String>)> {
    let mut waiting = 0i64;
    let mut failed = None;
    for id in &j.after {
        match deps.lookup(tx, id)? {
            None => waiting += 1,
            Some(true) => {}
            Some(false) => {
                failed.get_or_insert(id.as_str());
            }
        }
    }
    let cancelled = failed.filter(|_| !j.run_after_failure);
    tx.prepare_cached(
        "INSERT INTO jobs (id, job_type, input, source, metadata, status, priority, max_attempts, \
         created_at, scheduled_at, batch_id, label, waiting_on, run_after_failure, finished_at, last_error, \
         unique_key, wording) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
    )?
    .execute(params![
        j.id,
        j.job_type,
        j.input,
        j.source.as_str(),
        j.metadata,
        if cancelled.is_some() { "cancelled" } else { "pending" },
        j.priority,
        j.max_attempts,
        now,
        now + j.delay_ms,
        batch_id,
        j.label,
        if cancelled.is_some() { 0 } else { waiting },
        j.run_after_failure,
        cancelled.map(|_| now),
        cancelled.map(not_run_because),
        j.unique_key,
        wording_text(j.wording.as_ref()),
    ])?;
    let seq = tx.last_insert_rowid();
    let mut link = tx.prepare_cached(
        "INSERT OR IGNORE INTO job_deps (after_id, job_seq, resolved) VALUES (?1, ?2, ?3)",
    )?;
    for id in &j.after {
        // Work that has ended already is counted now (it is not in `waiting_on`).
        link.execute(params![id, seq, deps.lookup(tx, id)?.is_some()])?;
    }
    Ok((j.head(seq, batch_id), cancelled.map(not_run_because)))
}

/// The error of a job that did not run because work it waited for did not complete.
fn not_run_because(id: &str) -> String {
    format!("not run: {id}, which it waited for, did not complete")
}

/// Resolves the dependents of the operations that ended in this transaction: one fewer
/// thing to wait for, or — when a dependency did not complete and the job does not run
/// after failures — cancelled, which may end more operations in turn, so it repeats until
/// nothing new ended. Operations are batches and jobs outside batches; which ended is read
/// off this transaction's effects and the batches it touched. Each dependency row is
/// counted once (`resolved`), so looking at an operation twice changes nothing. One indexed
/// probe per transaction when nothing waits, which is almost always.
fn resolve_dependencies(
    tx: &Connection,
    now: i64,
    effects: &mut Vec<Effect>,
    batches: &mut Vec<String>,
) -> Result<()> {
    release(tx, now, effects, batches, Vec::new())
}

/// [`resolve_dependencies`], starting from `ended` as well: operations whose staged files
/// were just applied. An operation whose files are not all in place yet releases nothing:
/// what waits for it (a build after a generate) must see what it wrote.
fn release(
    tx: &Connection,
    now: i64,
    effects: &mut Vec<Effect>,
    batches: &mut Vec<String>,
    also_ended: Vec<(String, bool)>,
) -> Result<()> {
    let waiting: bool = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM job_deps WHERE resolved = 0)")?
        .query_row([], |r| r.get(0))?;
    if !waiting {
        return Ok(());
    }
    let mut ended: Vec<(String, bool)> = effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Finished { head, status, .. }
                if head.batch_id.is_none() && status.is_finished() =>
            {
                Some((head.id.clone(), *status == JobStatus::Completed))
            }
            Effect::CancelledPending(head, _) if head.batch_id.is_none() => {
                Some((head.id.clone(), false))
            }
            _ => None,
        })
        .chain(also_ended)
        .collect();
    let mut looked_at = 0;
    let mut unblocked = false;
    loop {
        // Batches touched since the last look: the ones that have ended.
        while looked_at < batches.len() {
            let id = batches[looked_at].clone();
            looked_at += 1;
            if let Some(ok) = batch_row(tx, &id)?.and_then(|row| row.ended()) {
                ended.push((id, ok));
            }
        }
        let Some((id, ok)) = ended.pop() else { break };
        if files_pending(tx, &id)? {
            // Released by the `OutboxDone` that applies them.
            continue;
        }
        let dependents: Vec<i64> = {
            let mut stmt = tx.prepare_cached(
                "UPDATE job_deps SET resolved = 1 WHERE after_id = ?1 AND resolved = 0 RETURNING job_seq",
            )?;
            let rows = stmt.query_map([&id], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        for seq in dependents {
            if !ok {
                let sql = format!(
                    "UPDATE jobs SET status = 'cancelled', finished_at = ?2, last_error = ?3, waiting_on = 0 \
                     WHERE seq = ?1 AND status = 'pending' AND NOT run_after_failure RETURNING {HEAD_COLUMNS}"
                );
                let reason = not_run_because(&id);
                let cancelled = tx
                    .prepare_cached(&sql)?
                    .query_row(params![seq, now, reason], head_from_row)
                    .optional()?;
                if let Some(head) = cancelled {
                    match &head.batch_id {
                        Some(b) => batches.push(b.clone()),
                        None => {
                            ended.push((head.id.clone(), false));
                            effects.push(Effect::CancelledPending(Arc::new(head), reason));
                        }
                    }
                    continue;
                }
            }
            let left: Option<i64> = tx
                .prepare_cached(
                    "UPDATE jobs SET waiting_on = waiting_on - 1 WHERE seq = ?1 AND status = 'pending' \
                     AND waiting_on > 0 RETURNING waiting_on",
                )?
                .query_row([seq], |r| r.get(0))
                .optional()?;
            unblocked |= left == Some(0);
        }
    }
    if unblocked {
        let mut stmt =
            tx.prepare_cached("SELECT wake_port FROM workers WHERE wake_port IS NOT NULL")?;
        let ports = stmt.query_map([], |r| r.get(0))?;
        effects.push(Effect::Unblocked {
            wake_ports: ports.collect::<rusqlite::Result<_>>()?,
        });
    }
    Ok(())
}

fn cancel(
    tx: &Connection,
    id: &str,
    now: i64,
    effects: &mut Vec<Effect>,
    batches: &mut Vec<String>,
) -> Result<CancelResult> {
    let mut result = CancelResult {
        cancelled: 0,
        requested: Vec::new(),
        found: false,
    };
    let is_batch: bool = tx
        .prepare_cached("SELECT 1 FROM batches WHERE id = ?1")?
        .query_row([id], |_| Ok(()))
        .optional()?
        .is_some();
    let mut request = |sql: &str| -> Result<()> {
        let mut stmt = tx.prepare_cached(sql)?;
        let mut rows = stmt.query([id])?;
        while let Some(row) = rows.next()? {
            result.requested.push((row.get(0)?, row.get(1)?));
        }
        Ok(())
    };
    if is_batch {
        request(
            "UPDATE jobs SET cancel_requested = 1 WHERE batch_id = ?1 AND status = 'processing' RETURNING seq, worker_id",
        )?;
        result.found = true;
        result.cancelled = tx
            .prepare_cached(
                "UPDATE jobs SET status = 'cancelled', finished_at = ?2, last_error = 'cancelled before it started' \
                 WHERE batch_id = ?1 AND status = 'pending'",
            )?
            .execute(params![id, now])? as u64;
        batches.push(id.to_owned());
        return Ok(result);
    }
    request(
        "UPDATE jobs SET cancel_requested = 1 WHERE id = ?1 AND status = 'processing' RETURNING seq, worker_id",
    )?;
    let sql = format!(
        "UPDATE jobs SET status = 'cancelled', finished_at = ?2, last_error = 'cancelled before it started' \
         WHERE id = ?1 AND status = 'pending' RETURNING {HEAD_COLUMNS}"
    );
    if let Some(head) = tx
        .prepare_cached(&sql)?
        .query_row(params![id, now], head_from_row)
        .optional()?
    {
        result.cancelled = 1;
        if let Some(b) = &head.batch_id {
            batches.push(b.clone());
        }
        effects.push(Effect::CancelledPending(
            Arc::new(head),
            "cancelled before it started".into(),
        ));
    }
    result.found = !result.requested.is_empty()
        || result.cancelled > 0
        || tx
            .prepare_cached("SELECT 1 FROM jobs WHERE id = ?1")?
            .query_row([id], |_| Ok(()))
            .optional()?
            .is_some();
    Ok(result)
}

/// Puts failed job `id` (or every failed item of batch `id`) back in the queue with a fresh
/// set of attempts and no trace of the last run but its log; a job whose unique key is
/// taken again meanwhile is left failed. Returns how many went back.
fn retry(
    tx: &Connection,
    id: &str,
    now: i64,
    effects: &mut Vec<Effect>,
    batches: &mut Vec<String>,
) -> Result<u64> {
    let column = if id.starts_with("batch_") {
        "batch_id"
    } else {
        "id"
    };
    let sql = format!(
        "UPDATE OR IGNORE jobs SET status = 'pending', attempt = 0, result = NULL, last_error = NULL, \
         started_at = NULL, finished_at = NULL, scheduled_at = ?2, cancel_requested = 0, \
         lease_token = NULL, lease_expires_at = NULL, worker_id = NULL, \
         progress_current = 0, progress_total = 0, progress_message = NULL \
         WHERE {column} = ?1 AND status = 'failed' RETURNING {HEAD_COLUMNS}"
    );
    let mut stmt = tx.prepare_cached(&sql)?;
    let heads = stmt
        .query_map(params![id, now], head_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    drop(stmt);
    let count = heads.len() as u64;
    for head in heads {
        append_log(tx, head.seq, now, "retried", "queued again by request")?;
        if let Some(batch) = &head.batch_id {
            batches.push(batch.clone());
        }
        effects.push(Effect::Enqueued(Arc::new(head)));
    }
    Ok(count)
}

const BATCH_COLUMNS: &str = "id, source, label, created_at, started_at, finished_at, total, pending, processing, \
     completed, failed, cancelled, job_type, wording";

fn batch_from_row(row: &Row<'_>) -> rusqlite::Result<BatchRow> {
    let source: String = row.get(1)?;
    Ok(BatchRow {
        id: row.get(0)?,
        source: source.parse().unwrap_or_else(|_| Source::system()),
        label: row.get(2)?,
        created_at: row.get(3)?,
        started_at: row.get(4)?,
        finished_at: row.get(5)?,
        total: row.get::<_, i64>(6)?.max(0) as u64,
        pending: row.get::<_, i64>(7)?.max(0) as u64,
        processing: row.get::<_, i64>(8)?.max(0) as u64,
        completed: row.get::<_, i64>(9)?.max(0) as u64,
        failed: row.get::<_, i64>(10)?.max(0) as u64,
        cancelled: row.get::<_, i64>(11)?.max(0) as u64,
        job_type: row.get(12)?,
        wording: wording_column(row.get(13)?),
    })
}

fn batch_row(conn: &Connection, id: &str) -> Result<Option<BatchRow>> {
    let sql = format!("SELECT {BATCH_COLUMNS} FROM batches WHERE id = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id], batch_from_row)
        .optional()?)
}

/// A stored job, as status queries see it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    pub id: String,
    pub job_type: String,
    pub input: serde_json::Value,
    pub result: Option<serde_json::Value>,
    pub source: Source,
    pub metadata: Option<serde_json::Value>,
    pub status: JobStatus,
    pub priority: i32,
    pub attempt: u32,
    pub max_attempts: u32,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub scheduled_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub lease_expires_at: Option<i64>,
    pub worker_id: Option<String>,
    pub cancel_requested: bool,
    pub progress_current: u64,
    pub progress_total: u64,
    pub progress_message: Option<String>,
    pub batch_id: Option<String>,
    pub label: Option<String>,
    /// How the plugin words its end.
    pub wording: Option<Wording>,
}

const RECORD_COLUMNS: &str = "id, job_type, input, result, source, metadata, status, priority, attempt, max_attempts, \
     last_error, created_at, scheduled_at, started_at, finished_at, lease_expires_at, worker_id, cancel_requested, \
     progress_current, progress_total, progress_message, batch_id, label, wording";

fn json_column(text: Option<String>) -> Option<serde_json::Value> {
    // A column that is not JSON (edited by hand) is shown as a string rather than lost.
    text.map(|t| serde_json::from_str(&t).unwrap_or(serde_json::Value::String(t)))
}

fn record_from_row(row: &Row<'_>) -> rusqlite::Result<(JobRecord, String)> {
    let source: String = row.get(4)?;
    let status: String = row.get(6)?;
    let record = JobRecord {
        id: row.get(0)?,
        job_type: row.get(1)?,
        input: json_column(row.get(2)?).unwrap_or_default(),
        result: json_column(row.get(3)?),
        source: source.parse().unwrap_or_else(|_| Source::system()),
        metadata: json_column(row.get(5)?),
        status: JobStatus::parse(&status).unwrap_or(JobStatus::Failed),
        priority: row.get(7)?,
        attempt: row.get(8)?,
        max_attempts: row.get(9)?,
        last_error: row.get(10)?,
        created_at: row.get(11)?,
        scheduled_at: row.get(12)?,
        started_at: row.get(13)?,
        finished_at: row.get(14)?,
        lease_expires_at: row.get(15)?,
        worker_id: row.get(16)?,
        cancel_requested: row.get(17)?,
        progress_current: row.get::<_, i64>(18)?.max(0) as u64,
        progress_total: row.get::<_, i64>(19)?.max(0) as u64,
        progress_message: row.get(20)?,
        batch_id: row.get(21)?,
        label: row.get(22)?,
        wording: wording_column(row.get(23)?),
    };
    Ok((record, status))
}

/// A line of a job's log as stored.
#[derive(Debug, Clone)]
pub(crate) struct LogRow {
    pub(crate) job_id: String,
    pub(crate) at: i64,
    pub(crate) attempt: u32,
    pub(crate) kind: String,
    pub(crate) message: String,
}

/// A running item of a batch, for its "current operation".
#[derive(Debug, Clone)]
pub(crate) struct RunningItem {
    pub(crate) label: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) started_at: Option<i64>,
}

/// Filters for listings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Only pending and processing jobs.
    pub active: bool,
    pub job_type: Option<String>,
    pub source: Option<Source>,
    /// Only work in this state (a batch's state is derived from its jobs').
    pub status: Option<JobStatus>,
    /// Only work created at or after this time (ms since the epoch).
    pub since: Option<i64>,
    /// Include jobs that belong to a batch (listed once as their batch otherwise).
    pub include_batch_items: bool,
    pub limit: usize,
}

/// Read access for status queries; WAL lets it run beside the writer and other processes.
pub(crate) struct Reader {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl Reader {
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let conn = schema::connect(path)?;
        conn.pragma_update(None, "query_only", true)?;
        Ok(Self {
            conn: Mutex::new(conn),
            path: path.to_owned(),
        })
    }

    /// Runs `f` on the read connection, retrying while the database is busy.
    pub(crate) fn with<T>(&self, f: impl Fn(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let mut delay = Duration::from_millis(2);
        for _ in 0..50 {
            match f(&conn) {
                Err(QueueError::Sqlite(e)) if is_busy(&e) => {
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_millis(200));
                }
                other => return other.map_err(|e| e.naming(&self.path)),
            }
        }
        f(&conn).map_err(|e| e.naming(&self.path))
    }

    pub(crate) fn job(&self, id: &str) -> Result<Option<JobRecord>> {
        let sql = format!("SELECT {RECORD_COLUMNS} FROM jobs WHERE id = ?1");
        self.with(|c| {
            let found = c
                .prepare_cached(&sql)?
                .query_row([id], record_from_row)
                .optional()?;
            found
                .map(|(record, status)| {
                    status_from(&status)?;
                    Ok(record)
                })
                .transpose()
        })
    }

    pub(crate) fn batch(&self, id: &str) -> Result<Option<BatchRow>> {
        self.with(|c| batch_row(c, id))
    }

    /// Job `id`'s log lines, or (`batch`) those of the batch's items, oldest first; at most
    /// `limit`.
    pub(crate) fn log_lines(&self, id: &str, batch: bool, limit: usize) -> Result<Vec<LogRow>> {
        let column = if batch { "j.batch_id" } else { "j.id" };
        let sql = format!(
            "SELECT j.id, l.at, l.attempt, l.kind, l.message FROM job_log l \
             JOIN jobs j ON j.seq = l.job_seq WHERE {column} = ?1 ORDER BY l.id LIMIT ?2"
        );
        self.with(|c| {
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![id, limit as i64], |r| {
                Ok(LogRow {
                    job_id: r.get(0)?,
                    at: r.get(1)?,
                    attempt: r.get(2)?,
                    kind: r.get(3)?,
                    message: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Up to `limit` items of batch `id`, in the order they were added.
    pub(crate) fn batch_items(&self, id: &str, limit: usize) -> Result<Vec<JobRecord>> {
        let sql =
            format!("SELECT {RECORD_COLUMNS} FROM jobs WHERE batch_id = ?1 ORDER BY seq LIMIT ?2");
        self.with(|c| {
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![id, limit as i64], |r| {
                record_from_row(r).map(|(record, _)| record)
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Whether a job or batch has exactly this id (its index only; nothing else read).
    pub(crate) fn id_exists(&self, id: &str) -> Result<bool> {
        self.with(|c| {
            let sql = if id.starts_with("batch_") {
                "SELECT 1 FROM batches WHERE id = ?1"
            } else {
                "SELECT 1 FROM jobs WHERE id = ?1"
            };
            Ok(c.prepare_cached(sql)?
                .query_row([id], |_| Ok(()))
                .optional()?
                .is_some())
        })
    }

    /// Up to `limit` job and batch ids that start with `prefix` (of `a-z`, `0-9`, `_`
    /// only), each table read along its id index.
    pub(crate) fn ids_with_prefix(&self, prefix: &str, limit: usize) -> Result<Vec<String>> {
        // Ids are made of `a-z`, `0-9` and `_`, all below `~`: `[prefix, prefix~)` is
        // exactly the ids that start with it.
        let end = format!("{prefix}~");
        self.with(|c| {
            let mut out = Vec::new();
            for sql in [
                "SELECT id FROM batches WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT ?3",
                "SELECT id FROM jobs WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT ?3",
            ] {
                let mut stmt = c.prepare_cached(sql)?;
                let rows = stmt.query_map(params![prefix, end, limit as i64], |r| r.get(0))?;
                for row in rows {
                    out.push(row?);
                }
            }
            out.truncate(limit);
            Ok(out)
        })
    }

    /// Up to `limit` running items of a batch, most recently started first.
    pub(crate) fn batch_running(&self, id: &str, limit: usize) -> Result<Vec<RunningItem>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT label, progress_message, started_at FROM jobs \
                 WHERE batch_id = ?1 AND status = 'processing' \
                 ORDER BY started_at DESC LIMIT ?2 + 0",
            )?;
            let rows = stmt.query_map(params![id, limit as i64], |r| {
                Ok(RunningItem {
                    label: r.get(0)?,
                    message: r.get(1)?,
                    started_at: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// The summed durations (ms) and the number of up to `sample` completed items of a
    /// batch: what its items take, for its ETA. A sample keeps this cheap for huge batches.
    pub(crate) fn batch_done_durations(&self, id: &str, sample: usize) -> Result<(u64, u64)> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT COALESCE(SUM(took), 0), COUNT(*) FROM ( \
                   SELECT MAX(finished_at - started_at, 0) AS took FROM jobs \
                   WHERE batch_id = ?1 AND status = 'completed' AND started_at IS NOT NULL \
                   LIMIT ?2 + 0)",
            )?;
            let (total, count): (i64, i64) =
                stmt.query_row(params![id, sample as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok((total.max(0) as u64, count.max(0) as u64))
        })
    }

    /// Up to `limit` failed items of a batch with their errors.
    pub(crate) fn batch_errors(
        &self,
        id: &str,
        limit: usize,
    ) -> Result<Vec<brain_plugin_api::ItemError>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, label, last_error FROM jobs WHERE batch_id = ?1 AND status = 'failed' LIMIT ?2 + 0",
            )?;
            let rows = stmt.query_map(params![id, limit as i64], |r| {
                Ok(brain_plugin_api::ItemError {
                    job_id: r.get(0)?,
                    label: r.get(1)?,
                    error: r.get::<_, Option<String>>(2)?.unwrap_or_else(|| "failed".into()),
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Jobs matching `filter`: active ones newest first, then (unless `filter.active`) the
    /// most recently finished. Each part walks a partial index, so a long history costs
    /// nothing here.
    pub(crate) fn list_jobs(&self, filter: &ListFilter) -> Result<Vec<JobRecord>> {
        let mut conditions = String::new();
        let mut values: Vec<rusqlite::types::Value> = Vec::new();
        if !filter.include_batch_items {
            conditions.push_str(" AND batch_id IS NULL");
        }
        if let Some(t) = &filter.job_type {
            values.push(t.clone().into());
            conditions.push_str(&format!(" AND job_type = ?{}", values.len()));
        }
        if let Some(s) = &filter.source {
            values.push(s.as_str().to_owned().into());
            conditions.push_str(&format!(" AND source = ?{}", values.len()));
        }
        if let Some(status) = filter.status {
            values.push(status.as_str().to_owned().into());
            conditions.push_str(&format!(" AND status = ?{}", values.len()));
        }
        if let Some(since) = filter.since {
            values.push(since.into());
            conditions.push_str(&format!(" AND created_at >= ?{}", values.len()));
        }
        values.push((filter.limit.max(1) as i64).into());
        let limit = values.len();
        let active = format!(
            "SELECT {RECORD_COLUMNS} FROM jobs WHERE status IN ('pending', 'processing'){conditions} \
             ORDER BY created_at DESC LIMIT ?{limit} + 0"
        );
        let finished = format!(
            "SELECT {RECORD_COLUMNS} FROM jobs WHERE finished_at IS NOT NULL{conditions} \
             ORDER BY finished_at DESC LIMIT ?{limit} + 0"
        );
        let wants = |finished: bool| filter.status.is_none_or(|s| s.is_finished() == finished);
        self.with(|c| {
            let mut out = Vec::new();
            let mut queries: Vec<&str> = Vec::new();
            if wants(false) {
                queries.push(&active);
            }
            if !filter.active && wants(true) {
                queries.push(&finished);
            }
            for sql in queries {
                let mut stmt = c.prepare_cached(sql)?;
                let rows = stmt.query_map(rusqlite::params_from_iter(values.iter()), |r| {
                    record_from_row(r).map(|(record, _)| record)
                })?;
                for row in rows {
                    out.push(row?);
                }
            }
            Ok(out)
        })
    }

    /// Batches matching `filter`: unfinished ones newest first, then (unless
    /// `filter.active`) those finished most recently — since `filter.since` if given, else
    /// in the last `history` ms.
    pub(crate) fn list_batches(&self, filter: &ListFilter, history: i64) -> Result<Vec<BatchRow>> {
        let mut conditions = String::new();
        let mut values: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(t) = &filter.job_type {
            values.push(t.clone().into());
            conditions.push_str(&format!(" AND job_type = ?{}", values.len()));
        }
        if let Some(s) = &filter.source {
            values.push(s.as_str().to_owned().into());
            conditions.push_str(&format!(" AND source = ?{}", values.len()));
        }
        // A batch's state as `BatchRow::status` derives it from its counters.
        conditions.push_str(match filter.status {
            None => "",
            Some(JobStatus::Pending) => {
                " AND started_at IS NULL AND processing = 0 \
                 AND completed + failed + cancelled = 0"
            }
            Some(JobStatus::Processing) => {
                " AND NOT (started_at IS NULL AND processing = 0 \
                 AND completed + failed + cancelled = 0)"
            }
            Some(JobStatus::Completed) => " AND failed + cancelled = 0",
            Some(JobStatus::Failed) => " AND failed > 0",
            Some(JobStatus::Cancelled) => " AND failed = 0 AND cancelled > 0",
        });
        let finished_since = match filter.since {
            Some(since) => {
                values.push(since.into());
                conditions.push_str(&format!(" AND created_at >= ?{}", values.len()));
                i64::MIN
            }
            None => now_ms().saturating_sub(history),
        };
        values.push(finished_since.into());
        let since = values.len();
        values.push((filter.limit.max(1) as i64).into());
        let limit = values.len();
        // Both queries take every value, so the active one names `since` too (SQLite
        // refuses values a statement does not use).
        let active = format!(
            "SELECT {BATCH_COLUMNS} FROM batches WHERE finished_at IS NULL{conditions} \
             AND ?{since} IS NOT NULL ORDER BY created_at DESC LIMIT ?{limit} + 0"
        );
        let finished = format!(
            "SELECT {BATCH_COLUMNS} FROM batches WHERE finished_at >= ?{since}{conditions} \
             ORDER BY finished_at DESC LIMIT ?{limit} + 0"
        );
        let wants = |finished: bool| filter.status.is_none_or(|s| s.is_finished() == finished);
        self.with(|c| {
            let mut out = Vec::new();
            let mut queries: Vec<&str> = Vec::new();
            if wants(false) {
                queries.push(&active);
            }
            if !filter.active && wants(true) {
                queries.push(&finished);
            }
            for sql in queries {
                let mut stmt = c.prepare_cached(sql)?;
                let rows =
                    stmt.query_map(rusqlite::params_from_iter(values.iter()), batch_from_row)?;
                for row in rows {
                    out.push(row?);
                }
            }
            Ok(out)
        })
    }

    /// Workers whose heartbeat is recent enough that they are presumed alive.
    pub(crate) fn live_workers(&self, now: i64) -> Result<Vec<WorkerRow>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, pid, host, lease_ms, concurrency, job_types, wake_port, scope FROM workers \
                 WHERE heartbeat_at + lease_ms >= ?1",
            )?;
            let rows = stmt.query_map([now], |r| {
                let types: String = r.get(5)?;
                Ok(WorkerRow {
                    id: r.get(0)?,
                    pid: r.get(1)?,
                    host: r.get(2)?,
                    lease_ms: r.get(3)?,
                    concurrency: r.get(4)?,
                    job_types: types
                        .split(',')
                        .filter(|t| !t.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    wake_port: r.get(6)?,
                    scope: r
                        .get::<_, Option<String>>(7)?
                        .map(|s| s.split(',').filter(|i| !i.is_empty()).map(str::to_owned).collect()),
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// All worker rows (live or not), for start-up recovery.
    pub(crate) fn all_workers(&self) -> Result<Vec<WorkerRow>> {
        self.live_workers(i64::MIN / 4)
    }

    /// When the next claimable job of these types (in `scope`, when given) becomes due.
    pub(crate) fn next_due(
        &self,
        types: &[String],
        scope: Option<&[String]>,
    ) -> Result<Option<i64>> {
        if types.is_empty() || scope.is_some_and(|s| s.is_empty()) {
            return Ok(None);
        }
        let due = due_condition(types.len(), scope.map_or(0, |s| s.len()), 1);
        let sql = format!("SELECT MIN(scheduled_at) FROM jobs WHERE {due}");
        self.with(|c| {
            Ok(c.prepare_cached(&sql)?.query_row(
                rusqlite::params_from_iter(types.iter().chain(scope.into_iter().flatten())),
                |r| r.get(0),
            )?)
        })
    }

    /// The ids a job (or a batch's waiting jobs) waits for, in the order they were named.
    pub(crate) fn dependencies(&self, id: &str) -> Result<Vec<String>> {
        self.with(|c| {
            let sql = if id.starts_with("batch_") {
                // A batch's jobs share its dependencies; any job that still waits shows them.
                "SELECT d.after_id FROM job_deps d WHERE d.job_seq = (SELECT seq FROM jobs \
                 WHERE batch_id = ?1 AND status = 'pending' AND waiting_on > 0 LIMIT 1)"
            } else {
                "SELECT d.after_id FROM job_deps d WHERE d.job_seq = (SELECT seq FROM jobs WHERE id = ?1)"
            };
            let mut stmt = c.prepare_cached(sql)?;
            let rows = stmt.query_map([id], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Ids of unfinished batches whose jobs are all of `job_type`, and of unfinished jobs of
    /// that type outside batches, oldest first.
    pub(crate) fn active_of_type(&self, job_type: &str) -> Result<Vec<String>> {
        self.with(|c| {
            let mut out: Vec<(i64, String)> = Vec::new();
            for sql in [
                "SELECT created_at, id FROM batches WHERE finished_at IS NULL AND job_type = ?1",
                "SELECT created_at, id FROM jobs WHERE status IN ('pending', 'processing') \
                 AND batch_id IS NULL AND job_type = ?1",
                // Ended, but their files are not all in place yet: not over for what must
                // come after them.
                "SELECT j.created_at, COALESCE(j.batch_id, j.id) FROM outbox o CROSS \
                 JOIN jobs j ON j.id = o.job_id WHERE j.job_type = ?1",
            ] {
                let mut stmt = c.prepare_cached(sql)?;
                let rows = stmt.query_map([job_type], |r| Ok((r.get(0)?, r.get(1)?)))?;
                for row in rows {
                    out.push(row?);
                }
            }
            out.sort();
            let mut ids: Vec<String> = Vec::with_capacity(out.len());
            for (_, id) in out {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            Ok(ids)
        })
    }

    /// Effects stored with a completion and not applied yet, oldest first: (row id, effect).
    /// For `job_id` only, or all of them.
    pub(crate) fn outbox(&self, job_id: Option<&str>) -> Result<Vec<(i64, SideEffect)>> {
        self.with(|c| {
            let sql = if job_id.is_some() {
                "SELECT id, kind, path, target, bytes FROM outbox WHERE job_id = ?1 ORDER BY id"
            } else {
                "SELECT id, kind, path, target, bytes FROM outbox ORDER BY id"
            };
            let mut stmt = c.prepare_cached(sql)?;
            let read = |r: &Row<'_>| {
                let kind: String = r.get(1)?;
                let path = PathBuf::from(r.get::<_, String>(2)?);
                let effect = match kind.as_str() {
                    "write" => Some(SideEffect::WriteFile {
                        path,
                        bytes: r.get::<_, Option<Vec<u8>>>(4)?.unwrap_or_default(),
                    }),
                    "remove" => Some(SideEffect::RemoveFile { path }),
                    "remove-empty-dir" => Some(SideEffect::RemoveEmptyDir { path }),
                    "replace-dir" => {
                        r.get::<_, Option<String>>(3)?
                            .map(|to| SideEffect::ReplaceDir {
                                from: path,
                                to: PathBuf::from(to),
                            })
                    }
                    _ => None,
                };
                Ok((r.get::<_, i64>(0)?, effect))
            };
            let rows = match job_id {
                Some(id) => stmt
                    .query_map([id], read)?
                    .collect::<rusqlite::Result<Vec<_>>>()?,
                None => stmt
                    .query_map([], read)?
                    .collect::<rusqlite::Result<Vec<_>>>()?,
            };
            // A kind this build does not know (written by a newer one) is left alone.
            Ok(rows
                .into_iter()
                .filter_map(|(id, effect)| effect.map(|e| (id, e)))
                .collect())
        })
    }

    pub(crate) fn estimates(&self) -> Result<Vec<(String, f64, f64, u64)>> {
        self.with(|c| {
            let mut stmt =
                c.prepare_cached("SELECT job_type, mean_ms, var_ms2, samples FROM estimates")?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get::<_, i64>(3)?.max(0) as u64,
                ))
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }
}

/// How often the background thread folds the write-ahead log back into the database.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(500);

/// Starts a thread that checkpoints the WAL from its own connection, so the writer never
/// stalls a commit on a checkpoint (they cost several milliseconds each). It stops when
/// the returned sender is dropped.
pub(crate) fn start_checkpointer(path: &Path) -> Result<std::sync::mpsc::Sender<()>> {
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let conn = schema::connect(path)?;
    std::thread::Builder::new()
        .name("brain-queue-checkpoint".into())
        .spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                stopped.recv_timeout(CHECKPOINT_INTERVAL)
            {
                // PASSIVE never waits for readers or writers; what it cannot do now it does
                // next time.
                if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                {
                    tracing::debug!(%error, "checkpoint skipped");
                }
            }
        })
        .map_err(|source| QueueError::Io {
            path: PathBuf::from("<checkpoint thread>"),
            source,
        })?;
    Ok(stop)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A job's log keeps its newest lines, however many it reports, each cut to size.
    #[test]
    fn a_jobs_log_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let conn = schema::open_and_migrate(&dir.path().join("brain.db")).unwrap();
        conn.execute(
            "INSERT INTO jobs (seq, id, job_type, input, source, status, max_attempts, created_at, scheduled_at) \
             VALUES (7, 'job_a', 't:x', '{}', 'cli', 'processing', 3, 0, 0)",
            [],
        )
        .unwrap();
        let total = LOG_ROWS_PER_JOB + 50;
        for i in 0..total {
            log_progress(&conn, 7, i, &format!("item {i}")).unwrap();
        }
        // The same message again adds nothing; an empty one neither.
        log_progress(&conn, 7, total, &format!("item {}", total - 1)).unwrap();
        log_progress(&conn, 7, total, "").unwrap();
        append_log(&conn, 7, total, "error", &"x".repeat(5_000)).unwrap();
        let rows: Vec<(String, String)> = conn
            .prepare("SELECT kind, message FROM job_log WHERE job_seq = 7 ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(rows.len() as i64, LOG_ROWS_PER_JOB);
        assert_eq!(rows[0].1, format!("item {}", total - LOG_ROWS_PER_JOB + 1));
        let (kind, message) = rows.last().unwrap();
        assert_eq!(kind, "error");
        assert_eq!(
            message.chars().count(),
            LOG_MESSAGE_MAX + 1,
            "cut, with an ellipsis"
        );
        // Deleting the job deletes its log.
        conn.execute("DELETE FROM jobs WHERE seq = 7", []).unwrap();
        let left: i64 = conn
            .query_row("SELECT COUNT(*) FROM job_log", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0);
    }
}
