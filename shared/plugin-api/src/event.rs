//! The events on the shell's bus: job progress folded by the progress monitor, and
//! namespaced plugin events. Progress updates coalesce per job; lifecycle updates do not.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::response::ItemError;
use crate::response::{
    JobKind, JobStatus, JobStatusEntry, Progress, ProgressNotification, START_A_WORKER,
    WAITING_FOR_WORKER,
};
use crate::source::{Source, Target};
use brain_messaging::{BusEvent, Delivery};

/// Whether an event reports a status change (never dropped) or only progress (coalesced).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Update {
    /// Queued, started, completed, failed or cancelled: delivered to every live subscriber.
    Lifecycle,
    /// A progress step: a slow subscriber sees only the newest.
    Progress,
}

/// Timing of a job or batch, every duration both human and in milliseconds.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Timing {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    pub elapsed_ms: u64,
    /// Time left, e.g. "25 seconds"; absent once finished or when nothing is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_completion: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_completion_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_again_in: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_again_in_ms: Option<u64>,
}

/// Aggregate state of a batch.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchDetails {
    pub total: u64,
    pub completed: u64,
    pub failed: u64,
    pub cancelled: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_operation: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub errors: Vec<ItemError>,
}

/// Details of a single job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobDetails {
    pub job_type: String,
    pub priority: i32,
    pub attempt: u32,
    pub max_attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_id: Option<String>,
}

/// One state of a job or batch as the progress monitor sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobProgressEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: JobKind,
    pub status: JobStatus,
    pub update: Update,
    /// When this state was read or built: a follower drops events older than what it has.
    pub observed_at: DateTime<Utc>,
    pub source: Source,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
    /// What happens now ("Rendering /about"), or for a finished job the summary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub timing: Timing,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<JobDetails>,
    /// The handler's result, on the final event of a completed job.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// The error, on the final event of a failed or cancelled job.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How the plugin that started it words its end (stored with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wording: Option<crate::outcome::Wording>,
    /// Unfinished, and no live process runs workers for it (see
    /// [`JobStatusEntry::waiting_for_worker`]). Set by a follow stream
    /// ([`crate::ShellHandle::follow`]); the progress monitor's own events leave it false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub waiting_for_worker: bool,
    /// Unfinished work this waits for before it can start. Set by a follow stream.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waiting_for: Vec<crate::response::Dependency>,
}

impl JobProgressEvent {
    /// The interface conversation that started this work.
    pub fn target(&self) -> Target {
        Target::Source(self.source.clone())
    }

    /// The plan's notification shape.
    pub fn notification(&self) -> ProgressNotification {
        ProgressNotification {
            job_id: self.id.clone(),
            kind: self.kind,
            status: self.status,
            progress: self.progress,
            message: self.message.clone(),
        }
    }

    /// The operation in progress: the batch's current item, or the job's message.
    pub fn current_operation(&self) -> Option<&str> {
        match &self.batch {
            Some(batch) => batch.current_operation.as_deref(),
            None => self.message.as_deref(),
        }
    }

    /// The errors of a finished job or batch.
    pub fn errors(&self) -> Vec<ItemError> {
        match (&self.batch, &self.error) {
            (Some(batch), _) => batch.errors.clone(),
            (None, Some(error)) => vec![ItemError {
                job_id: self.id.clone(),
                label: self.label.clone(),
                error: error.clone(),
            }],
            (None, None) => Vec::new(),
        }
    }

