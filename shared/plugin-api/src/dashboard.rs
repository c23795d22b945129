//! What a dashboard reads beyond a status: a page of the operations history, the queue's
//! counts and live workers, the learned durations, and one operation's full record.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::response::{JobLogLine, JobStatus, ListedJob};

/// Which operations a history page lists (jobs outside batches, and batches), newest
/// first. Every field narrows the page; none given: the whole history.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryQuery {
    pub status: Option<JobStatus>,
    pub job_type: Option<String>,
    /// A source kind: `cli`, `mcp`, `matrix`, `web`, `system`, …
    pub source: Option<String>,
    /// Created at or after (ms since the epoch).
    pub since: Option<i64>,
    /// Created before (ms since the epoch).
    pub until: Option<i64>,
    /// Text found in the label, or in the error of the job or of a batch's failed item.
    pub search: Option<String>,
    /// The `next` of the page before: only older operations.
    pub before: Option<String>,
    /// 1–500.
    pub limit: usize,
}

/// One page of the history.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryPage {
    pub ops: Vec<ListedJob>,
    /// Where the next (older) page starts; `None` on the last page.
    pub next: Option<String>,
}

/// A process that runs workers, as its presence row says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerEntry {
    pub id: String,
    pub pid: u32,
    pub host: String,
    pub concurrency: u32,
    pub job_types: Vec<String>,
    pub started_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

/// How many unfinished jobs of a type are in a state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateCount {
    pub job_type: String,
    pub status: JobStatus,
    pub count: u64,
}

/// Jobs that ended in one minute.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MinuteCount {
    /// The minute's start.
    pub minute: DateTime<Utc>,
    pub completed: u64,
    pub failed: u64,
    pub cancelled: u64,
}

/// The queue as a whole, read from its database (so every process's work counts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueStats {
    /// Pending and processing jobs by type.
    pub active: Vec<StateCount>,
    /// When the longest-waiting job that could run now was queued.
    pub oldest_available_at: Option<DateTime<Utc>>,
    /// The last hour, a minute each, oldest first (minutes without endings included).
    pub minutes: Vec<MinuteCount>,
    pub workers: Vec<WorkerEntry>,
}

/// A job type's learned duration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EstimateEntry {
    pub job_type: String,
    pub mean_ms: u64,
    /// One standard deviation.
    pub spread_ms: u64,
    pub samples: u64,
    /// Its latest completed runs, oldest first: what each was expected to take when it was
    /// queued, and what it took.
    pub recent: Vec<EstimatedRun>,
}

/// A completed run beside the estimate it was given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EstimatedRun {
    pub id: String,
    pub finished_at: DateTime<Utc>,
    /// `None` for jobs queued before estimates were kept.
    pub estimated_ms: Option<u64>,
    pub took_ms: u64,
}

/// One job's full record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRecordView {
    pub id: String,
    pub job_type: String,
    pub status: JobStatus,
    pub source: String,
    pub label: Option<String>,
    pub batch_id: Option<String>,
    pub input: Value,
    pub result: Option<Value>,
    pub error: Option<String>,
    pub attempt: u32,
    pub max_attempts: u32,
    pub created_at: DateTime<Utc>,
    pub scheduled_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub worker_id: Option<String>,
    /// What it was expected to take when it was queued.
    pub estimated_ms: Option<u64>,
}

/// A job or batch with everything stored about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationDetail {
    /// The job; `None` for a batch.
    pub job: Option<JobRecordView>,
    /// A batch's items, in the order they were queued; `None` for a job.
    pub items: Option<Vec<JobRecordView>>,
    /// More items than were read.
    pub items_truncated: bool,
    pub log: Vec<JobLogLine>,
}

/// A histogram's buckets as counted: `counts[i]` observations were at most `bounds[i]`
/// (and above the bound before); the last count is for those above every bound.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistogramCounts {
    pub bounds: Vec<f64>,
    pub counts: Vec<u64>,
    pub sum: f64,
}

impl HistogramCounts {
    /// An empty histogram with these upper bounds.
    pub fn new(bounds: &[f64]) -> Self {
        Self {
            bounds: bounds.to_vec(),
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
        }
    }

    pub fn observe(&mut self, value: f64) {
        let i = self
            .bounds
            .iter()
            .position(|b| value <= *b)
            .unwrap_or(self.bounds.len());
        if let Some(count) = self.counts.get_mut(i) {
            *count += 1;
        }
        self.sum += value;
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// What this process's queue did to jobs of one type since it started.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypeMetrics {
    pub job_type: String,
    pub enqueued: u64,
    pub started: u64,
    pub completed: u64,
    pub failed: u64,
    pub cancelled: u64,
    /// Runs that failed and were queued again.
    pub retried: u64,
    /// How long runs took, in seconds.
    pub run_seconds: HistogramCounts,
    /// From queued to started, in seconds (delays and dependencies included).
    pub wait_seconds: HistogramCounts,
    /// How far a completed run was from the duration expected before it ran, as a share of
    /// that expectation (|took - expected| / expected).
    pub eta_error_ratio: HistogramCounts,
}

/// This process's counters: per job type, runs rescued from stopped workers, and the bus.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessMetrics {
    pub types: Vec<TypeMetrics>,
    /// Runs this process's lease sweeps took back from stopped workers.
    pub rescued: u64,
    /// Progress events the bus replaced with a newer one before a slow subscriber read them.
    pub bus_coalesced: u64,
    /// Lifecycle events the bus dropped (it never does; reported so that a change shows).
    pub bus_dropped: u64,
}
