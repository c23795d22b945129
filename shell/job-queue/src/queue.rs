//! The `Queue` handle: open a database, register handlers, enqueue jobs and batches,
//! answer status, cancel, list, prune, and watch a job live.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use brain_plugin_api::engine::{Bus, DynJobHandler, ProgressCell, erase_handler};
use brain_plugin_api::{
    AfterFailure, AsyncToolResponse, Dependency, DurationRangeMs, Event, JobHandler, JobKind,
    JobLog, JobLogLine, JobProgressEvent, JobStatus, JobStatusEntry, ListedJob, NewBatch, NewJob,
    START_A_WORKER, StartStatus, Subscription, Update, WAITING_FOR_WORKER, Wording,
    format_duration, format_short, shorten,
};
use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

mod dashboard;

use crate::error::{QueueError, Result};
use crate::estimate::{self, Estimate, ItemTimes};
use crate::monitor::{
    self, Estimates, JobView, MAX_LISTED_ERRORS, Monitor, MonitorConfig, MonitorMsg,
    SharedEstimates,
};
use crate::store::postgres::PostgresDriver;
use crate::store::sqlite::SqliteDriver;
use crate::store::{
    BatchRow, Cancel, Driver, Enqueue, InsertBatch, InsertJob, JobHead, JobRecord, ListFilter,
    LogRow, Prune, Retry, SaveEstimates, WorkerRow,
};
use crate::util::{host_name, now_ms, random_id, to_datetime};
use crate::wake;

/// Settings of a queue.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// Finished jobs older than this are pruned.
    pub retention: Duration,
    /// Progress events per second per job or batch at most; status changes always go out.
    pub max_events_per_second: u32,
    /// Attempts a job gets unless it says otherwise.
    pub default_max_attempts: u32,
    /// First retry delay; doubles per attempt, with jitter, up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            retention: Duration::from_secs(7 * 24 * 3600),
            max_events_per_second: 10,
            default_max_attempts: 3,
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(300),
        }
    }
}

/// What enqueueing answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Enqueued {
    /// The operation to follow: the new one, or — when all of it was under way already —
    /// the one doing it.
    pub id: String,
    pub kind: JobKind,
    /// The job ids stored (one for a job, each item for a batch; none when `already`).
    pub job_ids: Vec<String>,
    pub estimate: Estimate,
    /// Whether any process runs workers for this work now.
    pub worker_running: bool,
    /// All of it was under way already (same job types and unique keys): `id` is that.
    pub already: bool,
    /// How many of the jobs asked for were not stored because one is under way.
    pub shared: usize,
    /// The operations doing them.
    pub shared_with: Vec<String>,
}

/// A job or batch, by its id.
fn kind_of(id: &str) -> JobKind {
    if id.starts_with("batch_") {
        JobKind::Batch
    } else {
        JobKind::Job
    }
}

impl Enqueued {
    /// The plan's immediate answer for a slow tool.
    /// Without a worker anywhere it is `queued` and says so, with no time to check back:
    /// nothing happens until a worker starts.
    pub fn response(&self, message: impl Into<String>) -> AsyncToolResponse {
        let check = self.worker_running.then(|| self.estimate.check_in());
        let mut message = message.into();
        if self.already {
            message.push_str(": already under way, and this request shares it");
        } else if self.shared > 0 {
            message.push_str(&format!(
                " ({} more already under way in {})",
                self.shared,
                self.shared_with.join(" and ")
            ));
        }
        if !self.worker_running {
            message.push_str(&format!(" ({WAITING_FOR_WORKER}: {START_A_WORKER})"));
        }
        AsyncToolResponse {
            success: true,
            job_id: self.id.clone(),
            kind: self.kind,
            status: if self.worker_running {
                StartStatus::Started
            } else {
                StartStatus::Queued
            },
            estimated_duration: Some(self.estimate.human_range()),
            check_status_in: check.map(format_duration),
            message,
            estimated_duration_ms: Some(DurationRangeMs {
                min: estimate::millis(self.estimate.min),
                max: estimate::millis(self.estimate.max),
            }),
            check_status_in_ms: check.map(estimate::millis),
        }
    }
}

/// The state of a job or batch, as a status query sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobState {
    pub event: JobProgressEvent,
    /// The job's type; a batch's when its jobs share one.
    pub job_type: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub worker_running: bool,
    /// Unfinished work this waits for before it can start.
    pub waiting_for: Vec<Dependency>,
    /// Runs taken back from a worker that stopped (read by [`Queue::status`] only).
    pub rescued: u64,
}

impl JobState {
    /// Its entry in a listing: the status entry with its id, type and source.
    pub fn listed(&self) -> ListedJob {
        ListedJob {
            id: self.event.id.clone(),
            job_type: self.job_type.clone(),
            source: self.event.source.as_str().to_owned(),
            entry: self.status_entry(),
        }
    }

    /// Its event, marked with whether a worker runs it and what it waits for.
    pub fn marked(self) -> JobProgressEvent {
        let mut event = self.event;
        event.mark_waiting(self.worker_running, self.waiting_for);
        event
    }

    /// The status tool's entry (plan, Phase 3).
    pub fn status_entry(&self) -> JobStatusEntry {
        let mut entry = self
            .event
            .status_entry(self.created_at, self.worker_running);
        entry.finished_at = self.finished_at;
        entry.waiting_for = self.waiting_for.clone();
        entry.rescued = self.rescued;
        entry
    }
}

/// What a cancel request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelOutcome {
    /// Jobs that had not started and are now cancelled.
    pub cancelled: u64,
    /// Running jobs asked to stop; they end cancelled when their handlers return.
    pub stopping: u64,
}

/// A process that runs workers on this database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerInfo {
    pub id: String,
    pub pid: u32,
    pub host: String,
    pub concurrency: u32,
    pub job_types: Vec<String>,
    /// The job and batch ids a one-shot command's pool is limited to; `None`: it runs any
    /// work of its types.
    pub scope: Option<Vec<String>>,
}

impl WorkerInfo {
    /// Whether this process would run work `ids` (a job id and its batch id) of `job_type`.
    pub fn runs(&self, job_type: &str, ids: &[&str]) -> bool {
        self.job_types.iter().any(|t| t == job_type)
            && self
                .scope
                .as_ref()
                .is_none_or(|scope| scope.iter().any(|s| ids.contains(&s.as_str())))
    }
}

/// A job running in this process.
pub(crate) struct RunningJob {
    pub(crate) head: Arc<JobHead>,
    pub(crate) lease_token: i64,
    pub(crate) cell: Arc<ProgressCell>,
    pub(crate) cancel: CancellationToken,
    /// Set when someone asked to cancel this job (as opposed to a shutdown).
    pub(crate) cancel_requested: Arc<AtomicBool>,
}

