//! The job-handler API: a plugin implements [`JobHandler`] with typed input and output; the
//! queue runs it with a [`JobContext`] that reports progress and carries a cancellation
//! token.
//!
//! `report_progress` is built to be called in tight loops: it stores into atomics and
//! only on the first change after the monitor last looked does it wake the monitor, so a
//! handler reporting millions of times per second costs almost nothing.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::effect::SideEffect;
use crate::source::Source;

/// Whether an I/O error says the disk (or the user's quota) is full.
pub fn is_storage_full(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}

/// Why a job did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// The stored input does not fit the handler's input type. Never retried.
    #[error("invalid job input: {0}")]
    InvalidInput(String),
    /// The handler failed; `retryable` failures are retried with back-off up to the job's
    /// maximum attempts.
    #[error("{message}")]
    Failed { message: String, retryable: bool },
    /// The handler saw its cancellation token and stopped.
    #[error("cancelled")]
    Cancelled,
    /// Something the job needs is exhausted for now — the disk is full: the job waits and
    /// runs again later, without spending an attempt, for as long as it takes.
    #[error("{message}")]
    Waiting { message: String },
}

impl JobError {
    /// A failure worth trying again (a timeout, a 503).
    pub fn retryable(message: impl Into<String>) -> Self {
        JobError::Failed {
            message: message.into(),
            retryable: true,
        }
    }

    /// A failure that will not go away by itself (bad configuration, invalid content).
    pub fn permanent(message: impl Into<String>) -> Self {
        JobError::Failed {
            message: message.into(),
            retryable: false,
        }
    }

    /// Waits and runs again later without spending an attempt (see [`JobError::Waiting`]).
    pub fn waiting(message: impl Into<String>) -> Self {
        JobError::Waiting {
            message: message.into(),
        }
    }

    /// This error, or [`JobError::waiting`] with its message when `cause` says the disk (or
    /// the user's quota) is full — which goes away when space is freed:
    /// `JobError::permanent(format!("cannot write x: {e}")).or_waiting(&e)`.
    #[must_use]
    pub fn or_waiting(self, cause: &std::io::Error) -> Self {
        match self {
            JobError::Failed { message, .. } if is_storage_full(cause) => {
                JobError::Waiting { message }
            }
            other => other,
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            JobError::Failed {
                retryable: true,
                ..
            }
        )
    }
}

/// A handler for one job type, registered with the queue as `<plugin-id>:<name>`.
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    /// The job's input; stored as JSON and deserialized before the handler runs.
    type Input: DeserializeOwned + Send + 'static;
    /// The job's result; stored as JSON.
    type Output: Serialize + Send + 'static;

    async fn run(&self, input: Self::Input, ctx: JobContext) -> Result<Self::Output, JobError>;

    /// What a job of this type takes when there is no history yet; the progress monitor
    /// replaces it with measured durations as jobs complete.
    fn default_duration(&self) -> Duration {
        Duration::from_secs(5)
    }
}

/// A [`JobHandler`] with its types erased to JSON, as the queue stores it.
#[async_trait]
pub trait DynJobHandler: Send + Sync + 'static {
    /// Deserializes `input` (JSON text), runs the handler and serializes its output.
    async fn run_json(&self, input: &str, ctx: JobContext) -> Result<Value, JobError>;
    fn default_duration(&self) -> Duration;
}

struct Erased<H>(H);

#[async_trait]
impl<H: JobHandler> DynJobHandler for Erased<H> {
    async fn run_json(&self, input: &str, ctx: JobContext) -> Result<Value, JobError> {
        let input: H::Input =
            serde_json::from_str(input).map_err(|e| JobError::InvalidInput(e.to_string()))?;
        let output = self.0.run(input, ctx).await?;
        serde_json::to_value(output)
            .map_err(|e| JobError::permanent(format!("job result is not valid JSON: {e}")))
    }

    fn default_duration(&self) -> Duration {
        self.0.default_duration()
    }
}

/// Erases a typed handler for storage in a registry.
pub fn erase_handler<H: JobHandler>(handler: H) -> Arc<dyn DynJobHandler> {
    Arc::new(Erased(handler))
}

/// The latest progress of one running job, shared between its handler and the monitor.
pub struct ProgressCell {
    current: AtomicU64,
    total: AtomicU64,
    message: Mutex<String>,
    dirty: AtomicBool,
    on_dirty: Box<dyn Fn() + Send + Sync>,
}

/// A copy of a [`ProgressCell`]'s values.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProgressSnapshot {
    pub current: u64,
    pub total: u64,
    pub message: String,
}

impl ProgressCell {
    /// `on_dirty` runs when the cell changes for the first time after a [`snapshot`]
    /// (and after creation): the monitor's wake-up.
    ///
    /// [`snapshot`]: ProgressCell::snapshot
    pub fn new(on_dirty: impl Fn() + Send + Sync + 'static) -> Self {
        Self {
            current: AtomicU64::new(0),
            total: AtomicU64::new(0),
            message: Mutex::new(String::new()),
            dirty: AtomicBool::new(false),
            on_dirty: Box::new(on_dirty),
        }
    }

