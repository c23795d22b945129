//! The shell's own tools: `status` (the plan's Phase 3 answer), `jobs_list` and
//! `jobs_cancel`, and the commands the chat and Matrix type for them (`/status`, `/jobs`,
//! `/cancel`).

use brain_job_queue::{JobState, ListFilter, Queue, QueueError};
use brain_plugin_api::{
    ArgSpec, CommandSpec, JobStatusEntry, JobStatusResponse, Permission, Source, ToolError,
    ToolResult, ToolSpec,
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
        QueueError::UnknownDependency { .. } => ToolError::invalid("after", error.to_string()),
        QueueError::InvalidJobType { .. } | QueueError::UnknownJobType { .. } => {
            ToolError::invalid("type", error.to_string())
        }
        other => ToolError::failed(other.to_string()),
    }
}

pub(crate) async fn status_entry(queue: &Queue, id: &str) -> Result<JobStatusEntry, ToolError> {
    queue
        .status(id)
        .await
        .map(|s| s.status_entry())
        .map_err(queue_error)
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
    /// At most this many entries (1-500, default 50).
    #[serde(default)]
    limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CancelInput {
    /// The job or batch to cancel.
    id: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct CancelOutput {
    id: String,
    /// Jobs that had not started and are cancelled.
    cancelled: u64,
    /// Running jobs asked to stop.
    stopping: u64,
}

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
                        let entry = status_entry(&q, &id).await?;
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
         active, type, source, limit.",
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
                let filter = ListFilter {
                    active: input.active,
                    job_type: input.job_type,
                    source,
                    include_batch_items: false,
                    limit: limit as usize,
                };
                let (response, text) = listing(q.list(filter).await.map_err(queue_error)?);
                Ok(ToolResult::new(response, text))
            }
        },
    )
    .visibility(Permission::Trusted)
    .output::<JobStatusResponse>();

    let q = queue.clone();
    let cancel = ToolSpec::new(
        "jobs_cancel",
        "Cancels a job or a whole batch: jobs not started yet at once, running ones cooperatively.",
        move |input: CancelInput, _ctx| {
            let q = q.clone();
            async move {
                let outcome = q.cancel(&input.id).await.map_err(queue_error)?;
                let text = format!(
                    "{}: {} cancelled, {} stopping",
                    input.id, outcome.cancelled, outcome.stopping
                );
                Ok(ToolResult::new(
                    CancelOutput {
                        id: input.id,
                        cancelled: outcome.cancelled,
                        stopping: outcome.stopping,
                    },
                    text,
                ))
            }
        },
    )
    .output::<CancelOutput>();

    vec![status, list, cancel]
}
