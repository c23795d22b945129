//! `brain mcp`: serves the brain over MCP (stdio, or streamable HTTP with `--http`).

use std::sync::Arc;

use brain_core::Shell;
use brain_plugin_utils::Interface;
use clap::Args;

use crate::commands::Brain;

/// `brain mcp`'s options.
#[derive(Debug, Args)]
pub(crate) struct McpArgs {}

pub(crate) async fn run(_brain: &Brain, _args: McpArgs) -> anyhow::Result<()> {
    anyhow::bail!("brain mcp is not built yet")
}

/// The MCP interface `brain start` runs, when `[mcp]` asks for one.
pub(crate) fn configured(_shell: &Shell) -> anyhow::Result<Option<Arc<dyn Interface>>> {
    Ok(None)
}