    pub fn report(&self, current: u64, total: u64, message: &str) {
        self.current.store(current, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
        {
            let mut stored = self.message.lock().unwrap_or_else(|e| e.into_inner());
            if *stored != message {
                stored.clear();
                stored.push_str(message);
            }
        }
        // The load keeps the common case (already dirty) free of a read-modify-write on a
        // cache line the monitor also touches.
        if !self.dirty.load(Ordering::Acquire) && !self.dirty.swap(true, Ordering::AcqRel) {
            (self.on_dirty)();
        }
    }

    /// Reads the values and marks the cell clean, so the next report wakes the monitor.
    pub fn snapshot(&self) -> ProgressSnapshot {
        // Clear first: a report racing with this read re-dirties the cell and is not lost.
        self.dirty.store(false, Ordering::Release);
        let message = self
            .message
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        ProgressSnapshot {
            current: self.current.load(Ordering::Relaxed),
            total: self.total.load(Ordering::Relaxed),
            message,
        }
    }

    /// Reads the values without marking the cell clean.
    pub fn peek(&self) -> ProgressSnapshot {
        let message = self
            .message
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        ProgressSnapshot {
            current: self.current.load(Ordering::Relaxed),
            total: self.total.load(Ordering::Relaxed),
            message,
        }
    }
}

/// What a handler knows about the job it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobInfo {
    pub job_id: String,
    pub job_type: String,
    pub attempt: u32,
    pub max_attempts: u32,
    pub label: Option<String>,
    pub batch_id: Option<String>,
    pub source: Source,
}

/// Handed to a running handler: who it is, how to report progress, when to stop, and
/// where to stage its durable side effects.
#[derive(Clone)]
pub struct JobContext {
    info: Arc<JobInfo>,
    progress: Arc<ProgressCell>,
    cancel: CancellationToken,
    staged: Arc<Mutex<Vec<SideEffect>>>,
}

impl JobContext {
    /// Built by the queue for each run; plugin tests may build one too.
    pub fn new(info: JobInfo, progress: Arc<ProgressCell>, cancel: CancellationToken) -> Self {
        Self {
            info: Arc::new(info),
            progress,
            cancel,
            staged: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Stages a durable side effect (a file written, removed, a folder replaced) instead of
    /// performing it: the queue applies it, in the order staged, only if this run's
    /// completion commits — never for a run whose lease another worker took over, and not
    /// if the handler fails. Anything a job changes outside itself that must not happen
    /// twice, or after another run's, belongs here.
    pub fn stage(&self, effect: SideEffect) {
        self.staged
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(effect);
    }

    /// The effects staged so far, taken out (the queue's side; a plugin's test may apply
    /// them itself).
    pub fn take_staged(&self) -> Vec<SideEffect> {
        std::mem::take(&mut *self.staged.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn info(&self) -> &JobInfo {
        &self.info
    }

    pub fn job_id(&self) -> &str {
        &self.info.job_id
    }

    /// 1 on the first run, 2 on the first retry, …
    pub fn attempt(&self) -> u32 {
        self.info.attempt
    }

    pub fn label(&self) -> Option<&str> {
        self.info.label.as_deref()
    }

    /// Reports how far the job is, e.g. `report_progress(3, 7, "Rendering /about")`.
    /// Cheap enough for tight loops: the monitor publishes at a bounded rate.
    pub fn report_progress(&self, current: u64, total: u64, message: &str) {
        self.progress.report(current, total, message);
    }

    /// Cancelled when someone cancels the job or the worker shuts down; a handler should
    /// check it between steps (or `select!` on `cancelled()`) and return
    /// [`JobError::Cancelled`].
    pub fn cancellation(&self) -> &CancellationToken {
        &self.cancel
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn cell() -> (Arc<ProgressCell>, Arc<AtomicUsize>) {
        let wakes = Arc::new(AtomicUsize::new(0));
        let w = wakes.clone();
        let cell = Arc::new(ProgressCell::new(move || {
            w.fetch_add(1, Ordering::SeqCst);
        }));
        (cell, wakes)
    }

    #[test]
    fn wakes_once_until_snapshot() {
        let (cell, wakes) = cell();
        for i in 0..1000 {
            cell.report(i, 1000, "working");
        }
        assert_eq!(wakes.load(Ordering::SeqCst), 1);
        let snap = cell.snapshot();
        assert_eq!(
            snap,
            ProgressSnapshot {
                current: 999,
                total: 1000,
                message: "working".into()
            }
        );
        cell.report(1000, 1000, "done");
        assert_eq!(wakes.load(Ordering::SeqCst), 2);
        assert_eq!(cell.peek().message, "done");
    }

    struct Double;

    #[async_trait]
    impl JobHandler for Double {
        type Input = u32;
        type Output = u32;
        async fn run(&self, input: u32, ctx: JobContext) -> Result<u32, JobError> {
            ctx.report_progress(1, 1, "doubled");
            Ok(input * 2)
        }
    }

    fn ctx() -> JobContext {
        let info = JobInfo {
            job_id: "job_1".into(),
            job_type: "test:double".into(),
            attempt: 1,
            max_attempts: 3,
            label: None,
            batch_id: None,
            source: Source::cli(),
        };
        JobContext::new(info, cell().0, CancellationToken::new())
    }

    #[tokio::test]
    async fn erased_handler_runs_and_rejects_bad_input() {
        let h = erase_handler(Double);
        assert_eq!(h.run_json("21", ctx()).await, Ok(Value::from(42)));
        let err = h.run_json("\"x\"", ctx()).await.unwrap_err();
        assert!(
            matches!(err, JobError::InvalidInput(ref m) if m.contains("invalid type")),
            "{err}"
        );
        assert!(!err.is_retryable());
    }
}
