//! The JSON an async operation answers with, in the shapes of the async-operations plan
//! (camelCase), each human duration paired with a millisecond companion for programs.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Whether an id names one job or a batch of jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    Job,
    Batch,
}

/// The lifecycle state of a job; a batch's state is derived from its jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Pending,
    Processing,
    Completed,
    Failed,
    Cancelled,
}

impl JobStatus {
    pub const ALL: [JobStatus; 5] = [
        JobStatus::Pending,
        JobStatus::Processing,
        JobStatus::Completed,
        JobStatus::Failed,
        JobStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Processing => "processing",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }

    /// Parses the stored form; `None` for anything else.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// Completed, failed and cancelled jobs never change again.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobStatus::Completed | JobStatus::Failed | JobStatus::Cancelled
        )
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an async tool's work began: a worker took it at once, or it waits in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StartStatus {
    Started,
    Queued,
}

/// A duration range in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DurationRangeMs {
    pub min: u64,
    pub max: u64,
}

/// How far a job or batch is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Progress {
    pub current: u64,
    pub total: u64,
    /// 0-100, rounded down so that 100 means done.
    pub percentage: u8,
}

impl Progress {
    pub fn new(current: u64, total: u64) -> Self {
        let percentage = if total == 0 {
            0
        } else {
            // u128 so that huge counts cannot overflow; min() guards current > total.
            ((u128::from(current.min(total)) * 100) / u128::from(total)) as u8
        };
        Self {
            current,
            total,
            percentage,
        }
    }
}

/// What a slow tool answers at once (plan, Phase 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AsyncToolResponse {
    pub success: bool,
    pub job_id: String,
    #[serde(rename = "type")]
    pub kind: JobKind,
    pub status: StartStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_duration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_status_in: Option<String>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_duration_ms: Option<DurationRangeMs>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_status_in_ms: Option<u64>,
}

/// A failed item of a batch, or the error of a failed job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemError {
    pub job_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub error: String,
}

/// The status of one job or batch (plan, Phase 3), plus the result or errors once finished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobStatusEntry {
    pub status: JobStatus,
    #[serde(rename = "type")]
    pub kind: JobKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elapsed_ms: Option<u64>,
    /// Time left, as a person says it ("30 seconds").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_completion: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_completion_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_operation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_again_in: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_again_in_ms: Option<u64>,
    /// One line a person or model can read: what happens now, or what happened.
    pub message: String,
    /// Whether any process runs workers for this kind of work now.
    pub worker_running: bool,
    /// Unfinished, and no live process anywhere runs workers for it: nothing will happen
    /// until one starts. Such an entry has no ETA, and its `checkAgainIn` says to start a
    /// worker instead of counting down.
    #[serde(default)]
    pub waiting_for_worker: bool,
    /// Unfinished work this waits for before it can start (its `after`), as it stands now.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub waiting_for: Vec<Dependency>,
    /// Runs taken back from a worker that stopped mid-run (its process died, or its host
    /// went away and its lease expired) and queued again: a job's, or a batch's jobs'.
    #[serde(skip_serializing_if = "is_zero", default)]
    pub rescued: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub errors: Vec<ItemError>,
}

impl JobStatusEntry {
    /// The line a person (or a model) reads about job or batch `id`: "batch_… processing
    /// 3/10 (30%) · Generating landing:features · ~25 s left · check again in 30 seconds",
    /// plus a line per failed item. Estimates are left out once it has finished.
    pub fn describe(&self, id: &str) -> String {
        let mut line = if self.waiting_for_worker {
            format!("{id} {WAITING_FOR_WORKER}")
        } else {
            format!("{id} {}", self.status)
        };
        if let Some(p) = self.shown_progress() {
            line.push_str(&format!(" {}/{} ({}%)", p.current, p.total, p.percentage));
        }
        for detail in self.details() {
            line.push_str(&format!(" · {detail}"));
        }
        for e in &self.errors {
            let item = e.label.as_deref().unwrap_or(&e.job_id);
            line.push_str(&format!("\n  ✘ {item}: {}", e.error));
        }
        line
    }

