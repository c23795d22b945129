//! `brain tool NAME [--args JSON]`: runs any tool — built-in or a plugin's — as the owner at
//! the terminal and prints its structured result as pretty JSON; `brain tool` alone (or
//! `--list`) lists the tools the owner may run. A tool that starts background work is a
//! one-shot command like `brain site build`: this process runs that operation (and what it
//! depends on, nothing else) with live progress until it ends — or, with `--detach`, only
//! starts it and prints its handle (`AsyncToolResponse`).

use anyhow::Context;
use brain_plugin_api::{Caller, ToolContext};
use serde_json::Value;

use crate::cli::ToolArgs;
use crate::commands::Brain;
use crate::commands::plugin::finish;
use crate::exit::usage;
use crate::output;

pub(crate) async fn run(brain: &Brain, args: ToolArgs) -> anyhow::Result<()> {
    let Some(name) = args.name else {
        return list(brain, args.json).await;
    };
    // Checked before the brain is opened: a typo costs nothing.
    let input: Value = serde_json::from_str(&args.args).map_err(|e| {
        usage(format!(
            "--args is not valid JSON ({e}); pass an object, e.g. --args '{{\"id\": \"job_…\"}}'"
        ))
    })?;
    if !input.is_object() {
        return Err(usage(format!(
            "--args must be a JSON object, got {input}; e.g. --args '{{\"id\": \"job_…\"}}'"
        )));
    }
    let shell = brain.open_shell().await?;
    let starts_work = shell
        .tools(&Caller::cli())
        .iter()
        .any(|t| t.name == name && t.starts_work);
    if starts_work && !args.detach {
        let mode = brain_cli::Mode::detect(args.json, args.quiet);
        return finish(brain_cli::run_tool(&shell, &name, input, mode).await?);
    }
    let result = shell
        .execute(&name, input, ToolContext::new(Caller::cli()))
        .await
        .with_context(|| format!("tool `{name}`"))?;
    output::json(&result.structured)
}

/// The tools the person at the terminal (the owner) may run: a line each, name and the
/// first sentence of its description, marked when it starts background work; or, with
/// `json`, their declarations.
async fn list(brain: &Brain, json: bool) -> anyhow::Result<()> {
    let shell = brain.open_shell().await?;
    let tools = shell.tools(&Caller::cli());
    if json {
        return output::json(&serde_json::to_value(&tools)?);
    }
    let width = tools.iter().map(|t| t.name.len()).max().unwrap_or(0);
    let mut text = String::new();
    for tool in &tools {
        let first = tool
            .description
            .split_once(". ")
            .map_or(tool.description.as_str(), |(first, _)| first)
            .trim_end_matches('.');
        let work = if tool.starts_work {
            " (background job)"
        } else {
            ""
        };
        text.push_str(&format!("{:<width$}  {first}{work}\n", tool.name));
    }
    text.push_str(
        "\nRun one with `brain tool NAME --args '{…}'`; `--list --json` shows their schemas.",
    );
    output::line(&text)
}
