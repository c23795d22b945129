//! The shell's own tools: `status` (the plan's Phase 3 answer), `jobs_list`, `jobs_cancel`,
//! `jobs_retry` and `jobs_logs`, and the commands the chat and Matrix type for them
//! (`/status`, `/jobs`, `/cancel`, `/retry`, `/logs`). Every id they take may be shortened to a unique start, as git
//! takes a commit's.

use brain_job_queue::{JobState, ListFilter, Queue, QueueError};
use brain_plugin_api::{
    ArgSpec, CommandSpec, JobListing, JobLog, JobStatus, JobStatusEntry, JobStatusResponse,
    Permission, Source, ToolError, ToolResult, ToolSpec,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How the queue's refusals reach a caller: bad arguments name their field.
pub(crate) fn queue_error(error: QueueError) -> ToolError {
    match error {
        QueueError::InvalidArgument { field, reason } => ToolError::invalid(field, reason),
        QueueError::NotFound { id } => {
            ToolError::invalid("id", format!("no job or batch with id {id:?}"))
        }
        QueueError::Ambiguous { .. } => ToolError::invalid("id", error.to_string()),
        QueueError::UnknownDependency { .. } => ToolError::invalid("after", error.to_string()),
        QueueError::InvalidJobType { .. } | QueueError::UnknownJobType { .. } => {
            ToolError::invalid("type", error.to_string())
        }
        other => ToolError::failed(other.to_string()),
    }
}

/// The status of the job or batch `id` names (a unique start of one will do), with its
/// full id.
pub(crate) async fn status_entry(
    queue: &Queue,
    id: &str,
) -> Result<(String, JobStatusEntry), ToolError> {
    let id = queue.resolve(id).await.map_err(queue_error)?;
    let entry = queue.status(&id).await.map_err(queue_error)?.status_entry();
    Ok((id, entry))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct StatusInput {
    /// A job or batch id; without it, every active and recently finished job and batch.
    #[serde(default)]
    id: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ListInput {
    /// Only pending and running work.
    #[serde(default)]
    active: bool,
    /// Only jobs of this type, e.g. `site-builder:generate`.
    #[serde(default, rename = "type")]
    job_type: Option<String>,
    /// Only work started from this source, e.g. `cli` or `mcp:<session>`.
    #[serde(default)]
    source: Option<String>,
    /// Only work in this state: pending, processing, completed, failed or cancelled.
    #[serde(default)]
    status: Option<JobStatus>,
    /// Only work created since then: a time ago (`30m`, `2h`, `7d`; units s, m, h, d, w)
    /// or a date and time (`2026-12-07T09:00:00Z`).
    #[serde(default)]
    since: Option<String>,
    /// At most this many entries (1-500, default 50).
    #[serde(default)]
    limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RetryInput {
    /// The failed job, or the batch whose failed items to retry.
    id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct LogsInput {
    /// The job, or the batch whose items' logs to read.
    id: String,
}

/// The `jobs_retry` tool's answer (`brain jobs retry --json`).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetryOutput {
    pub id: String,
    /// Jobs queued again.
    pub retried: u64,
}

/// A log as lines: "15:01:02.123  job_…  attempt 1  error  connection refused" (the
/// label instead of the id when the job has one).
fn log_text(log: &JobLog) -> String {
    let who =
        |l: &brain_plugin_api::JobLogLine| l.label.clone().unwrap_or_else(|| l.job_id.clone());
    let width = log
        .lines
        .iter()
        .map(|l| who(l).chars().count())
        .max()
        .unwrap_or(0);
    let mut lines: Vec<String> = log
        .lines
        .iter()
        .map(|l| {
            format!(
                "{}  {:<width$}  attempt {}  {:<9}  {}",
                l.at.format("%Y-%m-%d %H:%M:%S%.3f"),
                who(l),
                l.attempt,
                l.kind,
                l.message
            )
        })
        .collect();
    if log.truncated {
        lines.push(
            "(more left out: the oldest lines of a long log, or items past the first 1,000)".into(),
        );
    }
    if lines.is_empty() {
        lines.push("Nothing logged.".into());
    }
    lines.join("\n")
}

/// `since` as milliseconds since the epoch: `now` minus a span (`30m`), or a date and time.
fn since_ms(text: &str, now: chrono::DateTime<chrono::Utc>) -> Result<i64, ToolError> {
    let text = text.trim();
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(at.timestamp_millis());
    }
    let bad = || {
        ToolError::invalid(
            "since",
            format!(
                "{text:?} is neither a time ago (a number and a unit: 30m, 2h, 7d; units s, m, \
                 h, d, w) nor a date and time (2026-12-07T09:00:00Z)"
            ),
        )
    };
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().map_err(|_| bad())?;
    let unit_ms: i64 = match unit.trim() {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return Err(bad()),
    };
    let ago = number.checked_mul(unit_ms).ok_or_else(bad)?;
    Ok(now.timestamp_millis().saturating_sub(ago))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CancelInput {
    /// The job or batch to cancel.
    id: String,
}

/// The `jobs_cancel` tool's answer (`brain jobs cancel --json`).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CancelOutput {
    pub id: String,
    /// Jobs that had not started and are cancelled.
    pub cancelled: u64,
    /// Running jobs asked to stop.
    pub stopping: u64,
}

/// The status tool's answer for every job and batch listed, and its text.
fn listing(states: Vec<JobState>) -> (JobStatusResponse, String) {
    let mut response = JobStatusResponse::default();
    let mut lines = Vec::new();
    for state in states {
        let entry = state.status_entry();
        lines.push(entry.describe(&state.event.id));
        response.0.insert(state.event.id.clone(), entry);
    }
    if lines.is_empty() {
        lines.push("No active or recent jobs.".to_owned());
    }
    (response, lines.join("\n"))
}

/// The commands for the shell's own tools. No group: the CLI has `brain jobs …` for them.
pub(crate) fn commands() -> Vec<CommandSpec> {
    let id = |help: &str| ArgSpec::text("id", help).positional().completes();
    vec![
        CommandSpec::new(
            "",
            "status",
            "status",
            "A job's or batch's status; no id: active and recent work",
        )
        .arg(id("The job or batch id")),
        CommandSpec::new(
            "",
            "jobs",
            "jobs_list",
            "Active and recent jobs and batches",
        )
        .arg(ArgSpec::switch("active", "Only pending and running work")),
        CommandSpec::new("", "cancel", "jobs_cancel", "Cancel a job or batch")
            .arg(id("The job or batch id").required()),
        CommandSpec::new(
            "",
            "retry",
            "jobs_retry",
            "Retry a failed job, or a batch's failed items",
        )
        .arg(id("The job or batch id").required()),
        CommandSpec::new(
            "",
            "logs",
            "jobs_logs",
            "What a job (or a batch's items) reported: progress, attempts, errors, timings",
        )
        .arg(id("The job or batch id").required()),
    ]
}

/// Completion of the shell's commands: job and batch ids (the `id` field), active work
/// first, then recent.
pub(crate) async fn complete(queue: &Queue, field: &str) -> Vec<String> {
    if field != "id" {
        return Vec::new();
    }
    let list = |active| {
        queue.list(ListFilter {
            active,
            limit: 50,
            ..ListFilter::default()
        })
    };
    let mut ids = Vec::new();
    for active in [true, false] {
        for state in list(active).await.unwrap_or_default() {
            if !ids.contains(&state.event.id) {
                ids.push(state.event.id);
            }
        }
    }
    ids
}

pub(crate) fn tools(queue: &Queue) -> Vec<ToolSpec> {
    let q = queue.clone();
    let status = ToolSpec::new(
        "status",
        "Status of a job or batch: progress, current operation, estimated completion and when to \
         check again. Without an id: every active and recently finished job and batch.",
        move |input: StatusInput, _ctx| {
            let q = q.clone();
            async move {
                match input.id {
                    Some(id) => {
                        let (id, entry) = status_entry(&q, &id).await?;
                        let text = entry.describe(&id);
                        Ok(ToolResult::new(
                            JobStatusResponse([(id, entry)].into()),
                            text,
                        ))
                    }
                    None => {
                        let states = q
                            .list(ListFilter {
                                limit: 50,
                                ..ListFilter::default()
                            })
                            .await
                            .map_err(queue_error)?;
                        let (response, text) = listing(states);
                        Ok(ToolResult::new(response, text))
                    }
                }
            }
        },
    )
    .visibility(Permission::Trusted)
    .output::<JobStatusResponse>();

    let q = queue.clone();
    let list = ToolSpec::new(
        "jobs_list",
        "Lists jobs and batches, newest first: active ones, then recently finished. Filters: \
         active, type, source, status, since, limit.",
        move |input: ListInput, _ctx| {
            let q = q.clone();
            async move {
                let limit = input.limit.unwrap_or(50);
                if !(1..=500).contains(&limit) {
                    return Err(ToolError::invalid(
                        "limit",
                        format!("must be between 1 and 500, got {limit}"),
                    ));
                }
                let source = match input.source {
                    Some(s) => Some(
                        s.parse::<Source>()
                            .map_err(|e| ToolError::invalid("source", e.to_string()))?,
                    ),
                    None => None,
                };
                let since = match &input.since {
                    Some(text) => Some(since_ms(text, chrono::Utc::now())?),
                    None => None,
                };
                let filter = ListFilter {
                    active: input.active,
                    job_type: input.job_type,
                    source,
                    status: input.status,
                    since,
                    include_batch_items: false,
                    limit: limit as usize,
                };
                let states = q.list(filter).await.map_err(queue_error)?;
                let listed = JobListing {
                    jobs: states.iter().map(JobState::listed).collect(),
                };
                let (_, text) = listing(states);
                Ok(ToolResult::new(listed, text))
            }
        },
    )
    .visibility(Permission::Trusted)
    .output::<JobListing>();

    let q = queue.clone();
    let cancel = ToolSpec::new(
        "jobs_cancel",
        "Cancels a job or a whole batch: jobs not started yet at once, running ones cooperatively.",
        move |input: CancelInput, _ctx| {
            let q = q.clone();
            async move {
                let id = q.resolve(&input.id).await.map_err(queue_error)?;
                let outcome = q.cancel(&id).await.map_err(queue_error)?;
                let text = format!(
                    "{id}: {} cancelled, {} stopping",
                    outcome.cancelled, outcome.stopping
                );
                Ok(ToolResult::new(
                    CancelOutput {
                        id,
                        cancelled: outcome.cancelled,
                        stopping: outcome.stopping,
                    },
                    text,
                ))
            }
        },
    )
    .output::<CancelOutput>();

    let q = queue.clone();
    let retry = ToolSpec::new(
        "jobs_retry",
        "Queues a failed job again, or every failed item of a batch, each with a fresh set of \
         attempts. Follow it with the status tool.",
        move |input: RetryInput, _ctx| {
            let q = q.clone();
            async move {
                let id = q.resolve(&input.id).await.map_err(queue_error)?;
                let retried = q.retry(&id).await.map_err(queue_error)?;
                let what = if retried == 1 {
                    "1 failed job".to_owned()
                } else {
                    format!("{retried} failed jobs")
                };
                let text = format!("{id}: {what} queued again");
                Ok(ToolResult::new(RetryOutput { id, retried }, text))
            }
        },
    )
    .output::<RetryOutput>();

    let q = queue.clone();
    let logs = ToolSpec::new(
        "jobs_logs",
        "A job's log, or a batch's items' logs, oldest first: when it was queued and started, \
         the progress messages it reported, each failed attempt's error, and how it ended.",
        move |input: LogsInput, _ctx| {
            let q = q.clone();
            async move {
                let id = q.resolve(&input.id).await.map_err(queue_error)?;
                let log = q.logs(&id).await.map_err(queue_error)?;
                let text = log_text(&log);
                Ok(ToolResult::new(log, text))
            }
        },
    )
    .visibility(Permission::Trusted)
    .output::<JobLog>();

    vec![status, list, cancel, retry, logs]
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn since_is_a_time_ago_or_a_date() {
        let now = chrono::Utc.timestamp_opt(1_800_000_000, 0).unwrap();
        let ms = now.timestamp_millis();
        for (text, expected) in [
            ("90s", ms - 90_000),
            ("30m", ms - 1_800_000),
            ("2h", ms - 7_200_000),
            ("1d", ms - 86_400_000),
            ("2w", ms - 14 * 86_400_000),
            ("2026-12-07T09:00:00Z", 1_796_634_000_000),
        ] {
            assert_eq!(since_ms(text, now).unwrap(), expected, "{text}");
        }
        for bad in [
            "",
            "h",
            "5",
            "5y",
            "-5m",
            "yesterday",
            "99999999999999999999d",
        ] {
            let error = since_ms(bad, now).unwrap_err().to_string();
            assert!(error.contains("`since`"), "{bad}: {error}");
        }
    }
}
