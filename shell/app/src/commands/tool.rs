//! `brain tool NAME [--args JSON]`: runs any tool — built-in or a plugin's — as the owner at
//! the terminal and prints its structured result as pretty JSON. A slow tool answers at once
//! with the job it started (`AsyncToolResponse`); `brain jobs status ID` follows it. No
//! workers start here.

use anyhow::Context;
use brain_plugin_utils::{Caller, ToolContext};
use serde_json::Value;

use crate::cli::ToolArgs;
use crate::commands::Brain;
use crate::exit::usage;
use crate::output;

pub(crate) async fn run(brain: &Brain, args: ToolArgs) -> anyhow::Result<()> {
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
    let result = shell
        .execute(&args.name, input, ToolContext::new(Caller::cli()))
        .await
        .with_context(|| format!("tool `{}`", args.name))?;
    output::json(&result.structured)
}
