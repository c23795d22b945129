//! `brain jobs watch ID` follows a job or batch that another process runs, with the CLI
//! interface's live progress; it starts no workers (Ctrl-C detaches, or cancels when no
//! process works on it).
//!
//! `brain jobs list|status|cancel|retry|logs`: the shell's built-in job tools (`jobs_list`,
//! `status`, `jobs_cancel`, `jobs_retry`, `jobs_logs`) run as the owner at the terminal, printed as text
//! or, with `--json`, as documented JSON (`docs/json/`): a list is an array, newest first
//! as the text is; one job is an object. No workers start here: a `brain start` elsewhere
//! does the work, and these commands only read the shared database (or ask it to change).
//! Every id may be shortened to a unique start of it, as git takes a commit's.

use std::time::Duration;

use anyhow::Context;
use brain_core::Shell;
use brain_plugin_api::{
    Caller, JobListing, ListedJob, ToolContext, ToolError, ToolResult, format_short,
};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::cli::{JobsCommand, ListArgs};
use crate::commands::Brain;
use crate::exit::usage;
use crate::output;

pub(crate) async fn run(brain: &Brain, command: JobsCommand) -> anyhow::Result<()> {
    let shell = brain.open_shell().await?;
    match command {
        JobsCommand::Watch { id, view } => {
            let id = shell.queue().resolve(&id).await?;
            let mode = brain_cli::Mode::detect(view.json, view.quiet);
            crate::commands::plugin::finish(brain_cli::watch(&shell, &id, mode).await?)
        }
        JobsCommand::List(args) => {
            let json = args.json;
            let result = call(&shell, "jobs_list", list_args(args)).await?;
            let listing: JobListing = serde_json::from_value(result.structured)
                .context("the jobs_list tool answered in an unexpected shape")?;
            if json {
                output::json(&serde_json::to_value(&listing.jobs)?)
            } else {
                output::line(&table(&listing.jobs, Utc::now()))
            }
        }
        JobsCommand::Status { id, json } => {
            let queue = shell.queue();
            let id = queue.resolve(&id).await?;
            let listed = queue.status(&id).await?.listed();
            if json {
                output::json(&serde_json::to_value(&listed)?)
            } else {
                output::line(&listed.entry.describe(&listed.id))
            }
        }
        JobsCommand::Cancel { id, json } => print(
            call(&shell, "jobs_cancel", json!({ "id": id })).await?,
            json,
        ),
        JobsCommand::Retry { id, json } => {
            print(call(&shell, "jobs_retry", json!({ "id": id })).await?, json)
        }
        JobsCommand::Logs { id, json } => {
            let result = call(&shell, "jobs_logs", json!({ "id": id })).await?;
            if json {
                // An array, in the text's order (oldest first).
                output::json(&result.structured["lines"])
            } else {
                output::line(&result.text)
            }
        }
    }
}

/// Runs one of the shell's job tools as the owner. Its errors are said in the command's
/// words: the person typed `--since soon` or an id, not a tool's input field.
async fn call(shell: &Shell, tool: &str, input: Value) -> anyhow::Result<ToolResult> {
    match shell
        .execute(tool, input, ToolContext::new(Caller::cli()))
        .await
    {
        Ok(result) => Ok(result),
        Err(ToolError::InvalidInput { field, message }) if field == "id" => Err(usage(message)),
        Err(ToolError::InvalidInput { field, message }) => {
            Err(usage(format!("--{field}: {message}")))
        }
        Err(other) => Err(other.into()),
    }
}

fn print(result: ToolResult, json: bool) -> anyhow::Result<()> {
    if json {
        output::json(&result.structured)
    } else {
        output::line(&result.text)
    }
}

/// The `jobs_list` input: only the filters given, so the tool's defaults apply to the rest.
fn list_args(args: ListArgs) -> Value {
    let mut input = Map::new();
    if args.active {
        input.insert("active".into(), Value::Bool(true));
    }
    let texts = [
        ("type", args.job_type),
        ("source", args.source),
        ("status", args.status),
        ("since", args.since),
    ];
    for (field, value) in texts {
        if let Some(value) = value {
            input.insert(field.into(), Value::String(value));
        }
    }
    if let Some(limit) = args.limit {
        input.insert("limit".into(), Value::from(limit));
    }
    Value::Object(input)
}

