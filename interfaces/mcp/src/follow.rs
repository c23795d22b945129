//! A tools/call with a progress token that started a job: the call stays open and streams
//! `notifications/progress` (monotonic progress, total, a human message, the job's fields
//! under `_meta`) at most twice a second with a keep-alive on silence, then answers with the
//! job's outcome — or, past the configured bound, with the job handle while the job goes on.
//! Every notification is sent before the answer, so none can follow it.

use std::sync::Arc;
use std::time::Duration;

use brain_plugin_api::{
    AsyncToolResponse, JobStatus, JobStatusEntry, ToolResult, WAITING_FOR_WORKER, format_short,
    waiting_for_line,
};
use rmcp::model::{
    CallToolResult, MetaObject, NotificationMetaObject, ProgressNotificationParam, ProgressToken,
};
use rmcp::service::RequestContext;
use rmcp::{Peer, RoleServer};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::server::{Shared, finished_result};

/// At most one notification per this interval for a call or a resource (2 per second).
const MIN_INTERVAL: Duration = Duration::from_millis(500);
/// Between the final progress notification and the answer (see `follow`).
const ANSWER_GAP: Duration = Duration::from_millis(50);

/// Rate-limits one stream of updates: the first goes out at once, later ones at most once
/// per interval, and the newest pending change is never lost.
#[derive(Debug)]
pub(crate) struct Throttle {
    interval: Duration,
    last: Option<Instant>,
    pending: bool,
}

impl Throttle {
    pub(crate) fn per_second_2() -> Self {
        Self {
            interval: MIN_INTERVAL,
            last: None,
            pending: false,
        }
    }

    pub(crate) fn mark(&mut self) {
        self.pending = true;
    }

    /// When the pending change may go out, if there is one.
    pub(crate) fn due(&self) -> Option<Instant> {
        self.pending
            .then(|| self.last.map_or_else(Instant::now, |l| l + self.interval))
    }

    /// Whether the pending change goes out now (and records that it did).
    pub(crate) fn take_if_ready(&mut self, now: Instant) -> bool {
        if self.pending && self.last.is_none_or(|l| now >= l + self.interval) {
            self.pending = false;
            self.last = Some(now);
            true
        } else {
            false
        }
    }
}

pub(crate) async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The progress line: "3/10 · Generating landing:features · ~25 s left"; work nothing runs
/// starts "waiting for a worker", work waiting for other work says for what.
pub(crate) fn status_text(entry: &JobStatusEntry) -> String {
    let mut parts = Vec::new();
    match entry.status {
        _ if entry.waiting_for_worker => parts.push(WAITING_FOR_WORKER.to_owned()),
        // The message of a queued job says so already.
        JobStatus::Pending | JobStatus::Processing => {}
        other => parts.push(other.to_string()),
    }
    if !entry.waiting_for.is_empty() {
        parts.push(waiting_for_line(&entry.waiting_for));
    }
    if let Some(p) = entry.shown_progress() {
        parts.push(format!("{}/{}", p.current, p.total));
    }
    let operation = entry
        .current_operation
        .as_deref()
        .filter(|o| !o.is_empty())
        .unwrap_or(&entry.message);
    if !operation.is_empty() {
        parts.push(operation.to_owned());
    }
    if !entry.status.is_finished()
        && let Some(ms) = entry.estimated_completion_ms
    {
        parts.push(format!("~{} left", format_short(Duration::from_millis(ms))));
    }
    parts.join(" · ")
}

/// Sends the progress notifications of one call.
struct Notifier {
    peer: Peer<RoleServer>,
    token: ProgressToken,
    job_id: String,
    last_progress: f64,
    last_sent: Instant,
}

