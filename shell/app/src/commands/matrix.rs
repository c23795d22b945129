//! `brain matrix`: runs the Matrix bot configured in `[matrix]`, with the job workers (the
//! work its commands start runs in this process), until SIGINT or SIGTERM.

use std::sync::Arc;

use brain_core::Shell;
use brain_matrix::{MatrixConfig, MatrixInterface};
use brain_plugin_utils::Interface;
use clap::Args;

use crate::commands::Brain;
use crate::exit;

/// `brain matrix`'s options.
#[derive(Debug, Args)]
pub(crate) struct MatrixArgs {}

pub(crate) async fn run(brain: &Brain, _args: MatrixArgs) -> anyhow::Result<()> {
    crate::commands::start::serve(brain, |shell| {
        let bot = configured(shell)?.ok_or_else(|| {
            exit::usage(format!(
                "no [matrix] section in {}: add homeserver, user_id, password (or \
                 access_token) and anchor (see the README's Matrix section)",
                brain.dir.join("brain.toml").display()
            ))
        })?;
        Ok(vec![bot])
    })
    .await
}

/// The Matrix bot `brain start` runs, when `[matrix]` is configured.
pub(crate) fn configured(shell: &Shell) -> anyhow::Result<Option<Arc<dyn Interface>>> {
    if shell.config().section(brain_matrix::SECTION).is_none() {
        return Ok(None);
    }
    let config = MatrixConfig::from_json(&shell.config().section_json(brain_matrix::SECTION))
        // A configuration error (exit 2), like the shell's own sections'.
        .map_err(|error| exit::usage(format!("invalid configuration: {error}")))?;
    Ok(Some(Arc::new(MatrixInterface::new(
        config,
        &shell.dirs().data,
    ))))
}
