//! `brain matrix`: runs the Matrix bot configured in `[matrix]`, with the job workers (the
//! work its commands start runs in this process), until SIGINT or SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use brain_core::Shell;
use brain_matrix::{MatrixConfig, MatrixInterface};
use brain_plugin_utils::Interface;
use clap::Args;

use crate::commands::Brain;

/// How long running jobs may take to finish after a stop signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// `brain matrix`'s options.
#[derive(Debug, Args)]
pub(crate) struct MatrixArgs {}

pub(crate) async fn run(brain: &Brain, _args: MatrixArgs) -> anyhow::Result<()> {
    let shell = brain.open_shell().await?;
    let Some(interface) = configured(&shell)? else {
        anyhow::bail!(
            "no [matrix] section in {}: add homeserver, user_id, password (or access_token) \
             and anchor (see the README's Matrix section)",
            brain.dir.join("brain.toml").display()
        );
    };
    shell
        .start_workers()
        .await
        .context("cannot start the workers")?;
    if let Err(error) = shell.index_notes_in_background().await {
        eprintln!("warning: could not start indexing the notes: {error}");
    }
    for (plugin, error) in shell.start_plugins().await {
        eprintln!("warning: plugin {plugin:?} did not start, continuing without it: {error}");
    }
    interface
        .start(shell.handle())
        .await
        .context("cannot start the Matrix bot")?;
    eprintln!("Matrix bot running; Ctrl-C to stop");
    wait_for_stop_signal().await;
    if let Err(error) = interface.stop().await {
        eprintln!("warning: the Matrix bot did not stop cleanly: {error}");
    }
    shell.shutdown(SHUTDOWN_GRACE).await;
    Ok(())
}

/// The Matrix bot `brain start` runs, when `[matrix]` is configured.
pub(crate) fn configured(shell: &Shell) -> anyhow::Result<Option<Arc<dyn Interface>>> {
    if shell.config().section(brain_matrix::SECTION).is_none() {
        return Ok(None);
    }
    let config = MatrixConfig::from_json(&shell.config().section_json(brain_matrix::SECTION))
        .context("invalid configuration")?;
    Ok(Some(Arc::new(MatrixInterface::new(
        config,
        &shell.dirs().data,
    ))))
}

/// SIGINT (Ctrl-C) or SIGTERM.
async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(mut interrupt), Ok(mut terminate)) => {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
            }
            // No way to be told to stop: run until killed.
            _ => std::future::pending().await,
        }
    }
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
