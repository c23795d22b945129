//! The worker pool: claims due jobs when woken, runs their handlers with a lease renewed by
//! a heartbeat, retries failures with back-off, and shuts down gracefully.
//!
//! There is no poll loop on the happy path: a claimer sleeps until an enqueue (this
//! process's, or another's via a wake datagram), a finished job frees a slot, the next
//! delayed job becomes due, or the heartbeat ticks (which also recovers expired leases).

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use brain_plugin_api::engine::{JobInfo, ProgressCell};
use brain_plugin_api::{JobContext, JobError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::{QueueError, Result};
use crate::monitor::MonitorMsg;
use crate::queue::{Queue, RunningJob};
use crate::store::{
    Claim, Claimed, Finish, Heartbeat, OutboxDone, Outcome, ProgressRow, RegisterWorker, Sweep,
    UnregisterWorker, WorkerRow,
};
use crate::util::{host_name, now_ms, random_i64, random_id};
use crate::wake;

/// Claimers per pool. Each claim waits for its transaction, so with one a busy pool's
/// cycle is claim → run → (record and claim) → … one commit after another; with two, one
/// claim's transaction runs while the other's jobs run (queue-bench throughput, medians:
/// SQLite 81k → 87k jobs/s, PostgreSQL, whose writer commits two transactions side by
/// side, 25k → 29k). A third measured no better.
const CLAIMERS: usize = 2;

tokio::task_local! {
    /// The id of the job this task runs a handler for: work enqueued from inside a
    /// handler joins a scoped pool's scope (`Queue::enqueue`).
    pub(crate) static RUNNING_JOB: String;
}

/// Settings of a worker pool.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Jobs run at once.
    pub concurrency: usize,
    /// How long a claimed job stays ours without a heartbeat.
    pub lease: Duration,
    /// How often leases are renewed (and expired ones recovered); default a third of the lease.
    pub heartbeat: Option<Duration>,
    /// Job types this pool runs; default every registered type.
    pub job_types: Option<Vec<String>>,
    /// Limits the pool to these jobs and batches (by id), to be extended with
    /// [`WorkerPool::extend_scope`]: a one-shot command runs its own operation and what it
    /// depends on, and leaves other work to the brain's workers. `None`: any work of its
    /// types. A scoped pool does not count as a worker for the whole brain.
    pub scope: Option<Vec<String>>,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            concurrency: 4,
            lease: Duration::from_secs(30),
            heartbeat: None,
            job_types: None,
            scope: None,
        }
    }
}

/// What a shutdown did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Jobs still running at the timeout, put back to pending for the next start.
    pub released: usize,
}

struct PoolInner {
    queue: Queue,
    worker_id: Arc<str>,
    /// Its `workers` row, rewritten when the scope grows.
    row: std::sync::Mutex<WorkerRow>,
    types: Arc<[String]>,
    lease_ms: i64,
    semaphore: Arc<Semaphore>,
    /// Stop claiming.
    stop: CancellationToken,
    /// Set while shutting down, so cancelled handlers are released rather than cancelled.
    shutting_down: AtomicBool,
}

/// Workers running jobs of one queue; stop them with [`WorkerPool::shutdown`].
pub struct WorkerPool {
    inner: Arc<PoolInner>,
    concurrency: usize,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for WorkerPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerPool")
            .field("worker_id", &self.inner.worker_id)
            .finish_non_exhaustive()
    }
}

