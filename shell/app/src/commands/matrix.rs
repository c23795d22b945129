//! `brain matrix`: runs the Matrix bot configured in `[matrix]`, with the job workers.

use std::sync::Arc;

use brain_core::Shell;
use brain_plugin_utils::Interface;
use clap::Args;

use crate::commands::Brain;

/// `brain matrix`'s options.
#[derive(Debug, Args)]
pub(crate) struct MatrixArgs {}

pub(crate) async fn run(_brain: &Brain, _args: MatrixArgs) -> anyhow::Result<()> {
    anyhow::bail!("brain matrix is not built yet")
}

/// The Matrix bot `brain start` runs, when `[matrix]` is configured.
pub(crate) fn configured(_shell: &Shell) -> anyhow::Result<Option<Arc<dyn Interface>>> {
    Ok(None)
}