/// The list as a table, newest first: id, state, progress, age, and what it is doing (its
/// message, what it waits for, the time left) — the status line's details.
fn table(jobs: &[ListedJob], now: DateTime<Utc>) -> String {
    if jobs.is_empty() {
        return "No active or recent jobs.".to_owned();
    }
    let rows: Vec<[String; 5]> = jobs
        .iter()
        .map(|job| {
            let entry = &job.entry;
            let state = if entry.waiting_for_worker {
                "waiting for a worker".to_owned()
            } else {
                entry.status.to_string()
            };
            let progress = entry
                .shown_progress()
                .map(|p| format!("{}/{}", p.current, p.total))
                .unwrap_or_default();
            let age = (now - entry.created_at).to_std().unwrap_or(Duration::ZERO);
            let details = entry.details();
            let what = if details.is_empty() {
                entry
                    .label
                    .clone()
                    .or_else(|| job.job_type.clone())
                    .unwrap_or_default()
            } else {
                details.join(" · ")
            };
            [
                job.id.clone(),
                state,
                progress,
                format!("{} ago", format_short(age)),
                what,
            ]
        })
        .collect();
    let header = ["ID", "STATE", "DONE", "AGE", "WHAT"].map(str::to_owned);
    let widths: Vec<usize> = (0..5)
        .map(|i| {
            std::iter::once(&header)
                .chain(&rows)
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    std::iter::once(&header)
        .chain(&rows)
        .map(|row| {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(&format!("{cell:<width$}  ", width = widths[i]));
                }
            }
            line.trim_end().to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use brain_plugin_api::{JobKind, JobStatus, JobStatusEntry, Progress};
    use chrono::TimeZone;

    fn listed(id: &str, status: JobStatus, age_secs: i64, label: Option<&str>) -> ListedJob {
        let now = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
        ListedJob {
            id: id.into(),
            job_type: Some("site-builder:build".into()),
            source: "cli".into(),
            entry: JobStatusEntry {
                status,
                kind: JobKind::Job,
                label: label.map(str::to_owned),
                progress: (status == JobStatus::Processing).then(|| Progress::new(2, 5)),
                created_at: now - chrono::Duration::seconds(age_secs),
                started_at: None,
                finished_at: None,
                elapsed_ms: None,
                estimated_completion: None,
                estimated_completion_ms: None,
                current_operation: None,
                check_again_in: None,
                check_again_in_ms: None,
                message: String::new(),
                worker_running: true,
                waiting_for_worker: false,
                waiting_for: Vec::new(),
                result: None,
                errors: Vec::new(),
                rescued: 0,
            },
        }
    }

    #[test]
    fn the_table_has_an_age_column_and_aligned_cells() {
        let now = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
        let jobs = [
            listed(
                "batch_2",
                JobStatus::Processing,
                5,
                Some("Generating content"),
            ),
            listed("job_1", JobStatus::Completed, 7_200, None),
        ];
        assert_eq!(
            table(&jobs, now),
            "ID       STATE       DONE  AGE      WHAT\n\
             batch_2  processing  2/5   5 s ago  Generating content\n\
             job_1    completed         2 h ago  site-builder:build"
        );
        // A batch cancelled before anything ran counts its cancelled items as ended: no
        // "5/5" — its message says what was done.
        let mut cancelled = listed("batch_3", JobStatus::Cancelled, 60, None);
        cancelled.entry.kind = JobKind::Batch;
        cancelled.entry.progress = Some(Progress::new(5, 5));
        cancelled.entry.message = "cancelled — 0 of 5 done".into();
        assert_eq!(
            table(&[cancelled], now),
            "ID       STATE      DONE  AGE        WHAT\n\
             batch_3  cancelled        1 min ago  cancelled — 0 of 5 done"
        );
        assert_eq!(table(&[], now), "No active or recent jobs.");
    }
}