impl Queue {
    /// Starts the workers of this process. One pool per queue handle.
    pub async fn start_workers(&self, config: WorkerConfig) -> Result<WorkerPool> {
        if config.concurrency == 0 || config.concurrency > 10_000 {
            return Err(QueueError::InvalidArgument {
                field: "concurrency",
                reason: format!("must be between 1 and 10000, got {}", config.concurrency),
            });
        }
        if config.lease < Duration::from_millis(200) {
            return Err(QueueError::InvalidArgument {
                field: "lease",
                reason: format!("must be at least 200 ms, got {:?}", config.lease),
            });
        }
        let registered = self.job_types();
        let types = match &config.job_types {
            Some(wanted) => {
                for t in wanted {
                    if !registered.contains(t) {
                        return Err(QueueError::UnknownJobType {
                            job_type: t.clone(),
                            registered: registered.join(", "),
                        });
                    }
                }
                wanted.clone()
            }
            None => registered,
        };
        let local = &self.inner.local;
        let worker_id: Arc<str> = {
            let mut slot = local.worker_id.lock().unwrap_or_else(|e| e.into_inner());
            if slot.is_some() {
                return Err(QueueError::InvalidArgument {
                    field: "workers",
                    reason: "this queue already runs a worker pool".into(),
                });
            }
            let id: Arc<str> = random_id("worker_").into();
            *slot = Some(id.clone());
            id
        };
        let (socket, port) = wake::bind().await.map_err(|source| QueueError::Io {
            path: "127.0.0.1 (wake socket)".into(),
            source,
        })?;
        let lease_ms = i64::try_from(config.lease.as_millis()).unwrap_or(i64::MAX / 4);
        let host = host_name();
        let row = WorkerRow {
            id: worker_id.to_string(),
            pid: std::process::id(),
            host: host.clone(),
            // Set by the database's clock when the row is written.
            started_at: 0,
            heartbeat_at: 0,
            lease_ms,
            concurrency: config.concurrency as u32,
            job_types: types.clone(),
            wake_port: Some(port),
            scope: config.scope.clone(),
        };
        let worker = row.clone();
        self.inner
            .driver
            .register_worker(RegisterWorker { worker })
            .await?;
        *local.scope.write().unwrap_or_else(|e| e.into_inner()) = config.scope.clone();
        *local.types.write().unwrap_or_else(|e| e.into_inner()) = types.clone();
        local
            .concurrency
            .store(config.concurrency, Ordering::Relaxed);

        let inner = Arc::new(PoolInner {
            queue: self.clone(),
            worker_id,
            row: std::sync::Mutex::new(row),
            types: types.into(),
            lease_ms,
            semaphore: Arc::new(Semaphore::new(config.concurrency)),
            stop: CancellationToken::new(),
            shutting_down: AtomicBool::new(false),
        });
        // Recover jobs of processes that died on this machine before anything is claimed,
        // and apply effects a process committed but stopped before applying.
        inner.sweep(&host).await;
        // What cannot be applied now (a full disk) is tried again at the next start.
        apply_outbox(self, None).await;
        let heartbeat = config
            .heartbeat
            .unwrap_or(config.lease / 3)
            .max(Duration::from_millis(50));
        let mut tasks = vec![
            tokio::spawn(inner.clone().heartbeat(heartbeat, host)),
            tokio::spawn(inner.clone().listen(socket)),
        ];
        let claimers = CLAIMERS.min(config.concurrency);
        for _ in 0..claimers {
            tasks.push(tokio::spawn(
                inner.clone().dispatch(heartbeat, claimers > 1),
            ));
        }
        if let Some(wake_ups) = self.inner.driver.wake_ups() {
            tasks.push(tokio::spawn(inner.clone().follow(wake_ups)));
        }
        Ok(WorkerPool {
            inner,
            concurrency: config.concurrency,
            tasks,
        })
    }
}

impl WorkerPool {
    pub fn worker_id(&self) -> &str {
        &self.inner.worker_id
    }

    /// Lets a scoped pool also run these jobs and batches (by id); other processes see
    /// the new scope at once. A pool that runs any work is left as it is.
    pub async fn extend_scope(&self, ids: &[String]) -> Result<()> {
        let inner = &self.inner;
        let local = &inner.queue.inner.local;
        let worker = {
            let mut scope = local.scope.write().unwrap_or_else(|e| e.into_inner());
            let Some(scope) = scope.as_mut() else {
                return Ok(());
            };
            for id in ids {
                if !scope.contains(id) {
                    scope.push(id.clone());
                }
            }
            let mut row = inner.row.lock().unwrap_or_else(|e| e.into_inner());
            row.scope = Some(scope.clone());
            row.clone()
        };
        inner
            .queue
            .inner
            .driver
            .register_worker(RegisterWorker { worker })
            .await?;
        local.work.notify_one();
        Ok(())
    }