/// State shared between the queue and its worker pool.
pub(crate) struct Local {
    pub(crate) worker_id: Mutex<Option<Arc<str>>>,
    pub(crate) running: Mutex<HashMap<i64, RunningJob>>,
    /// New work may be due (local enqueue or a wake datagram).
    pub(crate) work: Notify,
    /// Check cancellations and leases now.
    pub(crate) check: Notify,
    /// The pool's concurrency; 0 without a pool. The monitor's batch estimates use it.
    pub(crate) concurrency: Arc<AtomicUsize>,
    pub(crate) types: RwLock<Vec<String>>,
    /// The ids this process's pool is limited to, when it is scoped.
    pub(crate) scope: RwLock<Option<Vec<String>>>,
}

impl Local {
    pub(crate) fn running(&self) -> std::sync::MutexGuard<'_, HashMap<i64, RunningJob>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn worker_id(&self) -> Option<Arc<str>> {
        self.worker_id
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

pub(crate) struct Inner {
    pub(crate) path: PathBuf,
    pub(crate) config: QueueConfig,
    pub(crate) driver: Arc<dyn Driver>,
    pub(crate) bus: Bus<Event>,
    pub(crate) handlers: RwLock<HashMap<String, Arc<dyn DynJobHandler>>>,
    pub(crate) estimates: SharedEstimates,
    pub(crate) local: Arc<Local>,
    pub(crate) monitor: mpsc::UnboundedSender<MonitorMsg>,
    monitor_stop: CancellationToken,
    /// This process's counters for the metrics endpoint.
    pub(crate) counters: crate::metrics::SharedCounters,
    /// Live workers of all processes, cached briefly: enqueue wakes them.
    peers: Mutex<(Option<Instant>, Vec<WorkerRow>)>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.monitor_stop.cancel();
    }
}

/// A cheap, clonable handle to one queue database.
#[derive(Clone)]
pub struct Queue {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

fn valid_job_type(value: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && p.len() <= 64
            && p.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    };
    matches!(value.split_once(':'), Some((plugin, name)) if part(plugin) && part(name))
}

/// At most this many ids in one job's `after`.
const MAX_AFTER: usize = 100;

/// How many of a batch's items `logs` reads.
const MAX_LOGGED_ITEMS: usize = 1_000;

/// How many ids an ambiguous start lists.
const MAX_CANDIDATES: usize = 5;

/// How far back finished batches are listed when no `since` is given.
const BATCH_HISTORY_MS: i64 = 24 * 3600 * 1000;

/// How many running and completed items a batch's status reads to time its ETA: enough
/// for any worker pool, a fair sample of durations, and cheap for a batch of millions.
const MAX_TIMED_ITEMS: usize = 256;