    /// The count to show: none for a cancelled batch, whose count includes its cancelled
    /// items ("5/5 (100%)" for one cancelled before anything ran) — its message says how
    /// many were done instead.
    pub fn shown_progress(&self) -> Option<Progress> {
        let cancelled_batch = self.status == JobStatus::Cancelled && self.kind == JobKind::Batch;
        self.progress.filter(|_| !cancelled_batch)
    }

    /// What [`describe`](Self::describe) says after the state and the count: the message,
    /// what it waits for, and, unfinished, the time left and when to look again (or that
    /// nothing runs it).
    pub fn details(&self) -> Vec<String> {
        let mut details = Vec::new();
        if !self.message.is_empty() {
            details.push(self.message.clone());
        }
        if !self.waiting_for.is_empty() {
            details.push(waiting_for_line(&self.waiting_for));
        }
        if self.rescued > 0 {
            details.push(rescued_line(self.rescued));
        }
        if self.waiting_for_worker {
            details.push(START_A_WORKER.to_owned());
        } else if !self.status.is_finished() {
            if let Some(ms) = self.estimated_completion_ms {
                let left = crate::human::format_short(std::time::Duration::from_millis(ms));
                details.push(format!("~{left} left"));
            }
            if let Some(check) = &self.check_again_in {
                details.push(format!("check again in {check}"));
            }
        }
        details
    }
}

/// Work a job or batch waits for before it can start, as it stands now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Dependency {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: JobKind,
    pub status: JobStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
}

impl Dependency {
    /// "batch_… (Generating content, 3/6)": how every interface names it.
    pub fn describe(&self) -> String {
        let mut details: Vec<String> = self.label.iter().cloned().collect();
        if let Some(p) = self.progress {
            details.push(format!("{}/{}", p.current, p.total));
        }
        if details.is_empty() {
            self.id.clone()
        } else {
            format!("{} ({})", self.id, details.join(", "))
        }
    }
}

/// "waiting for batch_… (Generating content, 3/6) and job_… (build preview)".
pub fn waiting_for_line(dependencies: &[Dependency]) -> String {
    let names: Vec<String> = dependencies.iter().map(Dependency::describe).collect();
    format!("waiting for {}", names.join(" and "))
}

/// "2 runs rescued from a stopped worker".
pub fn rescued_line(rescued: u64) -> String {
    let runs = if rescued == 1 { "run" } else { "runs" };
    format!("{rescued} {runs} rescued from a stopped worker")
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// How every interface names unfinished work that no live process runs.
pub const WAITING_FOR_WORKER: &str = "waiting for a worker";

/// What to do about it: `checkAgainIn` of such work, instead of a countdown.
pub const START_A_WORKER: &str =
    "no brain process runs workers: start one (`brain start`), then check again";

/// The status tool's answer: entries keyed by job or batch id.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct JobStatusResponse(pub BTreeMap<String, JobStatusEntry>);

/// One job or batch in a listing: its status entry with its id, type and source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListedJob {
    pub id: String,
    /// The job's type (`site-builder:generate`); a batch's when its jobs share one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_type: Option<String>,
    /// Where it was started: `cli`, `mcp:<session>`, `matrix:<room>`, `system`.
    pub source: String,
    #[serde(flatten)]
    pub entry: JobStatusEntry,
}

/// The `jobs_list` tool's answer: jobs and batches, newest first.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct JobListing {
    pub jobs: Vec<ListedJob>,
}

/// One line of a job's log: what happened to it, when, at which attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobLogLine {
    pub at: DateTime<Utc>,
    pub job_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The attempt it belongs to (0 before the first).
    pub attempt: u32,
    /// queued, started, progress, error, lost, retried, completed, failed or cancelled.
    pub kind: String,
    pub message: String,
}