    /// Stops claiming, waits up to `timeout` for running jobs, then puts the rest back to
    /// pending (without spending an attempt) and cancels their handlers.
    pub async fn shutdown(self, timeout: Duration) -> ShutdownReport {
        let inner = &self.inner;
        inner.stop.cancel();
        let all = u32::try_from(self.concurrency).unwrap_or(u32::MAX);
        let deadline = tokio::time::Instant::now() + timeout;
        // A slot is freed just before its outcome is written; wait for the writes too.
        let local = inner.queue.inner.local.clone();
        let drained = tokio::time::timeout_at(deadline, async {
            let _all = inner.semaphore.acquire_many(all).await;
            while !local.running().is_empty() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        let mut released = 0;
        if drained.is_err() {
            inner.shutting_down.store(true, Ordering::SeqCst);
            let leftovers: Vec<_> = inner
                .queue
                .inner
                .local
                .running()
                .values()
                .map(|j| {
                    (
                        j.head.clone(),
                        j.lease_token,
                        j.cell.peek(),
                        j.cancel.clone(),
                    )
                })
                .collect();
            for (head, lease_token, p, cancel) in leftovers {
                cancel.cancel();
                let progress = Some(ProgressRow {
                    current: p.current,
                    total: p.total,
                    message: p.message,
                });
                let done = inner
                    .queue
                    .inner
                    .driver
                    .finish(Finish {
                        head,
                        lease_token,
                        outcome: Outcome::Released,
                        progress,
                    })
                    .await;
                if matches!(done, Ok(true)) {
                    released += 1;
                }
            }
        }
        for task in &self.tasks {
            task.abort();
        }
        let local = &inner.queue.inner.local;
        local.concurrency.store(0, Ordering::Relaxed);
        local
            .types
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        *local.scope.write().unwrap_or_else(|e| e.into_inner()) = None;
        *local.worker_id.lock().unwrap_or_else(|e| e.into_inner()) = None;
        if let Err(error) = inner.queue.flush_estimates().await {
            tracing::warn!(%error, "could not save duration estimates");
        }
        let id = inner.worker_id.to_string();
        if let Err(error) = inner
            .queue
            .inner
            .driver
            .unregister_worker(UnregisterWorker { id })
            .await
        {
            tracing::warn!(%error, "could not unregister the worker");
        }
        ShutdownReport { released }
    }
}

impl PoolInner {
    /// One claimer: takes free slots, claims jobs for them and starts them. A pool runs
    /// [`CLAIMERS`] of these side by side.
    async fn dispatch(self: Arc<Self>, heartbeat: Duration, siblings: bool) {
        let local = self.queue.inner.local.clone();
        loop {
            let first = tokio::select! {
                permit = self.semaphore.clone().acquire_owned() => match permit {
                    Ok(p) => p,
                    Err(_) => return,
                },
                _ = self.stop.cancelled() => return,
            };
            // Let other jobs that are finishing free their slots first: one claim for many
            // slots costs the writer far less than many claims for one slot each.
            tokio::task::yield_now().await;
            let mut permits = vec![first];
            while permits.len() < 256 {
                match self.semaphore.clone().try_acquire_owned() {
                    Ok(p) => permits.push(p),
                    Err(_) => break,
                }
            }
            let limit = permits.len();
            let claimed = self
                .queue
                .inner
                .driver
                .claim(Claim {
                    worker_id: self.worker_id.clone(),
                    types: self.types.clone(),
                    scope: self.scope(),
                    limit,
                    lease_ms: self.lease_ms,
                })
                .await;
            let claimed = match claimed {
                Ok(c) => c,
                Err(QueueError::Closed) => return,
                Err(error) => {
                    // A full disk, say: the claim is tried again until it goes through.
                    tracing::warn!(%error, "claiming jobs failed; retrying shortly");
                    drop(permits);
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(500)) => {}
                        () = self.stop.cancelled() => return,
                    }
                    continue;
                }
            };
            if claimed.is_empty() {
                // Nothing due: sleep until woken, the next delayed job, or the heartbeat,
                // holding no slot, so that a claimer still at work may use them all.
                drop(permits);
                let next_due = self.next_due().await;
                let wait = next_due.map_or(heartbeat, |at| {
                    Duration::from_millis((at - now_ms()).clamp(0, i64::MAX) as u64).min(heartbeat)
                });
                tokio::select! {
                    _ = local.work.notified() => {}
                    _ = tokio::time::sleep(wait) => {}
                    _ = self.stop.cancelled() => return,
                }
                if self.stop.is_cancelled() {
                    return;
                }
                continue;
            }
            if siblings && claimed.len() == limit {
                // There may be more: a claimer asleep joins in.
                local.work.notify_one();
            }
            {
                let mut counters = self
                    .queue
                    .inner
                    .counters
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                for job in &claimed {
                    counters.started(&job.head);
                }
            }
            for job in claimed {
                let Some(permit) = permits.pop() else { break };
                tokio::spawn(self.clone().run(job, permit));
            }
        }
    }

