//! The job store: typed operations on the job database, and the rows they read and write.
//!
//! Each write is an operation of its own (`ops/`: enqueue, claim, finish, heartbeat,
//! cancel, retry, workers, estimates, outbox), a params struct whose `run` holds its SQL
//! and returns its own answer type, run by the group-commit [`Writer`]. Sweeping expired
//! leases, pruning and checkpointing are maintenance services (`maintenance/`). Reads are
//! the [`Reader`]'s. The types here are what the rest of the queue sees of stored work.

mod deps;
pub(crate) mod maintenance {
    pub(crate) mod checkpoint;
    pub(crate) mod prune;
    pub(crate) mod sweep;
}
pub(crate) mod ops {
    pub(crate) mod cancel;
    pub(crate) mod claim;
    pub(crate) mod enqueue;
    pub(crate) mod estimates;
    pub(crate) mod finish;
    pub(crate) mod heartbeat;
    pub(crate) mod outbox;
    pub(crate) mod retry;
    pub(crate) mod workers;
}
mod reader;
mod rows;
mod writer;

use std::sync::Arc;

use brain_plugin_api::{JobStatus, Source, Wording};

pub(crate) use maintenance::checkpoint::start_checkpointer;
pub(crate) use maintenance::prune::Prune;
pub(crate) use maintenance::sweep::Sweep;
pub(crate) use ops::cancel::Cancel;
pub(crate) use ops::claim::{Claim, Claimed};
pub(crate) use ops::enqueue::{Enqueue, InsertBatch, InsertJob};
pub(crate) use ops::estimates::SaveEstimates;
pub(crate) use ops::finish::{Finish, Outcome};
pub(crate) use ops::heartbeat::{Heartbeat, SaveProgress};
pub(crate) use ops::outbox::OutboxDone;
pub(crate) use ops::retry::Retry;
pub(crate) use ops::workers::{RegisterWorker, UnregisterWorker, WorkerRow};
pub(crate) use reader::Reader;
pub(crate) use rows::LOG_ROWS_PER_JOB;
pub(crate) use writer::{Writer, is_busy};

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