impl Notifier {
    async fn send(&mut self, entry: &JobStatusEntry) {
        let current = entry.progress.map_or(0.0, |p| p.current as f64);
        // Progress must grow with every notification, even a keep-alive with no news.
        let progress = if current > self.last_progress {
            current
        } else {
            ((self.last_progress + 0.001) * 1000.0).round() / 1000.0
        };
        self.last_progress = progress;
        self.last_sent = Instant::now();
        let mut param = ProgressNotificationParam::new(self.token.clone(), progress)
            .with_message(status_text(entry));
        if let Some(p) = entry.progress {
            param = param.with_total(p.total as f64);
        }
        let meta = json!({
            "jobId": self.job_id,
            "type": entry.kind,
            "status": entry.status,
            "percentage": entry.progress.map(|p| p.percentage),
        });
        if let Value::Object(map) = meta {
            param.meta = Some(NotificationMetaObject(MetaObject(map)));
        }
        if let Err(error) = self.peer.notify_progress(param).await {
            tracing::debug!(%error, "progress notification not delivered");
        }
    }
}

#[allow(deprecated)]
fn log_allows(level: rmcp::model::LoggingLevel, message: rmcp::model::LoggingLevel) -> bool {
    use rmcp::model::LoggingLevel as L;
    let rank = |l: L| match l {
        L::Debug => 0,
        L::Info => 1,
        L::Notice => 2,
        L::Warning => 3,
        L::Error => 4,
        L::Critical => 5,
        L::Alert => 6,
        L::Emergency => 7,
    };
    rank(message) >= rank(level)
}

/// A job-lifecycle log message, when the client asked for messages of that level.
#[allow(deprecated)]
pub(crate) async fn log_lifecycle(
    peer: &Peer<RoleServer>,
    level: Option<rmcp::model::LoggingLevel>,
    id: &str,
    entry: &JobStatusEntry,
) {
    use rmcp::model::{LoggingLevel, LoggingMessageNotificationParam};
    let Some(level) = level else { return };
    let message_level = match entry.status {
        JobStatus::Failed => LoggingLevel::Error,
        JobStatus::Cancelled => LoggingLevel::Warning,
        _ => LoggingLevel::Info,
    };
    if !log_allows(level, message_level) {
        return;
    }
    let data = json!({
        "jobId": id,
        "type": entry.kind,
        "status": entry.status,
        "message": status_text(entry),
    });
    let param = LoggingMessageNotificationParam::new(message_level, data).with_logger("brain.jobs");
    if let Err(error) = peer.notify_logging_message(param).await {
        tracing::debug!(%error, "log notification not delivered");
    }
}

/// The answer of a call that stops waiting while the job goes on.
fn still_running(
    started: &AsyncToolResponse,
    initial: ToolResult,
    waited: Duration,
) -> CallToolResult {
    let text = format!(
        "{} Still running after {}; it goes on — check with the status tool (id {}).",
        initial.text,
        format_short(waited),
        started.job_id
    );
    let mut result = CallToolResult::success(vec![rmcp::model::ContentBlock::text(text)]);
    result.structured_content = Some(initial.structured);
    result
}

