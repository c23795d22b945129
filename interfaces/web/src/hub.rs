//! The dashboard's live state, shared by every browser: the active operations (each followed
//! once, through the shell's follow stream, whichever process runs it), the recently
//! finished ones, and the queue's counts. Each change bumps a version; an event stream sends
//! a client the newest state of whatever changed since its last message, so a slow browser
//! skips states instead of queueing them, and no client reads the database itself.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brain_plugin_api::{
    Caller, Event, JobListing, JobProgressEvent, ListedJob, Permission, QueueStats, ShellHandle,
    Source, ToolContext, Update,
};
use serde_json::json;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// How often the active work of every process is listed (new work in this process is
/// noticed at once, from the bus).
const DISCOVER_EVERY: Duration = Duration::from_secs(1);

/// The least time between two listings.
const DISCOVER_GAP: Duration = Duration::from_millis(200);

/// How often the queue's counts and workers are read, for all clients together.
const STATS_EVERY: Duration = Duration::from_secs(2);

/// Finished operations kept for the overview: more than each listing brings, so that what
/// a listing brings is not forgotten at once and brought again by the next.
const RECENT: usize = 100;

/// Recently finished operations each listing asks for.
const LISTED_RECENT: usize = 50;

struct Tracked {
    version: u64,
    op: ListedJob,
    following: bool,
}

#[derive(Default)]
struct State {
    version: u64,
    ops: HashMap<String, Tracked>,
    stats: Option<(u64, Arc<QueueStats>)>,
}

/// How far a client has read.
pub(crate) struct Cursor {
    seen: u64,
    stats_seen: u64,
    id: Option<String>,
    watch: watch::Receiver<u64>,
}

/// What changed since a client's last message.
pub(crate) struct Changes {
    version: u64,
    pub(crate) ops: Vec<ListedJob>,
    pub(crate) stats: Option<Arc<QueueStats>>,
}

pub(crate) struct Hub {
    shell: Arc<dyn ShellHandle>,
    state: Mutex<State>,
    changed: watch::Sender<u64>,
    pub(crate) stop: CancellationToken,
}