/// The `jobs_logs` tool's answer: a job's log, or a batch's items' logs, oldest first.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct JobLog {
    pub lines: Vec<JobLogLine>,
    /// Lines were left out (the oldest of a job with many, or items past the first
    /// thousand of a batch).
    #[serde(default)]
    pub truncated: bool,
}

/// The progress notification of the plan (Phase 2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProgressNotification {
    pub job_id: String,
    #[serde(rename = "type")]
    pub kind: JobKind,
    pub status: JobStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_704_708_000 + secs, 0).single().unwrap()
    }

    #[test]
    fn percentage_is_bounded() {
        fn check(current: u64, total: u64, expected: u8) {
            assert_eq!(
                Progress::new(current, total).percentage,
                expected,
                "{current}/{total}"
            );
        }
        check(0, 0, 0);
        check(3, 10, 30);
        check(1, 3, 33);
        check(12, 10, 100);
        check(u64::MAX, u64::MAX, 100);
    }

    #[test]
    fn status_round_trips() {
        for s in JobStatus::ALL {
            assert_eq!(JobStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(JobStatus::parse("running"), None);
    }

    #[test]
    fn async_tool_response_shape() {
        let r = AsyncToolResponse {
            success: true,
            job_id: "batch_0123".into(),
            kind: JobKind::Batch,
            status: StartStatus::Started,
            estimated_duration: Some("30-60 seconds".into()),
            check_status_in: Some("30 seconds".into()),
            message: "Generating content for 10 sections".into(),
            estimated_duration_ms: Some(DurationRangeMs {
                min: 30_000,
                max: 60_000,
            }),
            check_status_in_ms: Some(30_000),
        };
        insta::assert_json_snapshot!(r);
    }

    #[test]
    fn status_response_shape() {
        let running = JobStatusEntry {
            status: JobStatus::Processing,
            kind: JobKind::Batch,
            label: Some("Generating content".into()),
            progress: Some(Progress::new(3, 10)),
            created_at: at(-2),
            started_at: Some(at(0)),
            finished_at: None,
            elapsed_ms: Some(12_000),
            estimated_completion: Some("30 seconds".into()),
            estimated_completion_ms: Some(30_000),
            current_operation: Some("Generating landing:features".into()),
            check_again_in: Some("15 seconds".into()),
            check_again_in_ms: Some(15_000),
            message: "3/10 · Generating landing:features · ~30 s left".into(),
            worker_running: true,
            waiting_for_worker: false,
            waiting_for: Vec::new(),
            result: None,
            errors: vec![],
            rescued: 0,
        };
        let failed = JobStatusEntry {
            status: JobStatus::Failed,
            kind: JobKind::Job,
            label: Some("landing:hero".into()),
            progress: None,
            created_at: at(-5),
            started_at: Some(at(-4)),
            finished_at: Some(at(-1)),
            elapsed_ms: Some(3_000),
            estimated_completion: None,
            estimated_completion_ms: None,
            current_operation: None,
            check_again_in: None,
            check_again_in_ms: None,
            message: "failed after 3 attempts: generator timed out".into(),
            worker_running: true,
            waiting_for_worker: false,
            waiting_for: Vec::new(),
            result: None,
            errors: vec![ItemError {
                job_id: "job_x".into(),
                label: Some("landing:hero".into()),
                error: "generator timed out".into(),
            }],
            rescued: 0,
        };
        let response = JobStatusResponse(
            [
                ("batch_0123".to_owned(), running),
                ("job_x".to_owned(), failed),
            ]
            .into(),
        );
        insta::assert_json_snapshot!(response);
    }

    #[test]
    fn progress_notification_shape() {
        let n = ProgressNotification {
            job_id: "batch_0123".into(),
            kind: JobKind::Batch,
            status: JobStatus::Processing,
            progress: Some(Progress::new(3, 10)),
            message: Some("Generating landing:features".into()),
        };
        insta::assert_json_snapshot!(n);
    }
}
