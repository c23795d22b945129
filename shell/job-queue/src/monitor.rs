//! The progress monitor: folds committed lifecycle changes (from the driver) and progress
//! reports (from running handlers) into `JobProgressEvent`s with timing, and publishes
//! them on the bus targeted at each job's source.
//!
//! It is push-based: nothing here polls the database. A handler's `report_progress` wakes
//! the monitor at most once per publish (see `ProgressCell`), and each job or batch gets
//! at most `max_events_per_second` progress events; a burst in between is folded into the
//! next one. Lifecycle changes (queued, started, completed, failed, cancelled) are published
//! at once and never coalesced away.
//!
//! The same event builders serve the status queries, so a status answer and a pushed
//! event say the same thing.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use brain_plugin_api::engine::{Bus, ProgressCell};
use brain_plugin_api::{
    BatchDetails, Event, ItemError, JobDetails, JobKind, JobProgressEvent, JobStatus, Progress,
    Source, Timing, Update, Wording, format_duration, format_short,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::estimate::{self, DurationStats, Estimate, ItemTimes};
use crate::store::{BatchRow, Driver, Effect, JobHead, ProgressRow, SaveEstimates, SaveProgress};
use crate::util::{now_ms, to_datetime};

/// Failed items listed per batch event; the status query can list more.
pub(crate) const MAX_LISTED_ERRORS: usize = 50;
/// How often a running job's progress snapshot is written for other processes to see.
const PERSIST_INTERVAL: Duration = Duration::from_millis(250);

/// Messages into the monitor.
pub(crate) enum MonitorMsg {
    Effects(Vec<Effect>),
    /// A job of this process started its handler with this progress cell.
    Running {
        head: Arc<JobHead>,
        lease_token: i64,
        cell: Arc<ProgressCell>,
    },
    /// The job's handler returned; its cell is no longer updated.
    Stopped {
        seq: i64,
        lease_token: i64,
    },
    /// A running job's progress cell changed.
    Dirty {
        seq: i64,
    },
}

/// History of job durations per type, and the handlers' defaults; shared by the monitor
/// (which learns) and the queue (which answers estimates).
#[derive(Default)]
pub(crate) struct Estimates {
    stats: HashMap<String, DurationStats>,
    defaults: HashMap<String, Duration>,
    changed: bool,
}

impl Estimates {
    pub(crate) fn load(&mut self, rows: Vec<(String, f64, f64, u64)>) {
        for (job_type, mean_ms, var_ms2, samples) in rows {
            self.stats.insert(
                job_type,
                DurationStats {
                    mean_ms,
                    var_ms2,
                    samples,
                },
            );
        }
    }

    pub(crate) fn set_default(&mut self, job_type: &str, default: Duration) {
        self.defaults.insert(job_type.to_owned(), default);
    }

    pub(crate) fn per_job(&self, job_type: Option<&str>) -> Estimate {
        let default = job_type
            .and_then(|t| self.defaults.get(t))
            .copied()
            .unwrap_or(Duration::from_secs(5));
        estimate::per_job(job_type.and_then(|t| self.stats.get(t)), default)
    }

    fn observe(&mut self, job_type: &str, duration: Duration) {
        self.changed = true;
        self.stats
            .entry(job_type.to_owned())
            .and_modify(|s| s.observe(duration))
            .or_insert_with(|| DurationStats::new(duration));
    }

    /// The rows to persist, if anything changed since the last call.
    pub(crate) fn take_changes(&mut self) -> Option<Vec<(String, f64, f64, u64)>> {
        if !std::mem::take(&mut self.changed) {
            return None;
        }
        Some(
            self.stats
                .iter()
                .map(|(t, s)| (t.clone(), s.mean_ms, s.var_ms2, s.samples))
                .collect(),
        )
    }
}

pub(crate) type SharedEstimates = Arc<Mutex<Estimates>>;

pub(crate) fn lock(e: &SharedEstimates) -> std::sync::MutexGuard<'_, Estimates> {
    e.lock().unwrap_or_else(|p| p.into_inner())
}