#[allow(deprecated)]
pub(crate) async fn follow(
    shared: Arc<Shared>,
    ctx: &RequestContext<RoleServer>,
    token: ProgressToken,
    started: &AsyncToolResponse,
    initial: ToolResult,
    log_level: Option<rmcp::model::LoggingLevel>,
) -> CallToolResult {
    let shell = shared.shell.clone();
    let id = started.job_id.clone();
    let waited_since = Instant::now();
    let deadline = waited_since + shared.config.wait;
    let keep_alive = shared.config.keep_alive;
    // The shell's follow stream: it subscribes before it reads, and reads the store when
    // another process runs the work (`brain start` beside this server).
    let Ok(mut follow) = shell.follow(&id).await else {
        return still_running(started, initial, Duration::ZERO);
    };
    let Ok(mut entry) = shell.job_status(&id).await else {
        return still_running(started, initial, Duration::ZERO);
    };
    let peer = ctx.peer.clone();
    log_lifecycle(&peer, log_level, &id, &entry).await;
    if entry.status.is_finished() {
        return finished_result(&id, &entry);
    }
    let mut notifier = Notifier {
        peer: peer.clone(),
        token,
        job_id: id.clone(),
        last_progress: -1.0,
        last_sent: Instant::now(),
    };
    notifier.send(&entry).await;
    let mut dirty = false;
    let mut last_status = entry.status;
    loop {
        let flush_at = dirty.then(|| notifier.last_sent + MIN_INTERVAL);
        let keep_alive_at = notifier.last_sent + keep_alive;
        tokio::select! {
            event = follow.next() => match event {
                Some(e) => {
                    // The stream marks whether a worker runs it now: a worker may have
                    // ended (or started) since the first read.
                    entry = e.status_entry(entry.created_at, !e.waiting_for_worker);
                    if e.status != last_status {
                        last_status = e.status;
                        log_lifecycle(&peer, log_level, &id, &entry).await;
                    }
                    if e.status.is_finished() {
                        break;
                    }
                    dirty = true;
                }
                // The shell is stopping.
                None => return still_running(started, initial, waited_since.elapsed()),
            },
            () = sleep_until_opt(flush_at) => {
                notifier.send(&entry).await;
                dirty = false;
            }
            () = tokio::time::sleep_until(keep_alive_at) => notifier.send(&entry).await,
            () = tokio::time::sleep_until(deadline) => {
                return still_running(started, initial, waited_since.elapsed());
            }
            () = ctx.ct.cancelled() => return still_running(started, initial, waited_since.elapsed()),
            () = shared.stopping.cancelled() => {
                return still_running(started, initial, waited_since.elapsed());
            }
        }
    }
    let entry = shell.job_status(&id).await.unwrap_or(entry);
    // The last notification shows the final count, so a client's bar ends where the work
    // did (the rate limit yields to that once).
    notifier.send(&entry).await;
    // The TypeScript SDK dispatches a notification a microtask after a response read in the
    // same chunk, so the answer retires the token first and the client reports "unknown
    // token" (typescript-sdk issue #2580). A short gap lets a client that is reading keep
    // them in separate reads; the order on the wire is right either way.
    tokio::time::sleep(ANSWER_GAP).await;
    finished_result(&id, &entry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use brain_plugin_api::{JobKind, Progress};

    fn entry(status: JobStatus, current: u64) -> JobStatusEntry {
        JobStatusEntry {
            status,
            kind: JobKind::Batch,
            label: None,
            progress: Some(Progress::new(current, 10)),
            created_at: chrono::Utc::now(),
            started_at: None,
            finished_at: None,
            elapsed_ms: None,
            estimated_completion: None,
            estimated_completion_ms: Some(25_000),
            current_operation: Some("Generating landing:features".into()),
            check_again_in: None,
            check_again_in_ms: None,
            message: "Generating content".into(),
            worker_running: true,
            waiting_for_worker: false,
            waiting_for: Vec::new(),
            result: None,
            errors: vec![],
            rescued: 0,
        }
    }

    #[test]
    fn progress_text_reads_well() {
        assert_eq!(
            status_text(&entry(JobStatus::Processing, 3)),
            "3/10 · Generating landing:features · ~25 s left"
        );
        let done = status_text(&entry(JobStatus::Completed, 10));
        assert!(done.starts_with("completed · 10/10"), "{done}");
        assert!(!done.contains("left"), "{done}");

        // A task's statusMessage says when nothing runs the work, and what it waits for.
        let mut waiting = entry(JobStatus::Pending, 0);
        waiting.waiting_for_worker = true;
        waiting.estimated_completion_ms = None;
        waiting.waiting_for = vec![brain_plugin_api::Dependency {
            id: "batch_1".into(),
            kind: JobKind::Batch,
            status: JobStatus::Processing,
            label: Some("Generating content".into()),
            progress: Some(Progress::new(3, 6)),
        }];
        assert_eq!(
            status_text(&waiting),
            "waiting for a worker · waiting for batch_1 (Generating content, 3/6) · 0/10 · \
             Generating landing:features"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn throttle_sends_the_first_at_once_then_at_most_twice_a_second() {
        let mut t = Throttle::per_second_2();
        let start = Instant::now();
        assert_eq!(t.due(), None);
        t.mark();
        assert!(t.take_if_ready(start));
        t.mark();
        assert!(!t.take_if_ready(start + Duration::from_millis(100)));
        assert_eq!(t.due(), Some(start + MIN_INTERVAL));
        assert!(t.take_if_ready(start + MIN_INTERVAL));
        assert_eq!(t.due(), None, "nothing pending after it went out");
    }
}