    /// The status tool's entry for this state. `worker_running` says whether any process
    /// runs workers; `created_at` comes from the store because events do not carry it.
    ///
    /// Unfinished work that no process runs is `waiting_for_worker`: its ETA would be a
    /// countdown to nothing, so there is none, and `check_again_in` says to start a worker.
    pub fn status_entry(&self, created_at: DateTime<Utc>, worker_running: bool) -> JobStatusEntry {
        let finished = self.status.is_finished();
        let waiting = !finished && !worker_running;
        let timing = if waiting {
            without_countdown(&self.timing)
        } else {
            self.timing.clone()
        };
        JobStatusEntry {
            status: self.status,
            kind: self.kind,
            label: self.label.clone(),
            progress: self.progress,
            created_at,
            started_at: self.timing.started_at,
            finished_at: None,
            elapsed_ms: self.timing.started_at.map(|_| self.timing.elapsed_ms),
            estimated_completion: timing.estimated_completion,
            estimated_completion_ms: timing.estimated_completion_ms,
            current_operation: self.current_operation().map(str::to_owned),
            check_again_in: timing.check_again_in,
            check_again_in_ms: timing.check_again_in_ms,
            message: self.message.clone().unwrap_or_default(),
            worker_running,
            waiting_for_worker: waiting,
            waiting_for: self.waiting_for.clone(),
            result: if finished { self.result.clone() } else { None },
            errors: if finished { self.errors() } else { Vec::new() },
            rescued: 0,
        }
    }

    /// What unfinished work waits for, as every interface says it: "waiting for batch_…
    /// (Generating content, 3/6)", "waiting for a worker", or both; `None` when nothing
    /// holds it up. Read from the marks a follow stream sets ([`Self::mark_waiting`]).
    pub fn waiting_line(&self) -> Option<String> {
        match (self.waiting_for.is_empty(), self.waiting_for_worker) {
            (true, false) => None,
            (true, true) => Some(WAITING_FOR_WORKER.to_owned()),
            (false, worker) => {
                let line = crate::response::waiting_for_line(&self.waiting_for);
                Some(if worker {
                    format!("{line}, and for a worker")
                } else {
                    line
                })
            }
        }
    }

    /// Marks this state with whether a worker runs it and what it waits for, as a follow
    /// stream sees them: work nothing runs loses its ETA (a countdown to nothing) and its
    /// next check says to start a worker, as in [`Self::status_entry`].
    pub fn mark_waiting(
        &mut self,
        worker_running: bool,
        waiting_for: Vec<crate::response::Dependency>,
    ) {
        let finished = self.status.is_finished();
        self.waiting_for_worker = !finished && !worker_running;
        self.waiting_for = if finished { Vec::new() } else { waiting_for };
        if self.waiting_for_worker {
            self.timing = without_countdown(&self.timing);
        }
    }
}

/// `timing` without an ETA, its next check saying to start a worker.
fn without_countdown(timing: &Timing) -> Timing {
    Timing {
        estimated_completion: None,
        estimated_completion_ms: None,
        check_again_in: Some(START_A_WORKER.to_owned()),
        check_again_in_ms: None,
        ..timing.clone()
    }
}

/// A plugin's own event, namespaced by plugin id and event name, with a JSON payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginEvent {
    pub plugin: String,
    pub name: String,
    pub target: Target,
    pub payload: Value,
}

/// Everything the shell's bus carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", content = "data", rename_all = "camelCase")]
#[non_exhaustive]
pub enum Event {
    /// A job or batch changed state or made progress. Shared, so fan-out to many
    /// subscribers copies a pointer, not the event.
    JobProgress(Arc<JobProgressEvent>),
    /// A plugin-defined event; always delivered.
    Plugin(PluginEvent),
}

impl Event {
    pub fn target(&self) -> Target {
        match self {
            Event::JobProgress(e) => e.target(),
            Event::Plugin(e) => e.target.clone(),
        }
    }
}