/// What an event about one job is built from: a row in the store or a job running here.
#[derive(Debug, Clone)]
pub(crate) struct JobView {
    pub(crate) id: String,
    pub(crate) job_type: String,
    pub(crate) source: Source,
    pub(crate) label: Option<String>,
    pub(crate) batch_id: Option<String>,
    pub(crate) priority: i32,
    pub(crate) attempt: u32,
    pub(crate) max_attempts: u32,
    pub(crate) status: JobStatus,
    pub(crate) started_at: Option<i64>,
    pub(crate) finished_at: Option<i64>,
    pub(crate) progress: Option<(u64, u64)>,
    pub(crate) message: Option<String>,
    pub(crate) result: Option<serde_json::Value>,
    pub(crate) error: Option<String>,
    /// When a failed attempt will be retried.
    pub(crate) retry_at: Option<i64>,
    pub(crate) wording: Option<Wording>,
}

impl JobView {
    fn from_head(head: &JobHead, status: JobStatus) -> Self {
        Self {
            id: head.id.clone(),
            job_type: head.job_type.clone(),
            source: head.source.clone(),
            label: head.label.clone(),
            batch_id: head.batch_id.clone(),
            priority: head.priority,
            attempt: head.attempt,
            max_attempts: head.max_attempts,
            status,
            started_at: head.started_at,
            finished_at: None,
            progress: None,
            message: None,
            result: None,
            error: None,
            retry_at: None,
            wording: head.wording.clone(),
        }
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Timing of unfinished work with `eta` left (none when finished); `confident` says whether
/// the check can aim just after the end (see [`estimate::check_again_in`]).
fn timing(started_at: Option<i64>, end: i64, eta: Option<Duration>, confident: bool) -> Timing {
    let elapsed = started_at.map_or(0, |s| (end - s).max(0) as u64);
    let check = eta.map(|eta| estimate::check_again_in(eta, confident));
    Timing {
        started_at: started_at.map(to_datetime),
        elapsed_ms: elapsed,
        estimated_completion: eta.map(format_duration),
        estimated_completion_ms: eta.map(ms),
        check_again_in: check.map(format_duration),
        check_again_in_ms: check.map(ms),
    }
}

/// The event for one job in state `view`.
pub(crate) fn job_event(
    view: &JobView,
    update: Update,
    per_job: Estimate,
    now: i64,
) -> JobProgressEvent {
    let finished = view.status.is_finished();
    let mut confident = per_job.confident;
    let eta = match view.status {
        JobStatus::Pending => Some(
            per_job.expected
                + view.retry_at.map_or(Duration::ZERO, |r| {
                    Duration::from_millis((r - now).max(0) as u64)
                }),
        ),
        JobStatus::Processing => {
            let elapsed =
                Duration::from_millis(view.started_at.map_or(0, |s| (now - s).max(0) as u64));
            confident &= estimate::steady_job(per_job, elapsed, view.progress);
            Some(estimate::eta_job(per_job, elapsed, view.progress))
        }
        _ => None,
    };
    let end = if finished {
        view.finished_at.unwrap_or(now)
    } else {
        now
    };
    let timing = timing(
        if view.status == JobStatus::Pending {
            None
        } else {
            view.started_at
        },
        end,
        eta,
        confident,
    );
    let what = view.label.clone().unwrap_or_else(|| view.job_type.clone());
    let message = match view.status {
        JobStatus::Pending => match (&view.error, view.retry_at) {
            (Some(error), Some(at)) => Some(format!(
                "Attempt {} of {} failed: {error}; retrying in {}",
                view.attempt,
                view.max_attempts,
                format_short(Duration::from_millis((at - now).max(0) as u64))
            )),
            _ => Some(format!("Queued: {what}")),
        },
        JobStatus::Processing => view
            .message
            .clone()
            .filter(|m| !m.is_empty())
            .or(Some(format!("Running {what}"))),
        JobStatus::Completed => Some(format!(
            "Completed {what} in {}",
            format_short(Duration::from_millis(timing.elapsed_ms))
        )),
        JobStatus::Failed => Some(format!(
            "Failed {what} after {} attempt{}: {}",
            view.attempt,
            if view.attempt == 1 { "" } else { "s" },
            view.error.as_deref().unwrap_or("unknown error")
        )),
        JobStatus::Cancelled => Some(format!("Cancelled {what}")),
    };
    JobProgressEvent {
        id: view.id.clone(),
        kind: JobKind::Job,
        status: view.status,
        update,
        observed_at: to_datetime(now),
        source: view.source.clone(),
        label: view.label.clone(),
        progress: view.progress.map(|(c, t)| Progress::new(c, t)),
        message,
        timing,
        batch: None,
        job: Some(JobDetails {
            job_type: view.job_type.clone(),
            priority: view.priority,
            attempt: view.attempt,
            max_attempts: view.max_attempts,
            batch_id: view.batch_id.clone(),
        }),
        result: if view.status == JobStatus::Completed {
            view.result.clone()
        } else {
            None
        },
        error: if matches!(view.status, JobStatus::Failed | JobStatus::Cancelled) {
            Some(
                view.error
                    .clone()
                    .unwrap_or_else(|| view.status.to_string()),
            )
        } else {
            None
        },
        wording: view.wording.clone(),
        waiting_for_worker: false,
        waiting_for: Vec::new(),
    }
}

/// The event for a batch with counters `row`.
pub(crate) fn batch_event(
    row: &BatchRow,
    update: Update,
    current_operation: Option<String>,
    errors: Vec<ItemError>,
    per_job: Estimate,
    items: &ItemTimes,
    now: i64,
) -> JobProgressEvent {
    let concurrency = items.concurrency;
    let status = row.status();
    let finished = row.finished();
    let mut confident = per_job.confident;
    let eta = match status {
        JobStatus::Pending => Some(estimate::for_batch(per_job, row.total, concurrency).expected),
        JobStatus::Processing => {
            let elapsed =
                Duration::from_millis(row.started_at.map_or(0, |s| (now - s).max(0) as u64));
            confident &= estimate::steady_batch(per_job, row.total, finished, concurrency, elapsed);
            Some(estimate::eta_batch(
                per_job,
                row.total,
                finished,
                row.processing,
                items,
            ))
        }
        _ => None,
    };
    let end = if status.is_finished() {
        row.finished_at.unwrap_or(now)
    } else {
        now
    };
    let timing = timing(row.started_at, end, eta, confident);
    let what = row.label.clone().unwrap_or_else(|| "batch".to_owned());
    let took = format_short(Duration::from_millis(timing.elapsed_ms));
    let message = match status {
        JobStatus::Pending => format!("Queued: {what} ({} items)", row.total),
        JobStatus::Processing => current_operation
            .clone()
            .unwrap_or_else(|| format!("{what}: {finished}/{}", row.total)),
        JobStatus::Completed => format!("{what}: all {} items completed in {took}", row.total),
        JobStatus::Failed => format!("{what}: {} of {} items failed", row.failed, row.total),
        // Not "n/n": the progress count includes the cancelled items.
        JobStatus::Cancelled => format!(
            "{what}: cancelled — {} of {} done",
            row.completed, row.total
        ),
    };
    JobProgressEvent {
        id: row.id.clone(),
        kind: JobKind::Batch,
        status,
        update,
        observed_at: to_datetime(now),
        source: row.source.clone(),
        label: row.label.clone(),
        progress: Some(Progress::new(finished, row.total)),
        message: Some(message),
        timing,
        batch: Some(BatchDetails {
            total: row.total,
            completed: row.completed,
            failed: row.failed,
            cancelled: row.cancelled,
            current_operation: if status == JobStatus::Processing {
                current_operation
            } else {
                None
            },
            errors,
        }),
        job: None,
        result: None,
        error: None,
        wording: row.wording.clone(),
        waiting_for_worker: false,
        waiting_for: Vec::new(),
    }
}

/// Settings of the monitor.
#[derive(Debug, Clone)]
pub(crate) struct MonitorConfig {
    pub(crate) max_events_per_second: u32,
}

struct LocalJob {
    head: Arc<JobHead>,
    lease_token: i64,
    cell: Arc<ProgressCell>,
    last_persist: Instant,
}

#[derive(Default)]
struct Throttle {
    last: Option<Instant>,
    scheduled: bool,
}

impl Throttle {
    /// True when an event may go out now; otherwise schedules one and returns when.
    fn admit(&mut self, now: Instant, min_gap: Duration) -> Result<(), Option<Instant>> {
        match self.last {
            Some(last) if now < last + min_gap => {
                if self.scheduled {
                    Err(None)
                } else {
                    self.scheduled = true;
                    Err(Some(last + min_gap))
                }
            }
            _ => Ok(()),
        }
    }

    fn sent(&mut self, now: Instant) {
        self.last = Some(now);
        self.scheduled = false;
    }
}

struct BatchState {
    row: BatchRow,
    status: Option<JobStatus>,
    errors: Vec<ItemError>,
    current: Option<String>,
    throttle: Throttle,
    /// When the writer last reported this batch.
    touched: Instant,
    /// The durations of its items completed here, for its ETA.
    done_total: Duration,
    done: u64,
}

/// A batch this process has not heard of for this long, with none of its jobs running
/// here, is forgotten: its last jobs finished in another process.
const IDLE_BATCH: Duration = Duration::from_secs(600);

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Job(i64),
    Batch(String),
}

pub(crate) struct Monitor {
    bus: Bus<Event>,
    driver: Arc<dyn Driver>,
    estimates: SharedEstimates,
    concurrency: Arc<AtomicUsize>,
    min_gap: Duration,
    running: HashMap<i64, LocalJob>,
    job_throttle: HashMap<i64, Throttle>,
    batches: HashMap<String, BatchState>,
    deadlines: BinaryHeap<Reverse<(Instant, Key)>>,
    /// When the duration history was last written.
    saved_estimates: Instant,
    counters: crate::metrics::SharedCounters,
}

/// A job that ends outside a batch writes the duration history at most this often (other
/// processes estimate from the stored history); a batch that ends writes it at once.
const SAVE_AFTER_A_JOB: Duration = Duration::from_secs(1);

impl Monitor {
    pub(crate) fn new(
        bus: Bus<Event>,
        driver: Arc<dyn Driver>,
        estimates: SharedEstimates,
        concurrency: Arc<AtomicUsize>,
        counters: crate::metrics::SharedCounters,
        config: &MonitorConfig,
    ) -> Self {
        Self {
            bus,
            driver,
            estimates,
            concurrency,
            min_gap: Duration::from_secs(1) / config.max_events_per_second.max(1),
            running: HashMap::new(),
            job_throttle: HashMap::new(),
            batches: HashMap::new(),
            deadlines: BinaryHeap::new(),
            saved_estimates: Instant::now(),
            counters,
        }
    }

