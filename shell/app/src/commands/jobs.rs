//! `brain jobs watch ID` follows a job or batch that another process runs, with the CLI
//! interface's live progress; it starts no workers (Ctrl-C detaches, or cancels when no
//! process works on it).
//!
//! `brain jobs list|status|cancel`: the shell's built-in job tools (`jobs_list`, `status`,
//! `jobs_cancel`) run as the owner at the terminal, printed as text or, with `--json`, as
//! the tool's structured result. No workers start here: a `brain start` elsewhere does the
//! work, and these commands only read the shared database (or ask it to cancel).

use anyhow::Context;
use brain_plugin_api::{Caller, ToolContext};
use serde_json::{Map, Value, json};

use crate::cli::{JobsCommand, ListArgs};
use crate::commands::Brain;
use crate::output;

pub(crate) async fn run(brain: &Brain, command: JobsCommand) -> anyhow::Result<()> {
    let (tool, args, as_json) = match command {
        JobsCommand::Watch { id, view } => {
            let shell = brain.open_shell().await?;
            let mode = brain_cli::Mode::detect(view.json, view.quiet);
            return crate::commands::plugin::finish(brain_cli::watch(&shell, &id, mode).await?);
        }
        JobsCommand::List(args) => {
            let json = args.json;
            ("jobs_list", list_args(args), json)
        }
        JobsCommand::Status { id, json } => ("status", json!({ "id": id }), json),
        JobsCommand::Cancel { id, json } => ("jobs_cancel", json!({ "id": id }), json),
    };
    let shell = brain.open_shell().await?;
    let result = shell
        .execute(tool, args, ToolContext::new(Caller::cli()))
        .await
        .with_context(|| format!("tool `{tool}`"))?;
    if as_json {
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
    if let Some(job_type) = args.job_type {
        input.insert("type".into(), Value::String(job_type));
    }
    if let Some(source) = args.source {
        input.insert("source".into(), Value::String(source));
    }
    if let Some(limit) = args.limit {
        input.insert("limit".into(), Value::from(limit));
    }
    Value::Object(input)
}