impl BusEvent for Event {
    fn delivery(&self) -> Delivery<'_> {
        match self {
            Event::JobProgress(e) => match e.update {
                Update::Progress => Delivery::Latest { key: &e.id },
                Update::Lifecycle => Delivery::Always {
                    supersedes: Some(&e.id),
                },
            },
            Event::Plugin(_) => Delivery::Always { supersedes: None },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(status: JobStatus) -> JobProgressEvent {
        JobProgressEvent {
            id: "batch_1".into(),
            kind: JobKind::Batch,
            status,
            update: Update::Lifecycle,
            observed_at: Utc::now(),
            source: Source::cli(),
            label: Some("Generating content".into()),
            progress: Some(Progress::new(4, 6)),
            message: Some("Generating content".into()),
            timing: Timing {
                started_at: Some(Utc::now()),
                elapsed_ms: 8_000,
                estimated_completion: Some("10 seconds".into()),
                estimated_completion_ms: Some(10_000),
                check_again_in: Some("5 seconds".into()),
                check_again_in_ms: Some(5_000),
            },
            batch: None,
            job: None,
            result: None,
            error: None,
            wording: None,
            waiting_for_worker: false,
            waiting_for: Vec::new(),
        }
    }

    #[test]
    fn unfinished_work_no_worker_runs_has_no_countdown() {
        let entry = batch(JobStatus::Processing).status_entry(Utc::now(), false);
        assert!(entry.waiting_for_worker);
        assert_eq!(entry.estimated_completion, None);
        assert_eq!(entry.estimated_completion_ms, None);
        assert_eq!(entry.check_again_in_ms, None);
        assert_eq!(entry.check_again_in.as_deref(), Some(START_A_WORKER));
        let line = entry.describe("batch_1");
        assert_eq!(
            line,
            format!(
                "batch_1 waiting for a worker 4/6 (66%) · Generating content · {START_A_WORKER}"
            )
        );
        let json = serde_json::to_value(&entry).unwrap();
        assert_eq!(json["waitingForWorker"], true);
        assert!(json.get("estimatedCompletion").is_none(), "{json}");

        // With a worker: the estimates as they are.
        let entry = batch(JobStatus::Processing).status_entry(Utc::now(), true);
        assert!(!entry.waiting_for_worker);
        assert_eq!(entry.estimated_completion_ms, Some(10_000));
        assert!(
            entry
                .describe("batch_1")
                .contains("~10 s left · check again in 5 seconds")
        );

        // Finished work waits for nothing, whoever runs workers.
        let entry = batch(JobStatus::Completed).status_entry(Utc::now(), false);
        assert!(!entry.waiting_for_worker);
        assert!(entry.describe("batch_1").starts_with("batch_1 completed"));
    }

    /// A follow stream's marks say the same as the status entry, in the event itself.
    #[test]
    fn marked_events_say_what_holds_them_up() {
        let mut event = batch(JobStatus::Processing);
        assert_eq!(event.waiting_line(), None);
        event.mark_waiting(false, Vec::new());
        assert!(event.waiting_for_worker);
        assert_eq!(event.timing.estimated_completion_ms, None);
        assert_eq!(event.timing.check_again_in.as_deref(), Some(START_A_WORKER));
        assert_eq!(event.waiting_line().as_deref(), Some(WAITING_FOR_WORKER));
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["waitingForWorker"], true, "{json}");

        let generate = crate::response::Dependency {
            id: "batch_9".into(),
            kind: JobKind::Batch,
            status: JobStatus::Processing,
            label: Some("Generating content".into()),
            progress: Some(Progress::new(3, 6)),
        };
        let mut build = batch(JobStatus::Pending);
        build.mark_waiting(true, vec![generate.clone()]);
        assert_eq!(
            build.waiting_line().as_deref(),
            Some("waiting for batch_9 (Generating content, 3/6)")
        );
        assert_eq!(build.timing.estimated_completion_ms, Some(10_000));
        build.mark_waiting(false, vec![generate]);
        assert_eq!(
            build.waiting_line().as_deref(),
            Some("waiting for batch_9 (Generating content, 3/6), and for a worker")
        );

        // Finished: nothing holds it up, whatever the marks said.
        let mut done = batch(JobStatus::Completed);
        done.mark_waiting(false, Vec::new());
        assert_eq!(done.waiting_line(), None);
        let json = serde_json::to_value(&done).unwrap();
        assert!(json.get("waitingForWorker").is_none(), "{json}");
    }
}
