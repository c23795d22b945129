//! The storage driver boundary: what the queue asks of the database that holds its jobs.
//!
//! [`Driver`] has one typed method per operation (the params and answers are in [`ops`]),
//! in the manner of River's `riverdriver`: the queue, its worker pools and its monitor
//! speak only this trait, and each driver keeps its SQL beside the operation it serves.
//! [`sqlite`] is the embedded driver (one group-commit writer thread, a reader beside it);
//! maintenance services (sweeping expired leases, pruning, checkpointing) are named
//! operations too. The types here are what the rest of the queue sees of stored work.

pub(crate) mod history;
pub(crate) mod ops;
pub(crate) mod postgres;
pub(crate) mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use brain_plugin_api::{ItemError, JobStatus, SideEffect, Source, Wording};

use crate::error::{QueueError, Result};
pub(crate) use ops::*;

/// What the operations of one transaction changed: the effects to report after the commit,
/// and the batches whose counters to report with them.
#[derive(Default)]
pub(crate) struct Changes {
    pub(crate) effects: Vec<Effect>,
    pub(crate) batches: Vec<String>,
    /// New work is due: other processes' pools should look (drivers that wake them from
    /// the database: PostgreSQL's NOTIFY).
    pub(crate) wake_work: bool,
    /// Running work was asked to cancel: its pools should check.
    pub(crate) wake_check: bool,
}

/// Answers the caller of a write once its transaction has ended (`committed`) with what
/// the write returned; when nobody waits for it, a failure is logged instead.
pub(crate) fn answer<T>(
    out: Option<T>,
    reply: Option<tokio::sync::oneshot::Sender<Result<T>>>,
    committed: Result<()>,
    what: &str,
) {
    let answer = committed.and_then(|()| out.ok_or(QueueError::Closed));
    match reply {
        // A caller that stopped waiting is fine to ignore.
        Some(reply) => drop(reply.send(answer)),
        None => {
            if let Err(error) = answer {
                tracing::warn!(%error, "could not {what}");
            }
        }
    }
}

/// Where a driver reports committed changes (after each commit, in commit order).
pub(crate) type EffectSink = Box<dyn Fn(Vec<Effect>) + Send>;