    /// The ids a scoped pool may run now.
    fn scope(&self) -> Option<Arc<[String]>> {
        self.queue
            .inner
            .local
            .scope
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|s| s.as_slice().into())
    }

    async fn next_due(&self) -> Option<i64> {
        let scope = self.scope();
        self.queue
            .inner
            .driver
            .next_due(&self.types, scope.as_deref())
            .await
            .ok()?
    }

    async fn run(self: Arc<Self>, job: Claimed, permit: OwnedSemaphorePermit) {
        let queue = &self.queue.inner;
        let head = job.head.clone();
        let seq = head.seq;
        let monitor = queue.monitor.clone();
        let cell = Arc::new(ProgressCell::new(move || {
            let _ = monitor.send(MonitorMsg::Dirty { seq });
        }));
        let cancel = CancellationToken::new();
        let cancel_requested = Arc::new(AtomicBool::new(false));
        queue.local.running().insert(
            seq,
            RunningJob {
                head: head.clone(),
                lease_token: job.lease_token,
                cell: cell.clone(),
                cancel: cancel.clone(),
                cancel_requested: cancel_requested.clone(),
            },
        );
        let _ = queue.monitor.send(MonitorMsg::Running {
            head: head.clone(),
            lease_token: job.lease_token,
            cell: cell.clone(),
        });
        let mut staging: Option<JobContext> = None;
        let result = match self.queue.handler(&head.job_type) {
            None => Err(JobError::permanent(format!(
                "no handler for job type {:?} in this process",
                head.job_type
            ))),
            Some(handler) => {
                let ctx = JobContext::new(
                    JobInfo {
                        job_id: head.id.clone(),
                        job_type: head.job_type.clone(),
                        attempt: head.attempt,
                        max_attempts: head.max_attempts,
                        label: head.label.clone(),
                        batch_id: head.batch_id.clone(),
                        source: head.source.clone(),
                    },
                    cell.clone(),
                    cancel.clone(),
                );
                staging = Some(ctx.clone());
                let run = CatchUnwind(handler.run_json(&job.input, ctx));
                match RUNNING_JOB.scope(head.id.clone(), run).await {
                    Ok(result) => result,
                    Err(panic) => Err(JobError::retryable(format!(
                        "the handler panicked: {}",
                        panic_message(&panic)
                    ))),
                }
            }
        };
        let mut outcome = self.outcome(&head, result, &cancel, &cancel_requested);
        if let Outcome::Completed { effects, .. } = &mut outcome {
            *effects = staging.map(|ctx| ctx.take_staged()).unwrap_or_default();
            if let Some(bad) = effects.iter().find(|e| e.path().to_str().is_none()) {
                outcome = Outcome::Failed {
                    error: format!(
                        "a staged side effect's path is not UTF-8: {}",
                        bad.path().display()
                    ),
                };
            }
        }
        let has_effects =
            matches!(&outcome, Outcome::Completed { effects, .. } if !effects.is_empty());
        let p = cell.peek();
        let progress = Some(ProgressRow {
            current: p.current,
            total: p.total,
            message: p.message,
        });
        // Free the slot before the commit: the next claim shares the same group commit.
        drop(permit);
        let accepted = self
            .until_disk_has_space("record a job's outcome", || {
                queue.driver.finish(Finish {
                    head: head.clone(),
                    lease_token: job.lease_token,
                    outcome: outcome.clone(),
                    progress: progress.clone(),
                })
            })
            .await;
        match &accepted {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(job = %head.id, "the job's lease was taken over; its result is discarded")
            }
            Err(error) => {
                tracing::error!(job = %head.id, %error, "could not record the job's outcome")
            }
        }
        if has_effects && matches!(accepted, Ok(true)) {
            // Before the job leaves the running set, so a shutdown waits for it. An effect
            // that cannot be applied now (a full disk) is tried again with back-off; at a
            // shutdown it is left for the next start.
            let mut delay = Duration::from_millis(100);
            while !apply_outbox(&self.queue, Some(&head.id)).await
                && !self.shutting_down.load(Ordering::SeqCst)
            {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(WAIT_MAX);
            }
        }
        {
            // A newer run of this job (it was released or its lease lapsed, and this
            // process claimed it again) may have taken the slot: leave that one alone.
            let mut running = queue.local.running();
            if running
                .get(&seq)
                .is_some_and(|j| j.lease_token == job.lease_token)
            {
                running.remove(&seq);
            }
        }
        let _ = queue.monitor.send(MonitorMsg::Stopped {
            seq,
            lease_token: job.lease_token,
        });
        if matches!(accepted, Ok(true)) {
            // A retry may be due soon; a claimer recomputes its timer.
            queue.local.work.notify_one();
        }
    }

    /// Runs a write again, with back-off, while it fails because the disk is full — the
    /// worker keeps what it has to record until space is freed — unless the pool is
    /// shutting down.
    async fn until_disk_has_space<T, F>(
        &self,
        what: &str,
        mut write: impl FnMut() -> F,
    ) -> Result<T>
    where
        F: std::future::Future<Output = Result<T>>,
    {
        let mut delay = Duration::from_millis(100);
        loop {
            match write().await {
                Err(error)
                    if error.is_disk_full() && !self.shutting_down.load(Ordering::SeqCst) =>
                {
                    tracing::warn!(%error, "cannot {what}; trying again in {delay:?}");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(WAIT_MAX);
                }
                other => return other,
            }
        }
    }

    fn outcome(
        &self,
        head: &crate::store::JobHead,
        result: std::result::Result<serde_json::Value, JobError>,
        cancel: &CancellationToken,
        cancel_requested: &AtomicBool,
    ) -> Outcome {
        let config = &self.queue.inner.config;
        match result {
            Ok(value) => Outcome::Completed {
                result: value.to_string(),
                effects: Vec::new(),
            },
            Err(_) if cancel_requested.load(Ordering::SeqCst) => Outcome::Cancelled {
                reason: "cancelled".into(),
            },
            Err(_) if cancel.is_cancelled() && self.shutting_down.load(Ordering::SeqCst) => {
                Outcome::Released
            }
            Err(JobError::Cancelled) => Outcome::Cancelled {
                reason: "cancelled".into(),
            },
            Err(JobError::InvalidInput(message)) => Outcome::Failed {
                error: format!("invalid job input: {message}"),
            },
            Err(JobError::Waiting { message }) => {
                // No attempt is spent, so the attempt number cannot pace these: each wait
                // is the longest back-off, at most WAIT_MAX (with jitter).
                let delay = backoff(config.retry_base, config.retry_max.min(WAIT_MAX), 32);
                let delay_ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 4);
                Outcome::Wait {
                    error: message,
                    retry_at: now_ms() + delay_ms,
                }
            }
            Err(error) if error.is_retryable() && head.attempt < head.max_attempts => {
                let delay = backoff(config.retry_base, config.retry_max, head.attempt);
                let delay_ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 4);
                Outcome::Retry {
                    error: error.to_string(),
                    retry_at: now_ms() + delay_ms,
                }
            }
            Err(error) => Outcome::Failed {
                error: error.to_string(),
            },
        }
    }

    async fn heartbeat(self: Arc<Self>, every: Duration, host: String) {
        let queue = &self.queue.inner;
        let mut last_prune: Option<tokio::time::Instant> = None;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = queue.local.check.notified() => {}
                _ = self.stop.cancelled() => return,
            }
            let leases: Vec<(i64, i64, ProgressRow)> = queue
                .local
                .running()
                .values()
                .map(|j| {
                    let p = j.cell.peek();
                    (
                        j.head.seq,
                        j.lease_token,
                        ProgressRow {
                            current: p.current,
                            total: p.total,
                            message: p.message,
                        },
                    )
                })
                .collect();
            let beat = queue
                .driver
                .heartbeat(Heartbeat {
                    worker_id: self.worker_id.clone(),
                    leases,
                    lease_ms: self.lease_ms,
                })
                .await;
            match beat {
                Ok(result) => {
                    if result.unregistered {
                        // Taken for dead while this process was paused: back in the list,
                        // so other processes wake it and count it again.
                        let worker = self.row.lock().unwrap_or_else(|e| e.into_inner()).clone();
                        match queue
                            .driver
                            .register_worker(RegisterWorker { worker })
                            .await
                        {
                            Ok(()) => tracing::warn!(
                                "this process's worker row was gone (was it paused?); registered again"
                            ),
                            Err(error) => {
                                tracing::warn!(%error, "could not register the worker again")
                            }
                        }
                    }
                    let running = queue.local.running();
                    // Compare tokens: the job may have been claimed again since the beat.
                    let run =
                        |seq: i64, token: i64| running.get(&seq).filter(|j| j.lease_token == token);
                    for (seq, token) in result.cancel_requested {
                        if let Some(job) = run(seq, token) {
                            job.cancel_requested.store(true, Ordering::SeqCst);
                            job.cancel.cancel();
                        }
                    }
                    for (seq, token) in result.lost {
                        if let Some(job) = run(seq, token) {
                            tracing::warn!(job = %job.head.id, "lost the lease of a running job; stopping it");
                            job.cancel.cancel();
                        }
                    }
                }
                Err(QueueError::Closed) => return,
                Err(error) => tracing::warn!(%error, "heartbeat failed"),
            }
            self.sweep(&host).await;
            // Housekeeping about hourly, whatever the heartbeat interval.
            if last_prune.is_none_or(|at| at.elapsed() >= Duration::from_secs(3600)) {
                last_prune = Some(tokio::time::Instant::now());
                match self.queue.prune().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(jobs = n, "pruned finished jobs past the retention"),
                    Err(error) => tracing::warn!(%error, "pruning failed"),
                }
            }
        }
    }

    /// Returns expired leases to the queue; jobs of dead processes on this host at once.
    async fn sweep(&self, host: &str) {
        let me = self.worker_id.as_ref();
        let (dead_workers, alive_workers) = match self.queue.inner.driver.all_workers().await {
            Ok(rows) => {
                let (dead, alive): (Vec<_>, Vec<_>) = rows
                    .into_iter()
                    .filter(|w| w.host == host)
                    .partition(|w| w.id != me && w.known_dead(host));
                (
                    dead.into_iter().map(|w| w.id).collect(),
                    alive.into_iter().map(|w| w.id).collect(),
                )
            }
            Err(_) => (Vec::new(), Vec::new()),
        };
        match self
            .queue
            .inner
            .driver
            .sweep(Sweep {
                dead_workers,
                alive_workers,
            })
            .await
        {
            Ok(0) => {}
            Ok(rescued) => {
                self.queue
                    .inner
                    .counters
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .rescued += rescued;
                self.queue.inner.local.work.notify_one();
            }
            Err(error) => tracing::warn!(%error, "lease sweep failed"),
        }
    }

    /// Wake-ups the driver delivers (PostgreSQL's NOTIFY, from any host).
    async fn follow(self: Arc<Self>, mut wake_ups: tokio::sync::broadcast::Receiver<u8>) {
        let local = self.queue.inner.local.clone();
        loop {
            tokio::select! {
                kind = wake_ups.recv() => match kind {
                    Ok(wake::WORK) => local.work.notify_one(),
                    Ok(wake::CHECK) => local.check.notify_one(),
                    Ok(_) => {}
                    // Some were missed: look for both.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        local.work.notify_one();
                        local.check.notify_one();
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
                _ = self.stop.cancelled() => return,
            }
        }
    }

    async fn listen(self: Arc<Self>, socket: tokio::net::UdpSocket) {
        let local = self.queue.inner.local.clone();
        let mut buf = [0u8; 16];
        loop {
            tokio::select! {
                received = socket.recv_from(&mut buf) => match received {
                    Ok((n, from)) if n >= 1 && from.ip().is_loopback() => match buf[0] {
                        wake::WORK => local.work.notify_one(),
                        wake::CHECK => local.check.notify_one(),
                        _ => {}
                    },
                    Ok(_) => {}
                    Err(error) => {
                        tracing::debug!(%error, "wake socket error");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                _ = self.stop.cancelled() => return,
            }
        }
    }
}

/// Applies the stored side effects of `job_id` (a run that just completed here), or all
/// that are left (at start: a process stopped between a completion and its apply), in
/// order, and deletes their rows; whether everything was applied and marked done. An
/// effect that fails to apply stays for the next try.
async fn apply_outbox(queue: &Queue, job_id: Option<&str>) -> bool {
    let rows = match queue.inner.driver.outbox(job_id).await {
        Ok(rows) => rows,
        Err(error) => {
            tracing::warn!(%error, "could not read the side effects to apply");
            return false;
        }
    };
    // Files are written off the async threads.
    let applied = tokio::task::spawn_blocking(move || {
        let mut done = Vec::with_capacity(rows.len());
        for (id, effect) in rows {
            match effect.apply() {
                Ok(()) => done.push(id),
                Err(error) => {
                    tracing::warn!(%error, path = %effect.path().display(), "a side effect could not be applied; it is tried again");
                    return (done, false);
                }
            }
        }
        (done, true)
    })
    .await;
    match applied {
        Ok((ids, complete)) => {
            if ids.is_empty() {
                return complete;
            }
            match queue.inner.driver.outbox_done(OutboxDone { ids }).await {
                Ok(_) => complete,
                Err(error) => {
                    tracing::warn!(%error, "applied side effects could not be marked done");
                    false
                }
            }
        }
        Err(error) => {
            tracing::warn!(%error, "applying side effects stopped");
            false
        }
    }
}

/// The longest wait between tries while the disk is full.
const WAIT_MAX: Duration = Duration::from_secs(5);

/// Exponential back-off with "equal jitter": half fixed, half random, so retries of many
/// jobs that failed together spread out.
fn backoff(base: Duration, max: Duration, attempt: u32) -> Duration {
    let exp = base
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
        .min(max);
    let jitter = (random_i64() as u64 % 1000) as u32;
    exp / 2 + exp / 2 * jitter / 1000
}

fn panic_message(panic: &Box<dyn Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

/// Turns a panic inside a handler into an error for that job instead of a lost worker slot.
struct CatchUnwind<F>(F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = std::result::Result<F::Output, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match std::panic::catch_unwind(AssertUnwindSafe(|| Pin::new(&mut self.0).poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(value)) => Poll::Ready(Ok(value)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_secs(1);
        let max = Duration::from_secs(60);
        for attempt in 1..30 {
            let d = backoff(base, max, attempt);
            let exp = (base * (1u32 << (attempt - 1).min(20))).min(max);
            assert!(
                d >= exp / 2 && d <= exp,
                "attempt {attempt}: {d:?} not in [{:?}, {exp:?}]",
                exp / 2
            );
        }
    }
}
