//! The typed operations of the storage driver boundary: one params struct per operation,
//! with its answer type. Every driver implements each (see [`super::Driver`]); the SQL
//! lives with the driver, beside the operation it serves.

use std::sync::Arc;

use brain_plugin_api::{SideEffect, Source, Wording};

use super::{JobHead, ProgressRow};

// ---- Enqueue: jobs, and the batch they make, stored at once.
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
    /// What a run of its type was expected to take when it was queued (ms): the estimate
    /// it was given, kept to compare with what it took.
    pub(crate) estimated_ms: Option<i64>,
}

impl InsertJob {
    /// The head of the row just stored as `seq`.
    pub(crate) fn head(&self, seq: i64, batch_id: Option<&str>) -> Arc<JobHead> {
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

/// The batch an enqueue creates, if any.
#[derive(Debug, Clone)]
pub(crate) struct InsertBatch {
    pub(crate) id: String,
    pub(crate) source: Source,
    pub(crate) label: Option<String>,
    pub(crate) metadata: Option<String>,
    pub(crate) job_type: Option<String>,
    pub(crate) wording: Option<Wording>,
}

/// Stores `jobs`, in `batch` when there is one.
pub(crate) struct Enqueue {
    pub(crate) batch: Option<InsertBatch>,
    pub(crate) jobs: Vec<InsertJob>,
}

// ---- Claim: due jobs leased to a worker.
/// A job a worker has claimed.
#[derive(Debug)]
pub(crate) struct Claimed {
    pub(crate) head: Arc<JobHead>,
    pub(crate) input: String,
    pub(crate) lease_token: i64,
}

/// Leases up to `limit` due jobs to `worker_id`.
pub(crate) struct Claim {
    pub(crate) worker_id: Arc<str>,
    pub(crate) types: Arc<[String]>,
    /// Only jobs with one of these ids or batch ids (a scoped pool).
    pub(crate) scope: Option<Arc<[String]>>,
    pub(crate) limit: usize,
    pub(crate) lease_ms: i64,
}

// ---- Finish: a run's end, fenced by its lease token.
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

/// Ends the run of `head` leased under `lease_token`; `false` when the lease is no longer
/// its (the job was rescued, cancelled or pruned meanwhile).
pub(crate) struct Finish {
    pub(crate) head: Arc<JobHead>,
    pub(crate) lease_token: i64,
    pub(crate) outcome: Outcome,
    pub(crate) progress: Option<ProgressRow>,
}

// ---- Heartbeat and progress: leases extended, snapshots saved.
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

/// Extends `leases` (seq, lease token, progress) of `worker_id` by `lease_ms`.
pub(crate) struct Heartbeat {
    pub(crate) worker_id: Arc<str>,
    pub(crate) leases: Vec<(i64, i64, ProgressRow)>,
    pub(crate) lease_ms: i64,
}

/// Saves a running job's progress for watchers in other processes.
pub(crate) struct SaveProgress {
    pub(crate) seq: i64,
    pub(crate) lease_token: i64,
    pub(crate) progress: ProgressRow,
}

// ---- Cancel.
/// The answer to a cancel request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CancelResult {
    /// Pending jobs cancelled at once.
    pub(crate) cancelled: u64,
    /// Running jobs asked to stop: (seq, worker id).
    pub(crate) requested: Vec<(i64, Option<String>)>,
    pub(crate) found: bool,
}

/// Cancels job or batch `id`.
pub(crate) struct Cancel {
    pub(crate) id: String,
}

// ---- Retry.
/// Puts failed job `id` (or every failed item of batch `id`) back in the queue with a fresh
/// set of attempts and no trace of the last run but its log; a job whose unique key is
/// taken again meanwhile is left failed. Returns how many went back.
pub(crate) struct Retry {
    pub(crate) id: String,
}

// ---- Worker presence.
#[derive(Debug, Clone)]
pub(crate) struct WorkerRow {
    pub(crate) id: String,
    pub(crate) pid: u32,
    pub(crate) host: String,
    pub(crate) started_at: i64,
    pub(crate) heartbeat_at: i64,
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

/// Registers a worker pool, or refreshes its row.
pub(crate) struct RegisterWorker {
    pub(crate) worker: WorkerRow,
}

/// Removes a worker pool's row.
pub(crate) struct UnregisterWorker {
    pub(crate) id: String,
}

// ---- Duration estimates.
/// Saves (job type, mean ms, variance ms², samples) rows.
pub(crate) struct SaveEstimates {
    pub(crate) rows: Vec<(String, f64, f64, u64)>,
}

// ---- Outbox: side effects applied.
/// Removes the outbox rows `ids`.
pub(crate) struct OutboxDone {
    pub(crate) ids: Vec<i64>,
}

// ---- Sweep (maintenance): rescue of expired leases and dead workers' jobs.
/// Rescues the jobs of `dead_workers` and of expired leases.
pub(crate) struct Sweep {
    pub(crate) dead_workers: Vec<String>,
    /// Workers whose process is alive on this host (paused, say): their rows stay,
    /// however old their heartbeat.
    pub(crate) alive_workers: Vec<String>,
}

// ---- Prune (maintenance): finished work past its retention.
/// Deletes up to `limit` jobs finished before `before`, and batches left empty.
pub(crate) struct Prune {
    pub(crate) before: i64,
    pub(crate) limit: usize,
}