/// A job database. Writes answer after their change is durable; what they changed is also
/// reported to the [`EffectSink`] the driver was opened with.
#[async_trait]
pub(crate) trait Driver: Send + Sync + 'static {
    /// Wake-ups from other processes that come through the database (PostgreSQL's
    /// NOTIFY): `b'w'` new work may be due, `b'c'` check running jobs for cancellation.
    /// `None`: the driver has none (SQLite's processes wake each other by datagram).
    fn wake_ups(&self) -> Option<tokio::sync::broadcast::Receiver<u8>> {
        None
    }

    // Writes.
    async fn enqueue(&self, op: Enqueue) -> Result<Inserted>;
    async fn claim(&self, op: Claim) -> Result<Vec<Claimed>>;
    /// `false` when the lease is no longer the worker's (fenced by its token).
    async fn finish(&self, op: Finish) -> Result<bool>;
    async fn heartbeat(&self, op: Heartbeat) -> Result<HeartbeatResult>;
    /// Saves a progress snapshot without waiting; a failure is logged.
    fn save_progress(&self, op: SaveProgress);
    async fn cancel(&self, op: Cancel) -> Result<CancelResult>;
    async fn retry(&self, op: Retry) -> Result<u64>;
    async fn register_worker(&self, op: RegisterWorker) -> Result<()>;
    async fn unregister_worker(&self, op: UnregisterWorker) -> Result<()>;
    async fn save_estimates(&self, op: SaveEstimates) -> Result<()>;
    /// [`Driver::save_estimates`] without waiting; a failure is logged.
    fn save_estimates_later(&self, op: SaveEstimates);
    async fn outbox_done(&self, op: OutboxDone) -> Result<()>;

    // Maintenance services.
    async fn sweep(&self, op: Sweep) -> Result<u64>;
    async fn prune(&self, op: Prune) -> Result<u64>;

    // Reads.
    async fn job(&self, id: &str) -> Result<Option<JobRecord>>;
    async fn batch(&self, id: &str) -> Result<Option<BatchRow>>;
    async fn id_exists(&self, id: &str) -> Result<bool>;
    /// Job and batch ids starting with `prefix`, in order, at most `limit`.
    async fn ids_with_prefix(&self, prefix: &str, limit: usize) -> Result<Vec<String>>;
    /// The log of job `id`, or of batch `id`'s items, oldest first, at most `limit` lines.
    async fn log_lines(&self, id: &str, batch: bool, limit: usize) -> Result<Vec<LogRow>>;
    async fn batch_items(&self, id: &str, limit: usize) -> Result<Vec<JobRecord>>;
    async fn batch_running(&self, id: &str, limit: usize) -> Result<Vec<RunningItem>>;
    /// (total ms, count) over at most `sample` of the batch's most recently completed items.
    async fn batch_done_durations(&self, id: &str, sample: usize) -> Result<(u64, u64)>;
    async fn batch_errors(&self, id: &str, limit: usize) -> Result<Vec<ItemError>>;
    async fn list_jobs(&self, filter: &ListFilter) -> Result<Vec<JobRecord>>;
    /// Batches matching `filter`; without `since`, those unfinished or finished in the
    /// last `history` ms.
    async fn list_batches(&self, filter: &ListFilter, history: i64) -> Result<Vec<BatchRow>>;
    /// Workers whose heartbeat is recent at `now`.
    async fn live_workers(&self, now: i64) -> Result<Vec<WorkerRow>>;
    async fn all_workers(&self) -> Result<Vec<WorkerRow>>;
    /// When the next job of `types` (in `scope`) becomes due, if any waits.
    async fn next_due(&self, types: &[String], scope: Option<&[String]>) -> Result<Option<i64>>;
    /// The unfinished work `id` waits for directly.
    async fn dependencies(&self, id: &str) -> Result<Vec<String>>;
    /// How many runs of job `id` (or of batch `id`'s jobs) were taken back from a worker
    /// that stopped: their `lost` log lines.
    async fn rescued(&self, id: &str) -> Result<u64>;
    async fn active_of_type(&self, job_type: &str) -> Result<Vec<String>>;
    /// Staged side effects not yet applied: of `job_id`, or all.
    async fn outbox(&self, job_id: Option<&str>) -> Result<Vec<(i64, SideEffect)>>;
    /// A page of the operations history (see [`history`]), each list newest first.
    async fn history(&self, query: &brain_plugin_api::HistoryQuery)
    -> Result<history::HistoryRows>;
    /// The queue's counts at `now`, with the jobs that ended since `since`.
    async fn stats(&self, now: i64, since: i64) -> Result<history::StatsRows>;
    /// Each job type's saved duration statistics: (type, mean ms, variance ms², samples).
    async fn estimates(&self) -> Result<Vec<(String, f64, f64, u64)>>;
    /// The latest `limit` completed runs of `job_type`, newest first: (id, finished at,
    /// estimated ms, took ms).
    async fn recent_runs(&self, job_type: &str, limit: usize) -> Result<Vec<history::RunRow>>;
}

/// The statement counting the rescued runs of a batch's jobs (`$1`: the batch id) or of
/// one job (`$1`: its id): each walks an index of `jobs`, then `job_log_job`.
pub(crate) fn rescued_sql(id: &str) -> &'static str {
    if id.starts_with("batch_") {
        "SELECT count(*) FROM jobs j JOIN job_log l ON l.job_seq = j.seq \
         WHERE j.batch_id = $1 AND l.kind = 'lost'"
    } else {
        "SELECT count(*) FROM jobs j JOIN job_log l ON l.job_seq = j.seq \
         WHERE j.id = $1 AND l.kind = 'lost'"
    }
}

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

/// A running job's progress as stored.
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
    pub(crate) fn ended(&self) -> Option<bool> {
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
    /// The duration it was expected to take when it was queued (ms).
    pub estimated_ms: Option<i64>,
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

// How values are stored, whichever the driver.

/// A wording as stored: JSON.
pub(crate) fn wording_text(wording: Option<&Wording>) -> Option<String> {
    wording.and_then(|w| serde_json::to_string(w).ok())
}

/// A stored wording; one that does not parse (edited by hand) is no wording.
pub(crate) fn wording_column(text: Option<String>) -> Option<Wording> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

pub(crate) fn status_from(value: &str) -> Result<JobStatus> {
    JobStatus::parse(value)
        .ok_or_else(|| QueueError::Corrupt(format!("unknown job status {value:?}")))
}

pub(crate) fn json_column(text: Option<String>) -> Option<serde_json::Value> {
    // A column that is not JSON (edited by hand) is shown as a string rather than lost.
    text.map(|t| serde_json::from_str(&t).unwrap_or(serde_json::Value::String(t)))
}

/// The most log lines a job keeps (the oldest go first): a job that reports a new message
/// for each of thousands of items keeps its last ones, and the database stays small.
pub(crate) const LOG_ROWS_PER_JOB: i64 = 200;

/// The longest log message kept, in characters.
pub(crate) const LOG_MESSAGE_MAX: usize = 1_000;