impl Hub {
    /// Starts following the queue; stops when `stop` fires.
    /// Without `follow` (a metrics-only server) it follows nothing.
    pub(crate) fn start(
        shell: Arc<dyn ShellHandle>,
        stop: CancellationToken,
        follow: bool,
    ) -> Arc<Self> {
        let hub = Arc::new(Self {
            shell,
            state: Mutex::new(State::default()),
            changed: watch::channel(0).0,
            stop,
        });
        if follow {
            tokio::spawn(hub.clone().discover());
            tokio::spawn(hub.clone().read_stats());
        }
        hub
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Where a client starts: before everything, so its first changes are every state
    /// known (of `id` only, when given).
    pub(crate) fn cursor(&self, id: Option<String>) -> Cursor {
        Cursor {
            seen: 0,
            stats_seen: 0,
            id,
            watch: self.changed.subscribe(),
        }
    }

    /// Waits for what changed after `cursor`, and moves it on; `None` once the hub stops.
    /// A client that reads slowly gets the newest states when it asks, never a backlog.
    pub(crate) async fn next(&self, cursor: &mut Cursor) -> Option<Changes> {
        loop {
            // Marked before reading, so a change during the read wakes the next wait.
            cursor.watch.borrow_and_update();
            let changes = self.changes(cursor.seen, cursor.stats_seen, cursor.id.as_deref());
            cursor.seen = changes.version;
            if changes.stats.is_some() {
                cursor.stats_seen = changes.version;
            }
            if !changes.ops.is_empty() || changes.stats.is_some() {
                return Some(changes);
            }
            tokio::select! {
                () = self.stop.cancelled() => return None,
                changed = cursor.watch.changed() => changed.ok()?,
            }
        }
    }

    /// The operations (only `id`, when given) and counts that changed after `since`.
    fn changes(&self, since: u64, stats_since: u64, id: Option<&str>) -> Changes {
        let state = self.state();
        let mut ops: Vec<ListedJob> = state
            .ops
            .iter()
            .filter(|(key, t)| t.version > since && id.is_none_or(|id| id == key.as_str()))
            .map(|(_, t)| t.op.clone())
            .collect();
        ops.sort_by_key(|op| op.entry.created_at);
        let stats = state
            .stats
            .as_ref()
            .filter(|(v, _)| *v > stats_since && id.is_none())
            .map(|(_, s)| s.clone());
        Changes {
            version: state.version,
            ops,
            stats,
        }
    }

    /// Active operations (newest first) and recently finished ones (latest end first).
    pub(crate) fn overview(&self) -> (Vec<ListedJob>, Vec<ListedJob>, Option<Arc<QueueStats>>) {
        let state = self.state();
        let (mut active, mut recent): (Vec<ListedJob>, Vec<ListedJob>) = state
            .ops
            .values()
            .map(|t| t.op.clone())
            .partition(|op| !op.entry.status.is_finished());
        active.sort_by_key(|op| std::cmp::Reverse(op.entry.created_at));
        recent.sort_by_key(|op| std::cmp::Reverse(op.entry.finished_at));
        (active, recent, state.stats.as_ref().map(|(_, s)| s.clone()))
    }

    /// Stores `op` if it differs from what is known, as a change.
    fn store(&self, op: ListedJob) {
        let mut state = self.state();
        let state = &mut *state;
        if state.ops.get(&op.id).is_some_and(|t| t.op == op) {
            return;
        }
        state.version += 1;
        let version = state.version;
        let finished = op.entry.status.is_finished();
        match state.ops.get_mut(&op.id) {
            Some(tracked) => {
                tracked.op = op;
                tracked.version = version;
            }
            None => {
                let tracked = Tracked {
                    version,
                    op,
                    following: false,
                };
                state.ops.insert(tracked.op.id.clone(), tracked);
            }
        }
        // Only a finished operation can push the oldest out.
        if finished {
            forget_oldest_finished(&mut state.ops);
        }
        self.changed.send_replace(version);
    }

    /// Lists the active and recently finished work of every process, and follows what is
    /// unfinished and not followed yet. Work this process starts is listed at once: the
    /// bus says so. The recent list matters too: work another process starts and ends
    /// between two listings is never seen active.
    async fn discover(self: Arc<Self>) {
        // One new operation is news enough until the next listing: the filter lets one
        // through and then none until the listing opens it again, so thousands of jobs a
        // second queue nothing here.
        let open = Arc::new(AtomicBool::new(true));
        let gate = open.clone();
        let mut started = self.shell.subscribe(Box::new(move |event| {
            matches!(event, Event::JobProgress(p)
                if p.update == Update::Lifecycle && p.status == brain_plugin_api::JobStatus::Pending
                    && p.job.as_ref().is_none_or(|j| j.batch_id.is_none()))
                && gate.swap(false, Ordering::Relaxed)
        }));
        loop {
            let listed = tokio::time::Instant::now();
            open.store(true, Ordering::Relaxed);
            self.list(json!({"active": true, "limit": 200})).await;
            self.list(json!({"limit": LISTED_RECENT})).await;
            tokio::select! {
                () = self.stop.cancelled() => return,
                () = tokio::time::sleep(DISCOVER_EVERY) => {}
                event = started.recv() => {
                    if event.is_none() {
                        return;
                    }
                    // At most a few listings a second, however fast work arrives.
                    tokio::time::sleep_until(listed + DISCOVER_GAP).await;
                }
            }
        }
    }

    async fn list(self: &Arc<Self>, input: serde_json::Value) {
        let caller = Caller::new(Source::system(), Permission::Anchor);
        let listed = self
            .shell
            .execute("jobs_list", input, ToolContext::new(caller))
            .await
            .ok()
            .and_then(|r| serde_json::from_value::<JobListing>(r.structured).ok());
        let Some(listing) = listed else {
            return;
        };
        for op in listing.jobs {
            // A followed operation's state comes from its stream: the listing is older.
            if self.following(&op.id) {
                continue;
            }
            let (id, unfinished) = (op.id.clone(), !op.entry.status.is_finished());
            self.store(op);
            if unfinished {
                self.follow(id);
            }
        }
    }

    fn following(&self, id: &str) -> bool {
        self.state().ops.get(id).is_some_and(|t| t.following)
    }

    fn follow(self: &Arc<Self>, id: String) {
        if let Some(tracked) = self.state().ops.get_mut(&id) {
            tracked.following = true;
        }
        let hub = self.clone();
        tokio::spawn(async move {
            if let Ok(mut follow) = hub.shell.follow(&id).await {
                loop {
                    let event = tokio::select! {
                        () = hub.stop.cancelled() => break,
                        event = follow.next() => event,
                    };
                    let Some(event) = event else { break };
                    hub.apply(&id, &event);
                }
            }
            if let Some(tracked) = hub.state().ops.get_mut(&id) {
                tracked.following = false;
            }
        });
    }

    /// A followed operation's new state, in the listing's shape.
    fn apply(&self, id: &str, event: &JobProgressEvent) {
        let Some(known) = self.state().ops.get(id).map(|t| t.op.clone()) else {
            return;
        };
        let mut entry = event.status_entry(known.entry.created_at, !event.waiting_for_worker);
        entry.rescued = known.entry.rescued;
        if event.status.is_finished() {
            entry.finished_at = Some(known.entry.finished_at.unwrap_or(event.observed_at));
        }
        self.store(ListedJob {
            id: known.id,
            job_type: known.job_type,
            source: known.source,
            entry,
        });
    }

    async fn read_stats(self: Arc<Self>) {
        loop {
            match self.shell.queue_stats().await {
                Ok(stats) => {
                    let mut state = self.state();
                    if state.stats.as_ref().is_none_or(|(_, s)| **s != stats) {
                        state.version += 1;
                        state.stats = Some((state.version, Arc::new(stats)));
                        self.changed.send_replace(state.version);
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "the dashboard cannot read the queue's counts")
                }
            }
            tokio::select! {
                () = self.stop.cancelled() => return,
                () = tokio::time::sleep(STATS_EVERY) => {}
            }
        }
    }
}

/// Keeps the [`RECENT`] finished operations that ended last.
fn forget_oldest_finished(ops: &mut HashMap<String, Tracked>) {
    let mut finished: Vec<(chrono::DateTime<chrono::Utc>, String)> = ops
        .iter()
        .filter(|(_, t)| t.op.entry.status.is_finished())
        .map(|(id, t)| {
            (
                t.op.entry.finished_at.unwrap_or(t.op.entry.created_at),
                id.clone(),
            )
        })
        .collect();
    if finished.len() <= RECENT {
        return;
    }
    finished.sort();
    for (_, id) in finished.iter().take(finished.len() - RECENT) {
        ops.remove(id);
    }
}

#[cfg(test)]
mod tests {
    //! One follower per operation, however many clients: a fake shell counts what the hub
    //! asks of it while twenty event streams watch one batch to its end.

    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;
    use brain_plugin_api::engine::Bus;
    use brain_plugin_api::{
        CommandSpec, Follow, FollowStream, JobKind, JobStatus, JobStatusEntry, Progress,
        ResourceContent, ResourceInfo, Subscription, Timing, ToolError, ToolInfo, ToolResult,
    };
    use serde_json::{Map, Value};
    use tokio::sync::mpsc;