    pub(crate) async fn run(
        mut self,
        mut rx: mpsc::UnboundedReceiver<MonitorMsg>,
        stop: CancellationToken,
    ) {
        let mut save_estimates = tokio::time::interval(Duration::from_secs(5));
        save_estimates.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let next = self.deadlines.peek().map(|Reverse((at, _))| *at);
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(msg) => self.handle(msg),
                    None => break,
                },
                _ = sleep_until(next) => self.flush_due(),
                _ = save_estimates.tick() => {
                    self.save_estimates();
                    self.forget_idle_batches();
                }
                _ = stop.cancelled() => {
                    // Deliver what is already queued so final events are not lost.
                    while let Ok(msg) = rx.try_recv() {
                        self.handle(msg);
                    }
                    break;
                }
            }
        }
        self.save_estimates();
    }

    fn forget_idle_batches(&mut self) {
        let running = &self.running;
        self.batches.retain(|id, state| {
            state.touched.elapsed() < IDLE_BATCH
                || running
                    .values()
                    .any(|j| j.head.batch_id.as_deref() == Some(id.as_str()))
        });
    }

    fn save_estimates(&mut self) {
        if let Some(rows) = lock(&self.estimates).take_changes() {
            self.saved_estimates = Instant::now();
            self.driver.save_estimates_later(SaveEstimates { rows });
        }
    }

    fn concurrency(&self) -> u32 {
        self.concurrency
            .load(Ordering::Relaxed)
            .clamp(1, u32::MAX as usize) as u32
    }

    fn per_job(&self, job_type: Option<&str>) -> Estimate {
        lock(&self.estimates).per_job(job_type)
    }

    fn publish(&self, event: JobProgressEvent) {
        self.bus.publish(Event::JobProgress(Arc::new(event)));
    }

    fn handle(&mut self, msg: MonitorMsg) {
        match msg {
            MonitorMsg::Effects(effects) => {
                self.count(&effects);
                effects.into_iter().for_each(|e| self.effect(e));
            }
            MonitorMsg::Running {
                head,
                lease_token,
                cell,
            } => {
                let batch = head.batch_id.clone();
                let label = head.label.clone();
                self.running.insert(
                    head.seq,
                    LocalJob {
                        head,
                        lease_token,
                        cell,
                        last_persist: Instant::now(),
                    },
                );
                if let Some(b) = batch.and_then(|b| self.batches.get_mut(&b))
                    && let Some(label) = label
                {
                    b.current = Some(label);
                }
            }
            MonitorMsg::Stopped { seq, lease_token } => {
                // Only this run's entry: a newer run of the job may have replaced it.
                if self
                    .running
                    .get(&seq)
                    .is_some_and(|j| j.lease_token == lease_token)
                {
                    self.running.remove(&seq);
                }
            }
            MonitorMsg::Dirty { seq } => {
                let Some(job) = self.running.get(&seq) else {
                    return;
                };
                match job.head.batch_id.clone() {
                    Some(batch) => self.batch_progress(&batch),
                    None => self.job_progress(seq),
                }
            }
        }
    }

    /// Whether anyone listens. Events of single jobs are built only then: at tens of
    /// thousands of jobs a second, building unread events costs CPU the writer needs.
    fn listening(&self) -> bool {
        self.bus.subscriber_count() > 0
    }

    /// Counts a commit's changes for the metrics, before the completed runs join the
    /// duration history (their ETA error is against what was expected before them).
    fn count(&self, effects: &[Effect]) {
        let estimates = lock(&self.estimates);
        let mut counters = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        for effect in effects {
            counters.count(effect, |job_type| {
                estimates.per_job(Some(job_type)).expected
            });
        }
    }

    fn effect(&mut self, effect: Effect) {
        let now = now_ms();
        let listening = self.listening();
        match effect {
            Effect::Enqueued(_) | Effect::Started(_) | Effect::CancelledPending(..)
                if !listening => {}
            // The queue wakes the pools; nothing to show.
            Effect::Unblocked { .. } => {}
            Effect::Enqueued(head) => {
                let view = JobView::from_head(&head, JobStatus::Pending);
                let est = self.per_job(Some(&head.job_type));
                self.publish(job_event(&view, Update::Lifecycle, est, now));
            }
            Effect::Started(head) => {
                let view = JobView::from_head(&head, JobStatus::Processing);
                let est = self.per_job(Some(&head.job_type));
                self.job_throttle
                    .entry(head.seq)
                    .or_default()
                    .sent(Instant::now());
                self.publish(job_event(&view, Update::Lifecycle, est, now));
            }
            Effect::CancelledPending(head, reason) => {
                let mut view = JobView::from_head(&head, JobStatus::Cancelled);
                view.finished_at = Some(now);
                view.error = Some(reason);
                let est = self.per_job(Some(&head.job_type));
                self.publish(job_event(&view, Update::Lifecycle, est, now));
            }
            Effect::Finished {
                head,
                status,
                result,
                error,
                retry_at,
                finished_at,
            } => {
                let local = self.running.remove(&head.seq);
                self.job_throttle.remove(&head.seq);
                if status == JobStatus::Completed
                    && let Some(started) = head.started_at
                {
                    let took = Duration::from_millis((finished_at - started).max(0) as u64);
                    lock(&self.estimates).observe(&head.job_type, took);
                    if head.batch_id.is_none() && self.saved_estimates.elapsed() >= SAVE_AFTER_A_JOB
                    {
                        self.save_estimates();
                    }
                }
                match &head.batch_id {
                    Some(batch) => {
                        if status == JobStatus::Completed
                            && let (Some(started), Some(b)) =
                                (head.started_at, self.batches.get_mut(batch))
                        {
                            b.done_total +=
                                Duration::from_millis((finished_at - started).max(0) as u64);
                            b.done += 1;
                        }
                        if status == JobStatus::Failed
                            && let Some(b) = self.batches.get_mut(batch)
                            && b.errors.len() < MAX_LISTED_ERRORS
                        {
                            b.errors.push(ItemError {
                                job_id: head.id.clone(),
                                label: head.label.clone(),
                                error: error.clone().unwrap_or_else(|| "failed".into()),
                            });
                        }
                    }
                    None if !listening => {}
                    None => {
                        let progress = local.map(|l| l.cell.peek());
                        let mut view = JobView::from_head(&head, status);
                        view.finished_at = status.is_finished().then_some(finished_at);
                        view.result = result.map(|r| {
                            serde_json::from_str(&r).unwrap_or(serde_json::Value::String(r))
                        });
                        view.error = error;
                        view.retry_at = retry_at;
                        if let Some(p) = progress {
                            view.progress = (p.total > 0).then_some((p.current, p.total));
                            view.message = Some(p.message);
                        }
                        let est = self.per_job(Some(&head.job_type));
                        self.publish(job_event(&view, Update::Lifecycle, est, now));
                    }
                }
            }
            Effect::Batch(row) => self.batch_changed(row),
        }
    }

    fn job_progress(&mut self, seq: i64) {
        let now = Instant::now();
        let throttle = self.job_throttle.entry(seq).or_default();
        match throttle.admit(now, self.min_gap) {
            Ok(()) => {}
            Err(Some(at)) => {
                self.deadlines.push(Reverse((at, Key::Job(seq))));
                return;
            }
            Err(None) => return,
        }
        throttle.sent(now);
        let Some(job) = self.running.get_mut(&seq) else {
            return;
        };
        let snap = job.cell.snapshot();
        if job.last_persist.elapsed() >= PERSIST_INTERVAL {
            job.last_persist = now;
            self.driver.save_progress(SaveProgress {
                seq,
                lease_token: job.lease_token,
                progress: ProgressRow {
                    current: snap.current,
                    total: snap.total,
                    message: snap.message.clone(),
                },
            });
        }
        let mut view = JobView::from_head(&job.head, JobStatus::Processing);
        view.progress = (snap.total > 0).then_some((snap.current, snap.total));
        view.message = Some(snap.message);
        let job_type = job.head.job_type.clone();
        let event = job_event(
            &view,
            Update::Progress,
            self.per_job(Some(&job_type)),
            now_ms(),
        );
        self.publish(event);
    }

    fn batch_changed(&mut self, row: BatchRow) {
        let id = row.id.clone();
        let state = self
            .batches
            .entry(id.clone())
            .or_insert_with(|| BatchState {
                row: row.clone(),
                status: None,
                errors: Vec::new(),
                current: None,
                throttle: Throttle::default(),
                touched: Instant::now(),
                done_total: Duration::ZERO,
                done: 0,
            });
        state.row = row;
        state.touched = Instant::now();
        let status = state.row.status();
        if state.status != Some(status) {
            state.status = Some(status);
            state.throttle.sent(Instant::now());
            let event = self.build_batch_event(&id, Update::Lifecycle);
            if let Some(event) = event {
                self.publish(event);
            }
            if status.is_finished() {
                self.batches.remove(&id);
                // The next operation's estimate, in whichever process, has this one's
                // durations to go on.
                self.save_estimates();
            }
        } else {
            self.batch_progress(&id);
        }
    }

    fn batch_progress(&mut self, id: &str) {
        let now = Instant::now();
        let Some(state) = self.batches.get_mut(id) else {
            return;
        };
        match state.throttle.admit(now, self.min_gap) {
            Ok(()) => state.throttle.sent(now),
            Err(Some(at)) => {
                self.deadlines
                    .push(Reverse((at, Key::Batch(id.to_owned()))));
                return;
            }
            Err(None) => return,
        }
        if let Some(event) = self.build_batch_event(id, Update::Progress) {
            self.publish(event);
        }
    }

    /// The batch's current operation: the message of its most recently started job running
    /// here. Every member's cell is read (and so re-armed), because a cell only wakes the
    /// monitor again after it was read.
    fn current_operation(&self, id: &str) -> Option<String> {
        let mut newest: Option<(Option<i64>, String)> = None;
        for job in self
            .running
            .values()
            .filter(|j| j.head.batch_id.as_deref() == Some(id))
        {
            let snap = job.cell.snapshot();
            let text = if snap.message.is_empty() {
                job.head
                    .label
                    .clone()
                    .unwrap_or_else(|| job.head.job_type.clone())
            } else {
                snap.message
            };
            if newest
                .as_ref()
                .is_none_or(|(at, _)| job.head.started_at >= *at)
            {
                newest = Some((job.head.started_at, text));
            }
        }
        newest.map(|(_, text)| text)
    }

    fn build_batch_event(&mut self, id: &str, update: Update) -> Option<JobProgressEvent> {
        let current = self.current_operation(id);
        let concurrency = self.concurrency();
        let now = now_ms();
        // Its items running here, by how long they have run (those running elsewhere
        // count as just started).
        let running = self
            .running
            .values()
            .filter(|j| j.head.batch_id.as_deref() == Some(id))
            .map(|j| {
                Duration::from_millis(j.head.started_at.map_or(0, |s| (now - s).max(0) as u64))
            })
            .collect();
        let state = self.batches.get_mut(id)?;
        if current.is_some() {
            state.current = current;
        }
        let per_job = lock(&self.estimates).per_job(state.row.job_type.as_deref());
        let items = ItemTimes {
            concurrency,
            running,
            done_total: state.done_total,
            done: state.done,
        };
        Some(batch_event(
            &state.row,
            update,
            state.current.clone(),
            state.errors.clone(),
            per_job,
            &items,
            now,
        ))
    }

    fn flush_due(&mut self) {
        let now = Instant::now();
        while let Some(Reverse((at, _))) = self.deadlines.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, key))) = self.deadlines.pop() else {
                break;
            };
            match key {
                Key::Job(seq) => {
                    if let Some(t) = self.job_throttle.get_mut(&seq) {
                        t.scheduled = false;
                        t.last = None;
                    }
                    if self.running.contains_key(&seq) {
                        self.job_progress(seq);
                    }
                }
                Key::Batch(id) => {
                    if let Some(state) = self.batches.get_mut(&id) {
                        state.throttle.scheduled = false;
                        state.throttle.last = None;
                        self.batch_progress(&id);
                    }
                }
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