/// Checks `after` (ids of jobs or batches; that they exist is checked when stored) and
/// drops repeats.
fn check_after(after: &[String]) -> Result<Vec<String>> {
    if after.len() > MAX_AFTER {
        return Err(invalid(
            "after",
            format!(
                "names {} jobs or batches; at most {MAX_AFTER} are allowed",
                after.len()
            ),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(after.len());
    for id in after {
        if !(id.starts_with("job_") || id.starts_with("batch_")) || id.len() > 100 {
            return Err(invalid(
                "after",
                format!("{id:?} is not a job or batch id (`job_…` or `batch_…`)"),
            ));
        }
        if !out.contains(id) {
            out.push(id.clone());
        }
    }
    Ok(out)
}

/// A wording's words are short and present: it is said at the end of every operation.
fn check_wording(wording: Option<&Wording>) -> Result<Option<Wording>> {
    let Some(wording) = wording else {
        return Ok(None);
    };
    let words = std::iter::once(("wording.done", &wording.done)).chain(
        wording
            .items
            .iter()
            .flat_map(|(one, many)| [("wording.items", one), ("wording.items", many)]),
    );
    for (field, text) in words {
        if text.trim().is_empty() || text.len() > 200 {
            return Err(invalid(
                field,
                format!("must be 1-200 bytes of text, got {:?}", shorten(text, 40)),
            ));
        }
    }
    Ok(Some(wording.clone()))
}

fn invalid(field: &'static str, reason: impl Into<String>) -> QueueError {
    QueueError::InvalidArgument {
        field,
        reason: reason.into(),
    }
}

/// What a queue is made of before its driver exists: the driver reports its commits to the
/// monitor through `Parts`' sink.
struct Parts {
    local: Arc<Local>,
    monitor_tx: mpsc::UnboundedSender<MonitorMsg>,
    monitor_rx: mpsc::UnboundedReceiver<MonitorMsg>,
}

impl Parts {
    /// Checks `config` and the runtime, and makes the sink a driver reports commits to.
    fn new(config: &QueueConfig) -> Result<(Parts, crate::store::EffectSink)> {
        if config.max_events_per_second == 0 {
            return Err(invalid("max_events_per_second", "must be at least 1"));
        }
        if !(1..=100).contains(&config.default_max_attempts) {
            return Err(invalid(
                "default_max_attempts",
                format!(
                    "must be between 1 and 100, got {}",
                    config.default_max_attempts
                ),
            ));
        }
        // Status queries use `spawn_blocking`; fail early and clearly without a runtime.
        tokio::runtime::Handle::try_current().map_err(|_| {
            invalid(
                "runtime",
                "Queue::open and Queue::connect must be called inside a tokio runtime",
            )
        })?;
        let (monitor_tx, _monitor_rx) = mpsc::unbounded_channel::<MonitorMsg>();
        let _effects_tx = monitor_tx.clone();
        let local = Arc::new(Local {
            worker_id: Mutex::new(None),
            running: Mutex::new(HashMap::new()),
            work: Notify::new(),
            check: Notify::new(),
            concurrency: Arc::new(AtomicUsize::new(0)),
            types: RwLock::new(Vec::new()),
            scope: RwLock::new(None),
        });
        let _wake_local = local.clone();
        let (monitor_tx, monitor_rx) = mpsc::unbounded_channel::<MonitorMsg>();
        let effects_tx = monitor_tx.clone();
        let local = Arc::new(Local {
            worker_id: Mutex::new(None),
            running: Mutex::new(HashMap::new()),
            work: Notify::new(),
            check: Notify::new(),
            concurrency: Arc::new(AtomicUsize::new(0)),
            types: RwLock::new(Vec::new()),
            scope: RwLock::new(None),
        });
        let wake_local = local.clone();
        let sink: crate::store::EffectSink = Box::new(move |effects| {
            // Work whose last dependency just ended can start: wake every pool (this
            // process's and the others', which may be the only ones running its type).
            for effect in &effects {
                if let crate::store::Effect::Unblocked { wake_ports } = effect {
                    wake_local.work.notify_one();
                    wake::send(wake_ports.iter().copied(), wake::WORK);
                }
            }
            let _ = effects_tx.send(MonitorMsg::Effects(effects));
        });
        Ok((
            Parts {
                local,
                monitor_tx,
                monitor_rx,
            },
            sink,
        ))
    }

    /// The queue on `driver`, its monitor started.
    fn assemble(
        self,
        path: PathBuf,
        config: QueueConfig,
        bus: Bus<Event>,
        driver: Arc<dyn Driver>,
        saved: Vec<(String, f64, f64, u64)>,
    ) -> Result<Queue> {
        let Parts {
            local,
            monitor_tx,
            monitor_rx,
        } = self;
        let estimates: SharedEstimates = Arc::new(Mutex::new(Estimates::default()));
        monitor::lock(&estimates).load(saved);
        let monitor_stop = CancellationToken::new();
        let counters = crate::metrics::SharedCounters::default();
        let monitor = Monitor::new(
            bus.clone(),
            driver.clone(),
            estimates.clone(),
            local.concurrency.clone(),
            counters.clone(),
            &MonitorConfig {
                max_events_per_second: config.max_events_per_second,
            },
        );
        // The monitor gets a thread of its own: woken from a handler's worker thread, a
        // task would sit in that worker's LIFO slot until the handler yields, so a handler
        // in a tight loop would starve its own progress events.
        let stop = monitor_stop.clone();
        let monitor_runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(|source| QueueError::Io {
                path: "<monitor runtime>".into(),
                source,
            })?;
        std::thread::Builder::new()
            .name("brain-queue-monitor".into())
            .spawn(move || monitor_runtime.block_on(monitor.run(monitor_rx, stop)))
            .map_err(|source| QueueError::Io {
                path: "<monitor thread>".into(),
                source,
            })?;
        Ok(Queue {
            inner: Arc::new(Inner {
                path,
                config,
                driver,
                bus,
                handlers: RwLock::new(HashMap::new()),
                estimates,
                local,
                monitor: monitor_tx,
                monitor_stop,
                counters,
                peers: Mutex::new((None, Vec::new())),
            }),
        })
    }
}

impl Queue {
    /// Opens (creating if needed) the queue database at `path` and starts its writer thread
    /// and progress monitor. Must be called inside a tokio runtime. Events go to `bus`.
    pub fn open(path: impl AsRef<Path>, config: QueueConfig, bus: Bus<Event>) -> Result<Queue> {
        let path = path.as_ref().to_owned();
        let (parts, sink) = Parts::new(&config)?;
        let sqlite = SqliteDriver::open(&path, sink)?;
        let saved = sqlite.saved_estimates()?;
        parts.assemble(path, config, bus, Arc::new(sqlite), saved)
    }

    /// Connects to the queue in the PostgreSQL database at `url` (creating its `brains`
    /// schema if needed), shared with processes on other hosts, and starts its writer and
    /// progress monitor. Events go to `bus`.
    pub async fn connect(url: &str, config: QueueConfig, bus: Bus<Event>) -> Result<Queue> {
        let (parts, sink) = Parts::new(&config)?;
        let (postgres, saved) = PostgresDriver::connect(url, sink).await?;
        let location = PathBuf::from(crate::store::postgres::describe(url));
        parts.assemble(location, config, bus, Arc::new(postgres), saved)
    }

    /// Where the jobs are: the SQLite file, or the PostgreSQL database as
    /// `postgres://user@host:port/database` (no password).
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    pub fn config(&self) -> &QueueConfig {
        &self.inner.config
    }

    /// The bus the monitor publishes on.
    pub fn bus(&self) -> &Bus<Event> {
        &self.inner.bus
    }

    /// Registers the handler for `job_type` (`<plugin-id>:<name>`).
    pub fn register<H: JobHandler>(&self, job_type: &str, handler: H) -> Result<()> {
        self.register_dyn(job_type, erase_handler(handler))
    }

    /// Registers a type-erased handler.
    pub fn register_dyn(&self, job_type: &str, handler: Arc<dyn DynJobHandler>) -> Result<()> {
        if !valid_job_type(job_type) {
            return Err(QueueError::InvalidJobType {
                value: job_type.to_owned(),
            });
        }
        let mut handlers = self
            .inner
            .handlers
            .write()
            .unwrap_or_else(|e| e.into_inner());
        if handlers.contains_key(job_type) {
            return Err(QueueError::DuplicateJobType {
                job_type: job_type.to_owned(),
            });
        }
        monitor::lock(&self.inner.estimates).set_default(job_type, handler.default_duration());
        handlers.insert(job_type.to_owned(), handler);
        Ok(())
    }

    pub(crate) fn handler(&self, job_type: &str) -> Option<Arc<dyn DynJobHandler>> {
        self.inner
            .handlers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(job_type)
            .cloned()
    }

    /// The registered job types, sorted.
    pub fn job_types(&self) -> Vec<String> {
        let mut types: Vec<String> = self
            .inner
            .handlers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        types.sort();
        types
    }

    fn check_job(&self, job: &NewJob) -> Result<InsertJob> {
        if !valid_job_type(&job.job_type) {
            return Err(QueueError::InvalidJobType {
                value: job.job_type.clone(),
            });
        }
        if self.handler(&job.job_type).is_none() {
            return Err(QueueError::UnknownJobType {
                job_type: job.job_type.clone(),
                registered: match self.job_types() {
                    t if t.is_empty() => "none".to_owned(),
                    t => t.join(", "),
                },
            });
        }
        let max_attempts = job
            .max_attempts
            .unwrap_or(self.inner.config.default_max_attempts);
        if !(1..=100).contains(&max_attempts) {
            return Err(invalid(
                "max_attempts",
                format!("must be between 1 and 100, got {max_attempts}"),
            ));
        }
        if !(-1000..=1000).contains(&job.priority) {
            return Err(invalid(
                "priority",
                format!("must be between -1000 and 1000, got {}", job.priority),
            ));
        }
        if let Some(label) = &job.label
            && (label.is_empty() || label.len() > 200)
        {
            return Err(invalid(
                "label",
                format!("must be 1-200 bytes, got {} bytes", label.len()),
            ));
        }
        if job.delay > Duration::from_secs(366 * 24 * 3600) {
            return Err(invalid(
                "delay",
                format!("must be at most a year, got {:?}", job.delay),
            ));
        }
        Ok(InsertJob {
            id: random_id("job_"),
            job_type: job.job_type.clone(),
            input: job.input.to_string(),
            source: job.source.clone(),
            metadata: job.metadata.as_ref().map(Value::to_string),
            priority: job.priority,
            max_attempts,
            delay_ms: i64::try_from(job.delay.as_millis()).unwrap_or(i64::MAX / 4),
            label: job.label.clone(),
            after: check_after(&job.after)?,
            run_after_failure: job.after_failure == AfterFailure::Run,
            unique_key: match &job.unique_key {
                Some(key) if key.is_empty() || key.len() > 200 => {
                    return Err(invalid(
                        "unique_key",
                        format!("must be 1-200 bytes, got {} bytes", key.len()),
                    ));
                }
                other => other.clone(),
            },
            wording: check_wording(job.wording.as_ref())?,
            // Filled in by `insert`, once per job type of the enqueue.
            estimated_ms: None,
        })
    }

    /// Stores new jobs, each with the duration its type is expected to take now, and counts
    /// them for the metrics.
    async fn insert(&self, mut op: Enqueue) -> Result<crate::store::Inserted> {
        {
            let estimates = monitor::lock(&self.inner.estimates);
            let mut by_type: HashMap<String, Option<i64>> = HashMap::new();
            for job in &mut op.jobs {
                job.estimated_ms = *by_type.entry(job.job_type.clone()).or_insert_with(|| {
                    i64::try_from(estimates.per_job(Some(&job.job_type)).expected.as_millis()).ok()
                });
            }
        }
        let inserted = self.inner.driver.enqueue(op).await?;
        let mut counters = self
            .inner
            .counters
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for head in &inserted.heads {
            counters.enqueued(&head.job_type);
        }
        Ok(inserted)
    }

    /// Enqueues one job.
    pub async fn enqueue(&self, job: NewJob) -> Result<Enqueued> {
        let row = self.check_job(&job)?;
        let id = row.id.clone();
        let job_type = row.job_type.clone();
        let inserted = self
            .insert(Enqueue {
                batch: None,
                jobs: vec![row],
            })
            .await?;
        self.wake_workers().await;
        let estimate = monitor::lock(&self.inner.estimates).per_job(Some(&job_type));
        // Already under way (same type and key): the handle is that operation's.
        let (id, job_ids) = match inserted.shared_with.first() {
            Some(owner) if inserted.heads.is_empty() => (owner.clone(), Vec::new()),
            _ => (id.clone(), vec![id]),
        };
        self.join_scope_if_started_by_a_job([id.as_str()]);
        Ok(Enqueued {
            kind: kind_of(&id),
            already: job_ids.is_empty(),
            id,
            job_ids,
            estimate,
            worker_running: self.worker_running(&job_type).await,
            shared_with: inserted.shared_with,
            shared: inserted.skipped,
        })
    }

    /// Work a running job enqueues (a dev server's rebuilds) is part of that job's work:
    /// a scoped pool — a one-shot command's — runs it too, instead of leaving it for
    /// another process's workers.
    fn join_scope_if_started_by_a_job<'a>(&self, ids: impl IntoIterator<Item = &'a str>) {
        if crate::pool::RUNNING_JOB.try_with(|_| ()).is_err() {
            return;
        }
        let local = &self.inner.local;
        let mut scope = local.scope.write().unwrap_or_else(|e| e.into_inner());
        let Some(scope) = scope.as_mut() else {
            return;
        };
        for id in ids {
            if !scope.iter().any(|s| s == id) {
                scope.push(id.to_owned());
            }
        }
        local.work.notify_one();
    }

    /// Enqueues many independent jobs in one transaction (no batch record).
    pub async fn enqueue_many(&self, jobs: Vec<NewJob>) -> Result<Vec<String>> {
        let rows = jobs
            .iter()
            .map(|j| self.check_job(j))
            .collect::<Result<Vec<_>>>()?;
        let inserted = self
            .insert(Enqueue {
                batch: None,
                jobs: rows,
            })
            .await?;
        self.wake_workers().await;
        let ids: Vec<String> = inserted.heads.iter().map(|h| h.id.clone()).collect();
        self.join_scope_if_started_by_a_job(ids.iter().map(String::as_str));
        Ok(ids)
    }

    /// Enqueues a batch: its jobs are committed together with the batch record.
    pub async fn enqueue_batch(&self, batch: NewBatch) -> Result<Enqueued> {
        if batch.jobs.is_empty() {
            return Err(invalid("jobs", "a batch needs at least one job"));
        }
        let rows = batch
            .jobs
            .iter()
            .map(|j| {
                self.check_job(&NewJob {
                    source: batch.source.clone(),
                    after: batch.after.iter().chain(&j.after).cloned().collect(),
                    ..j.clone()
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let first_type = rows[0].job_type.clone();
        let same_type = rows.iter().all(|r| r.job_type == first_type);
        let id = random_id("batch_");
        let record = InsertBatch {
            id: id.clone(),
            source: batch.source.clone(),
            label: batch.label.clone(),
            metadata: batch.metadata.as_ref().map(Value::to_string),
            job_type: same_type.then(|| first_type.clone()),
            wording: check_wording(batch.wording.as_ref())?,
        };
        let inserted = self
            .insert(Enqueue {
                batch: Some(record),
                jobs: rows,
            })
            .await?;
        self.wake_workers().await;
        let count = inserted.heads.len().max(1) as u64;
        let job_ids: Vec<String> = inserted.heads.iter().map(|h| h.id.clone()).collect();
        // Everything already under way (same types and keys): the handle is that
        // operation's.
        let id = match inserted.shared_with.first() {
            Some(owner) if job_ids.is_empty() => owner.clone(),
            _ => id,
        };
        self.join_scope_if_started_by_a_job([id.as_str()]);
        let concurrency = self.concurrency_for_estimates().await;
        let estimate = {
            let estimates = monitor::lock(&self.inner.estimates);
            let per_job = if same_type {
                estimates.per_job(Some(&first_type))
            } else {
                // Mixed types: the mean of their per-job estimates.
                let all: Vec<Estimate> = batch
                    .jobs
                    .iter()
                    .map(|j| estimates.per_job(Some(&j.job_type)))
                    .collect();
                let n = all.len().max(1) as u32;
                Estimate {
                    expected: all.iter().map(|e| e.expected).sum::<Duration>() / n,
                    min: all.iter().map(|e| e.min).sum::<Duration>() / n,
                    max: all.iter().map(|e| e.max).sum::<Duration>() / n,
                    confident: all.iter().all(|e| e.confident),
                }
            };
            estimate::for_batch(per_job, count, concurrency)
        };
        Ok(Enqueued {
            kind: kind_of(&id),
            already: job_ids.is_empty(),
            id,
            job_ids,
            estimate,
            worker_running: self.worker_running(&first_type).await,
            shared_with: inserted.shared_with,
            shared: inserted.skipped,
        })
    }

    async fn concurrency_for_estimates(&self) -> u32 {
        match self.inner.local.concurrency.load(Ordering::Relaxed) {
            0 => self
                .peers()
                .await
                .iter()
                .map(|w| w.concurrency)
                .sum::<u32>()
                .max(1),
            n => n.min(u32::MAX as usize) as u32,
        }
    }

    /// Live workers of every process, refreshed at most every two seconds. A row whose
    /// process is gone from this host does not count, even while its lease lasts: work it
    /// left is waiting for a worker, not running.
    async fn peers(&self) -> Vec<WorkerRow> {
        let cached = || self.inner.peers.lock().unwrap_or_else(|e| e.into_inner());
        if let (Some(at), rows) = &*cached()
            && at.elapsed() <= Duration::from_secs(2)
        {
            return rows.clone();
        }
        match self.inner.driver.live_workers(now_ms()).await {
            Ok(mut rows) => {
                let host = host_name();
                rows.retain(|w| !w.known_dead(&host));
                *cached() = (Some(Instant::now()), rows.clone());
                rows
            }
            Err(error) => {
                tracing::warn!(%error, "could not list workers");
                cached().1.clone()
            }
        }
    }

    /// Whether this process or another runs workers for any work of `job_type` now (a
    /// one-shot command's pool, limited to its own operation, does not count).
    pub async fn worker_running(&self, job_type: &str) -> bool {
        self.worker_running_for(job_type, &[]).await
    }

    /// Whether a process runs workers that would run work `ids` (a job id, its batch id)
    /// of `job_type`: any pool of that type, or a scoped pool whose scope names one of
    /// `ids`.
    pub async fn worker_running_for(&self, job_type: &str, ids: &[&str]) -> bool {
        let local = &self.inner.local;
        let runs = |types: &[String], scope: Option<&Vec<String>>| {
            types.iter().any(|t| t == job_type)
                && scope.is_none_or(|scope| scope.iter().any(|s| ids.contains(&s.as_str())))
        };
        let here = runs(
            &local.types.read().unwrap_or_else(|e| e.into_inner()),
            local
                .scope
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref(),
        );
        here || self
            .peers()
            .await
            .iter()
            .any(|w| runs(&w.job_types, w.scope.as_ref()))
    }

    /// Whether any process runs workers for the whole brain now (one-shot commands' pools,
    /// limited to their own operations, do not count).
    pub async fn any_worker_running(&self) -> bool {
        let local = &self.inner.local;
        let here = local.concurrency.load(Ordering::Relaxed) > 0
            && local
                .scope
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .is_none();
        here || self.peers().await.iter().any(|w| w.scope.is_none())
    }

    /// Wakes this process's pool and those of other processes.
    async fn wake_workers(&self) {
        self.inner.local.work.notify_one();
        let me = self.inner.local.worker_id();
        self.wake_peers(|w| me.as_deref() != Some(w.id.as_str()), wake::WORK)
            .await;
    }

    /// Sends `kind` to the pools `wanted` picks among other processes' on this host:
    /// datagrams reach this host only; pools on other hosts hear the driver's wake-ups.
    async fn wake_peers(&self, wanted: impl Fn(&WorkerRow) -> bool, kind: u8) {
        let host = host_name();
        let ports = self
            .peers()
            .await
            .into_iter()
            .filter(|w| w.host == host && wanted(w))
            .filter_map(|w| w.wake_port);
        wake::send(ports, kind);
    }

    /// The presence rows of processes running workers on this database: recently seen,
    /// and not known to be gone.
    pub(crate) async fn live_worker_rows(&self) -> Result<Vec<WorkerRow>> {
        let host = host_name();
        let mut rows = self.inner.driver.live_workers(now_ms()).await?;
        rows.retain(|w| !w.known_dead(&host));
        Ok(rows)
    }

    /// Processes running workers on this database.
    pub async fn workers(&self) -> Result<Vec<WorkerInfo>> {
        Ok(self
            .live_worker_rows()
            .await?
            .into_iter()
            .map(|w| WorkerInfo {
                id: w.id,
                pid: w.pid,
                host: w.host,
                concurrency: w.concurrency,
                job_types: w.job_types,
                scope: w.scope,
            })
            .collect())
    }

    /// The unfinished work `id` waits for, directly or through what that waits for, in
    /// the order it can run (dependencies first).
    pub async fn waits_for(&self, id: &str) -> Result<Vec<String>> {
        let driver = &self.inner.driver;
        let mut order = Vec::new();
        let mut stack = vec![(id.to_owned(), false)];
        let mut seen = std::collections::HashSet::new();
        while let Some((next, expanded)) = stack.pop() {
            if expanded {
                if next != id {
                    order.push(next);
                }
                continue;
            }
            if !seen.insert(next.clone()) {
                continue;
            }
            stack.push((next.clone(), true));
            for dep in driver.dependencies(&next).await? {
                if self.unfinished(&dep).await? {
                    stack.push((dep, false));
                }
            }
        }
        Ok(order)
    }

    async fn unfinished(&self, id: &str) -> Result<bool> {
        let driver = &self.inner.driver;
        Ok(if id.starts_with("batch_") {
            driver
                .batch(id)
                .await?
                .is_some_and(|b| b.finished_at.is_none())
        } else {
            driver
                .job(id)
                .await?
                .is_some_and(|j| !j.status.is_finished())
        })
    }

    /// Ids of the unfinished operations of `job_type` — batches of that type and jobs
    /// outside batches — oldest first: what new work that must come after them names.
    pub async fn active_of_type(&self, job_type: &str) -> Result<Vec<String>> {
        self.inner.driver.active_of_type(job_type).await
    }

    /// Unfinished work `id` waits for directly, as it stands now.
    async fn waiting_for(&self, id: &str) -> Result<Vec<Dependency>> {
        Ok(self
            .waiting_for_states(id)
            .await?
            .into_iter()
            .map(|(dependency, _)| dependency)
            .collect())
    }

    /// [`Queue::waiting_for`], with each dependency's timing.
    async fn waiting_for_states(&self, id: &str) -> Result<Vec<(Dependency, JobState)>> {
        let mut out = Vec::new();
        for dep in self.inner.driver.dependencies(id).await? {
            let state = match self.shallow_status(&dep).await {
                Ok(state) => state,
                Err(QueueError::NotFound { .. }) => continue,
                Err(e) => return Err(e),
            };
            if state.event.status.is_finished() {
                continue;
            }
            out.push((
                Dependency {
                    id: dep,
                    kind: state.event.kind,
                    status: state.event.status,
                    label: state.event.label.clone(),
                    progress: state.event.progress,
                },
                state,
            ));
        }
        Ok(out)
    }

    /// A stored job.
    pub async fn job(&self, id: &str) -> Result<Option<JobRecord>> {
        self.inner.driver.job(id).await
    }

    /// Queues failed job `id` again, or every failed item of batch `id`, each with a fresh
    /// set of attempts (its failures stay in its log). Returns how many went back; work with
    /// nothing failed is refused ([`QueueError::InvalidArgument`] on `id`, saying its state).
    pub async fn retry(&self, id: &str) -> Result<u64> {
        let state = self.status(id).await?;
        let failed = match (&state.event.kind, &state.event.batch) {
            (JobKind::Batch, Some(batch)) => batch.failed,
            _ => u64::from(state.event.status == JobStatus::Failed),
        };
        if failed == 0 {
            let status = if state.status_entry().waiting_for_worker {
                "waiting for a worker".to_owned()
            } else {
                state.event.status.to_string()
            };
            return Err(QueueError::InvalidArgument {
                field: "id",
                reason: format!(
                    "{id} is {status}, with nothing failed: only failed work is retried"
                ),
            });
        }
        let owned = id.to_owned();
        let retried = self.inner.driver.retry(Retry { id: owned }).await?;
        if retried > 0 {
            self.wake_workers().await;
        }
        Ok(retried)
    }

    /// Job `id`'s log, or batch `id`'s items' logs, oldest first: when it was queued and
    /// started, the progress messages it reported (as saved, at most four a second), each
    /// failed attempt's error, a worker lost, a retry asked for, and how it ended.
    pub async fn logs(&self, id: &str) -> Result<JobLog> {
        let driver = &self.inner.driver;
        let batch = id.starts_with("batch_");
        let (records, truncated) = if batch {
            if driver.batch(id).await?.is_none() {
                return Err(QueueError::NotFound { id: id.to_owned() });
            }
            let mut items = driver.batch_items(id, MAX_LOGGED_ITEMS + 1).await?;
            let truncated = items.len() > MAX_LOGGED_ITEMS;
            items.truncate(MAX_LOGGED_ITEMS);
            (items, truncated)
        } else {
            match driver.job(id).await? {
                Some(record) => (vec![record], false),
                None => return Err(QueueError::NotFound { id: id.to_owned() }),
            }
        };
        let per_job = crate::store::LOG_ROWS_PER_JOB as usize;
        let mut stored: HashMap<String, Vec<LogRow>> = HashMap::new();
        for row in driver.log_lines(id, batch, records.len() * per_job).await? {
            stored.entry(row.job_id.clone()).or_default().push(row);
        }
        // A job at its bound has (most likely) dropped its oldest lines.
        let truncated = truncated || stored.values().any(|rows| rows.len() >= per_job);
        let mut lines = Vec::new();
        for record in &records {
            let line = |at: i64, attempt: u32, kind: &str, message: String| JobLogLine {
                at: to_datetime(at),
                job_id: record.id.clone(),
                label: record.label.clone(),
                attempt,
                kind: kind.to_owned(),
                message,
            };
            lines.push(line(
                record.created_at,
                0,
                "queued",
                format!("queued by {} as {}", record.source, record.job_type),
            ));
            if let Some(started) = record.started_at {
                let message = format!(
                    "attempt {} of {} started",
                    record.attempt, record.max_attempts
                );
                lines.push(line(started, record.attempt, "started", message));
            }
            lines.extend(
                stored
                    .remove(&record.id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|row| line(row.at, row.attempt, &row.kind, row.message)),
            );
            if let (Some(finished), true) = (record.finished_at, record.status.is_finished()) {
                let message = match (record.status, record.started_at) {
                    (JobStatus::Completed, Some(started)) => format!(
                        "completed in {}",
                        format_short(Duration::from_millis((finished - started).max(0) as u64))
                    ),
                    (status, _) => record
                        .last_error
                        .clone()
                        .unwrap_or_else(|| status.to_string()),
                };
                lines.push(line(
                    finished,
                    record.attempt,
                    record.status.as_str(),
                    message,
                ));
            }
        }
        // In time order; what happened at the same moment stays in the order above.
        lines.sort_by_key(|l| l.at);
        Ok(JobLog { lines, truncated })
    }

    /// The full id of the job or batch `id` names: the id itself, or — as git takes a
    /// commit's — any unique start of one (`job_01m9`, or without its kind, `01m9`). An
    /// id that names nothing is [`QueueError::NotFound`]; a start shared by several ids is
    /// [`QueueError::Ambiguous`], with (some of) them.
    pub async fn resolve(&self, id: &str) -> Result<String> {
        let id = id.trim();
        let driver = &self.inner.driver;
        if driver.id_exists(id).await? {
            return Ok(id.to_owned());
        }
        let prefix = id.to_ascii_lowercase();
        let not_found = || QueueError::NotFound { id: id.to_owned() };
        if prefix.is_empty()
            || !prefix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(not_found());
        }
        let starts: Vec<String> = if prefix.starts_with("job_") || prefix.starts_with("batch_") {
            vec![prefix.clone()]
        } else {
            vec![format!("job_{prefix}"), format!("batch_{prefix}")]
        };
        let mut candidates = Vec::new();
        for start in &starts {
            candidates.extend(driver.ids_with_prefix(start, MAX_CANDIDATES + 1).await?);
        }
        match candidates.len() {
            0 => Err(not_found()),
            1 => Ok(candidates.remove(0)),
            _ => {
                candidates.truncate(MAX_CANDIDATES);
                Err(QueueError::Ambiguous {
                    prefix: id.to_owned(),
                    candidates,
                })
            }
        }
    }

    /// The state of a job or batch.
    pub async fn status(&self, id: &str) -> Result<JobState> {
        let mut state = self.live_state(id).await?;
        state.rescued = self.inner.driver.rescued(id).await?;
        Ok(state)
    }

    /// The state of `id` as a follower reads it again and again: [`Self::status`] without
    /// the count of rescued runs, which no follower shows.
    async fn live_state(&self, id: &str) -> Result<JobState> {
        let mut state = self.shallow_status(id).await?;
        if state.event.status == JobStatus::Pending {
            let waits = self.waiting_for_states(id).await?;
            // Work that waits ends after what it waits for: its estimate starts there, and
            // the next look is due when the first of those is expected to end.
            let ahead = waits
                .iter()
                .filter_map(|(_, s)| s.event.timing.estimated_completion_ms)
                .max();
            let check = waits
                .iter()
                .filter_map(|(_, s)| s.event.timing.check_again_in_ms)
                .min();
            let timing = &mut state.event.timing;
            if let (Some(ahead), Some(own)) = (ahead, timing.estimated_completion_ms) {
                let total = Duration::from_millis(ahead.saturating_add(own));
                timing.estimated_completion_ms = Some(estimate::millis(total));
                timing.estimated_completion = Some(format_duration(total));
            }
            if let Some(check) = check {
                timing.check_again_in_ms = Some(check);
                timing.check_again_in = Some(format_duration(Duration::from_millis(check)));
            }
            state.waiting_for = waits.into_iter().map(|(d, _)| d).collect();
        }
        Ok(state)
    }

    /// The state of `id` without what it waits for.
    async fn shallow_status(&self, id: &str) -> Result<JobState> {
        let driver = &self.inner.driver;
        if id.starts_with("batch_") {
            if let Some(row) = driver.batch(id).await? {
                return self.batch_state(row).await;
            }
        } else if let Some(record) = driver.job(id).await? {
            return Ok(self.job_state(record).await);
        }
        Err(QueueError::NotFound { id: id.to_owned() })
    }

    async fn batch_state(&self, row: BatchRow) -> Result<JobState> {
        let driver = &self.inner.driver;
        let status = row.status();
        let now = now_ms();
        let mut items = ItemTimes {
            concurrency: self.concurrency_for_estimates().await,
            ..ItemTimes::default()
        };
        let current = if status == JobStatus::Processing {
            let running = driver.batch_running(&row.id, MAX_TIMED_ITEMS).await?;
            items.running = running
                .iter()
                .map(|item| {
                    Duration::from_millis(item.started_at.map_or(0, |s| (now - s).max(0) as u64))
                })
                .collect();
            let (total_ms, done) = driver
                .batch_done_durations(&row.id, MAX_TIMED_ITEMS)
                .await?;
            items.done_total = Duration::from_millis(total_ms);
            items.done = done;
            running
                .into_iter()
                .next()
                .and_then(|item| item.message.filter(|m| !m.is_empty()).or(item.label))
        } else {
            None
        };
        let errors = if row.failed > 0 {
            driver.batch_errors(&row.id, MAX_LISTED_ERRORS).await?
        } else {
            Vec::new()
        };
        let per_job = monitor::lock(&self.inner.estimates).per_job(row.job_type.as_deref());
        let event = monitor::batch_event(
            &row,
            Update::Lifecycle,
            current,
            errors,
            per_job,
            &items,
            now,
        );
        let worker_running = match &row.job_type {
            Some(t) => self.worker_running_for(t, &[&row.id]).await,
            None => self.any_worker_running().await,
        };
        Ok(JobState {
            event,
            job_type: row.job_type.clone(),
            created_at: to_datetime(row.created_at),
            finished_at: if status.is_finished() {
                row.finished_at.map(to_datetime)
            } else {
                None
            },
            worker_running,
            waiting_for: Vec::new(),
            rescued: 0,
        })
    }

    async fn job_state(&self, record: JobRecord) -> JobState {
        // A job running here has fresher progress in memory than in the store.
        let live = self
            .inner
            .local
            .running()
            .values()
            .find(|j| j.head.id == record.id)
            .map(|j| j.cell.peek());
        let (current, total, message) = match live {
            Some(p) => (p.current, p.total, Some(p.message)),
            None => (
                record.progress_current,
                record.progress_total,
                record.progress_message.clone(),
            ),
        };
        let view = JobView {
            id: record.id.clone(),
            job_type: record.job_type.clone(),
            source: record.source.clone(),
            label: record.label.clone(),
            batch_id: record.batch_id.clone(),
            priority: record.priority,
            attempt: record.attempt,
            max_attempts: record.max_attempts,
            status: record.status,
            started_at: record.started_at,
            finished_at: record.finished_at,
            progress: (total > 0).then_some((current, total)),
            message,
            result: record.result.clone(),
            error: record.last_error.clone(),
            retry_at: (record.status == JobStatus::Pending && record.attempt > 0)
                .then_some(record.scheduled_at),
            wording: record.wording.clone(),
        };
        let per_job = monitor::lock(&self.inner.estimates).per_job(Some(&record.job_type));
        JobState {
            event: monitor::job_event(&view, Update::Lifecycle, per_job, now_ms()),
            job_type: Some(record.job_type.clone()),
            created_at: to_datetime(record.created_at),
            finished_at: record.finished_at.map(to_datetime),
            worker_running: self
                .worker_running_for(
                    &record.job_type,
                    &[&record.id, record.batch_id.as_deref().unwrap_or_default()],
                )
                .await,
            waiting_for: Vec::new(),
            rescued: 0,
        }
    }

    /// Active jobs and batches, then recently finished ones (batch items are listed as
    /// their batch), newest first.
    pub async fn list(&self, filter: ListFilter) -> Result<Vec<JobState>> {
        let driver = &self.inner.driver;
        let limit = if filter.limit == 0 { 50 } else { filter.limit };
        let filter = ListFilter { limit, ..filter };
        let mut states: Vec<JobState> = Vec::new();
        if !filter.include_batch_items {
            for row in driver.list_batches(&filter, BATCH_HISTORY_MS).await? {
                states.push(self.batch_state(row).await?);
            }
        }
        for record in driver.list_jobs(&filter).await? {
            states.push(self.job_state(record).await);
        }
        states.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        states.truncate(limit);
        for state in &mut states {
            if state.event.status == JobStatus::Pending {
                state.waiting_for = self.waiting_for(&state.event.id).await?;
            }
        }
        Ok(states)
    }

    /// Cancels a job or a whole batch: pending jobs at once, running ones cooperatively.
    pub async fn cancel(&self, id: &str) -> Result<CancelOutcome> {
        let owned = id.to_owned();
        let result = self.inner.driver.cancel(Cancel { id: owned }).await?;
        if !result.found {
            return Err(QueueError::NotFound { id: id.to_owned() });
        }
        let me = self.inner.local.worker_id();
        let mut remote = false;
        {
            let running = self.inner.local.running();
            for (seq, worker) in &result.requested {
                match running.get(seq) {
                    Some(job) if worker.as_deref() == me.as_deref() => {
                        job.cancel_requested.store(true, Ordering::SeqCst);
                        job.cancel.cancel();
                    }
                    _ => remote = true,
                }
            }
        }
        if remote {
            let owners: Vec<&str> = result
                .requested
                .iter()
                .filter_map(|(_, w)| w.as_deref())
                .collect();
            self.wake_peers(|w| owners.contains(&w.id.as_str()), wake::CHECK)
                .await;
        }
        Ok(CancelOutcome {
            cancelled: result.cancelled,
            stopping: result.requested.len() as u64,
        })
    }

    /// Writes the learned duration history now (it is also written every few seconds), so
    /// estimates survive a restart.
    pub async fn flush_estimates(&self) -> Result<()> {
        let rows = monitor::lock(&self.inner.estimates).take_changes();
        match rows {
            Some(rows) => {
                self.inner
                    .driver
                    .save_estimates(SaveEstimates { rows })
                    .await
            }
            None => Ok(()),
        }
    }

    /// Deletes finished jobs (and batches) older than the retention; returns how many jobs.
    pub async fn prune(&self) -> Result<u64> {
        let before = now_ms()
            - i64::try_from(self.inner.config.retention.as_millis()).unwrap_or(i64::MAX / 4);
        let mut total = 0;
        loop {
            // Small chunks keep the write lock short for other processes.
            let n = self
                .inner
                .driver
                .prune(Prune {
                    before,
                    limit: 10_000,
                })
                .await?;
            total += n;
            if n < 10_000 {
                return Ok(total);
            }
        }
    }

    /// Follows a job or batch: its current state first, then every change until it ends.
    /// Work running in this process is pushed; work another process runs is read from the
    /// progress snapshots it persists.
    pub async fn watch(&self, id: &str) -> Result<Watch> {
        let watched = id.to_owned();
        let subscription = self.inner.bus.subscribe(move |e| match e {
            Event::JobProgress(p) => p.id == watched,
            _ => false,
        });
        let first = self.live_state(id).await?.marked();
        Ok(Watch {
            queue: self.clone(),
            id: id.to_owned(),
            subscription,
            since: first.observed_at,
            pending: Some(first),
            last: None,
            done: false,
        })
    }

    /// Whether work of `id` is run by another process (so watching must read the store).
    async fn runs_elsewhere(&self, state: &JobProgressEvent) -> bool {
        if state.status != JobStatus::Processing && state.status != JobStatus::Pending {
            return false;
        }
        if self.inner.local.concurrency.load(Ordering::Relaxed) == 0 {
            return true;
        }
        match state.kind {
            JobKind::Job => !self
                .inner
                .local
                .running()
                .values()
                .any(|j| j.head.id == state.id),
            // A batch may be shared between processes; the store has the whole picture.
            JobKind::Batch => self.peers().await.len() > 1,
        }
    }
}

/// A live view of one job or batch; see [`Queue::watch`].
pub struct Watch {
    queue: Queue,
    id: String,
    subscription: Subscription<Event>,
    pending: Option<JobProgressEvent>,
    last: Option<JobProgressEvent>,
    /// When the first state was read: bus events built before it are older than it (the
    /// subscription opens first, so it may hold them) and are dropped.
    since: DateTime<Utc>,
    done: bool,
}

impl Watch {
    /// The next state; `None` after the final one.
    pub async fn next(&mut self) -> Option<JobProgressEvent> {
        if let Some(event) = self.pending.take() {
            return Some(self.seen(event));
        }
        if self.done {
            return None;
        }
        loop {
            let poll = match &self.last {
                Some(last) => self.queue.runs_elsewhere(last).await,
                None => false,
            };
            let tick = async {
                if poll {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                } else {
                    // Without pushed events a slow safety check still catches the end.
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
            };
            tokio::select! {
                event = self.subscription.recv() => match event {
                    Some(Event::JobProgress(e)) if e.observed_at < self.since => {}
                    Some(Event::JobProgress(e)) => {
                        let event = self.marked(Arc::unwrap_or_clone(e)).await;
                        return Some(self.seen(event));
                    }
                    Some(_) => {}
                    None => return None,
                },
                _ = tick => match self.queue.live_state(&self.id).await.map(JobState::marked) {
                    Ok(state) if changed(self.last.as_ref(), &state) => {
                        return Some(self.seen(state));
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(%error, id = %self.id, "watch could not read the status");
                    }
                },
            }
        }
    }

    /// A monitor's event marked as the last state was (whether a worker runs it, what it
    /// waits for), read again when its status changed. Liveness that changes without an
    /// event (a worker process died) is caught by the periodic read in [`Self::next`].
    async fn marked(&self, mut event: JobProgressEvent) -> JobProgressEvent {
        match &self.last {
            _ if event.status.is_finished() => {}
            Some(last) if last.status == event.status => {
                event.mark_waiting(!last.waiting_for_worker, last.waiting_for.clone());
            }
            _ => match self.queue.live_state(&self.id).await {
                Ok(state) => event.mark_waiting(state.worker_running, state.waiting_for),
                Err(error) => {
                    tracing::warn!(%error, id = %self.id, "watch could not read the status");
                }
            },
        }
        event
    }

    fn seen(&mut self, event: JobProgressEvent) -> JobProgressEvent {
        if event.status.is_finished() {
            self.done = true;
        }
        self.last = Some(event.clone());
        event
    }
}

#[async_trait::async_trait]
impl brain_plugin_api::FollowStream for Watch {
    async fn next(&mut self) -> Option<JobProgressEvent> {
        Watch::next(self).await
    }
}

/// Whether a polled state says something new (timing alone changes every read).
fn changed(last: Option<&JobProgressEvent>, new: &JobProgressEvent) -> bool {
    last.is_none_or(|l| {
        l.status != new.status
            || l.progress != new.progress
            || l.message != new.message
            || l.waiting_for_worker != new.waiting_for_worker
            || l.waiting_for != new.waiting_for
            || l.batch
                .as_ref()
                .map(|b| (b.completed, b.failed, b.cancelled))
                != new
                    .batch
                    .as_ref()
                    .map(|b| (b.completed, b.failed, b.cancelled))
    })
}

#[cfg(test)]
mod tests {
    use super::valid_job_type;

    #[test]
    fn job_type_names() {
        fn check(input: &str, ok: bool) {
            assert_eq!(valid_job_type(input), ok, "{input:?}");
        }
        check("site-builder:generate", true);
        check("test:no_op", true);
        check("generate", false);
        check("Site:x", false);
        check("a:b:c", false);
        check(":x", false);
    }
}