    use super::*;

    const ID: &str = "batch_01m9000000000000000000000";

    fn event(current: u64, status: JobStatus) -> JobProgressEvent {
        JobProgressEvent {
            id: ID.into(),
            kind: JobKind::Batch,
            status,
            update: Update::Progress,
            observed_at: chrono::Utc::now(),
            source: Source::cli(),
            label: Some("load".into()),
            progress: Some(Progress::new(current, 100)),
            message: None,
            timing: Timing::default(),
            batch: None,
            job: None,
            result: None,
            error: None,
            wording: None,
            waiting_for_worker: false,
            waiting_for: Vec::new(),
        }
    }

    struct Scripted(mpsc::UnboundedReceiver<JobProgressEvent>);

    #[async_trait]
    impl FollowStream for Scripted {
        async fn next(&mut self) -> Option<JobProgressEvent> {
            self.0.recv().await
        }
    }

    /// Lists one batch as running; its follow stream plays what the test sends.
    struct Fake {
        bus: Bus<Event>,
        events: Mutex<Option<mpsc::UnboundedReceiver<JobProgressEvent>>>,
        follows: AtomicUsize,
        listings: AtomicUsize,
    }

    #[async_trait]
    impl ShellHandle for Fake {
        fn tools(&self, _: &Caller) -> Vec<ToolInfo> {
            Vec::new()
        }
        fn commands(&self, _: &Caller) -> Vec<CommandSpec> {
            Vec::new()
        }
        async fn complete(&self, _: &str, _: &str, _: &Map<String, Value>) -> Vec<String> {
            Vec::new()
        }
        async fn execute(
            &self,
            tool: &str,
            _: Value,
            _: ToolContext,
        ) -> Result<ToolResult, ToolError> {
            assert_eq!(tool, "jobs_list");
            self.listings.fetch_add(1, Ordering::Relaxed);
            let entry = event(0, JobStatus::Processing).status_entry(chrono::Utc::now(), true);
            let op = ListedJob {
                id: ID.into(),
                job_type: Some("load:noop".into()),
                source: "cli".into(),
                entry,
            };
            Ok(ToolResult::new(JobListing { jobs: vec![op] }, ""))
        }
        fn resources(&self, _: &Caller) -> Vec<ResourceInfo> {
            Vec::new()
        }
        async fn read_resource(&self, uri: &str, _: &Caller) -> Result<ResourceContent, ToolError> {
            Err(ToolError::failed(uri))
        }
        async fn job_status(&self, id: &str) -> Result<JobStatusEntry, ToolError> {
            Err(ToolError::failed(id))
        }
        async fn follow(&self, id: &str) -> Result<Follow, ToolError> {
            assert_eq!(id, ID);
            self.follows.fetch_add(1, Ordering::Relaxed);
            let events = self.events.lock().unwrap_or_else(|e| e.into_inner()).take();
            match events {
                Some(events) => Ok(Box::new(Scripted(events))),
                None => Err(ToolError::failed("followed twice")),
            }
        }
        async fn settle(&self, _: &str) -> Option<JobProgressEvent> {
            None
        }
        fn subscribe(
            &self,
            filter: Box<dyn Fn(&Event) -> bool + Send + Sync>,
        ) -> Subscription<Event> {
            self.bus.subscribe(filter)
        }
        fn permission_of(&self, _: &str, _: &str) -> Permission {
            Permission::Anchor
        }
        async fn job_source(&self, _: &str) -> Result<Source, ToolError> {
            Ok(Source::cli())
        }
        async fn cancel_job(&self, _: &str) -> Result<(), ToolError> {
            Ok(())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn twenty_clients_share_one_follower_and_all_end_on_the_final_state() {
        let (send, events) = mpsc::unbounded_channel();
        let fake = Arc::new(Fake {
            bus: Bus::new(),
            events: Mutex::new(Some(events)),
            follows: AtomicUsize::new(0),
            listings: AtomicUsize::new(0),
        });
        let stop = CancellationToken::new();
        let hub = Hub::start(fake.clone(), stop.clone(), true);
        let mut clients = Vec::new();
        for _ in 0..20 {
            let hub = hub.clone();
            let mut cursor = hub.cursor(Some(ID.to_owned()));
            clients.push(tokio::spawn(async move {
                let mut seen = Vec::new();
                while let Some(changes) = hub.next(&mut cursor).await {
                    for op in changes.ops {
                        let current = op.entry.progress.map_or(0, |p| p.current);
                        seen.push((op.entry.status, current));
                    }
                    if seen.last().is_some_and(|(s, _)| *s == JobStatus::Completed) {
                        break;
                    }
                }
                seen
            }));
        }
        for (current, status) in [
            (10, JobStatus::Processing),
            (50, JobStatus::Processing),
            (100, JobStatus::Completed),
        ] {
            send.send(event(current, status)).unwrap();
        }
        for client in clients {
            let seen = tokio::time::timeout(Duration::from_secs(30), client)
                .await
                .expect("every client sees the end within the bound")
                .unwrap();
            assert_eq!(seen.last(), Some(&(JobStatus::Completed, 100)), "{seen:?}");
            // Newest states only, in order: never a count going back.
            assert!(seen.windows(2).all(|w| w[0].1 <= w[1].1), "{seen:?}");
        }
        assert_eq!(
            fake.follows.load(Ordering::Relaxed),
            1,
            "one follower for 20 clients"
        );
        stop.cancel();
    }
}
