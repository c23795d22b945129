//! `brain start`: runs the brain in the foreground — the job workers and every plugin's
//! long-running parts — until SIGINT (Ctrl-C) or SIGTERM, then shuts down gracefully:
//! plugins stop, running jobs get up to [`SHUTDOWN_GRACE`] to finish, and whatever is still
//! running goes back to the queue for the next start. A second signal during shutdown stops
//! at once (the jobs' leases lapse and they run again later; nothing is lost).
//! The interfaces configured in brain.toml (`[mcp]`, `[matrix]`, `[web]`) start after the plugins
//! and stop first.

use std::time::Duration;

use std::sync::Arc;

use anyhow::Context;
use brain_core::Shell;
use brain_plugin_api::Interface;

use crate::commands::Brain;

/// How long running jobs may take to finish after a stop signal.
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

pub(crate) async fn run(brain: &Brain) -> anyhow::Result<()> {
    serve(brain, Workers::Run, |shell| {
        Ok([
            crate::commands::mcp::configured(shell)?,
            crate::commands::matrix::configured(shell)?,
            crate::commands::web::configured(shell)?,
        ]
        .into_iter()
        .flatten()
        .collect())
    })
    .await
}

/// Whether a serving process runs job workers for the whole brain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Workers {
    Run,
    /// `--no-workers`: only the interface; a `brain start` beside it does the work.
    None,
}

impl Workers {
    pub(crate) fn from_flag(no_workers: bool) -> Workers {
        if no_workers {
            Workers::None
        } else {
            Workers::Run
        }
    }
}

/// Runs the brain with the interfaces `pick` chooses from its configuration (`brain start`:
/// every configured one; `brain matrix`: the bot) until a stop signal.
pub(crate) async fn serve(
    brain: &Brain,
    workers: Workers,
    pick: impl FnOnce(&Shell) -> anyhow::Result<Vec<Arc<dyn Interface>>>,
) -> anyhow::Result<()> {
    // Listening before anything starts: a signal that arrives early still stops us cleanly
    // instead of killing the process with jobs half-claimed.
    let mut signals = Signals::new().context("cannot listen for stop signals")?;
    let shell = brain.open_shell().await?;
    // Checked before anything starts: a bad [mcp] or [matrix] stops us with nothing to undo.
    let picked = pick(&shell)?;
    start_work(&shell, workers).await?;
    let mut interfaces = Vec::new();
    for interface in picked {
        interface
            .start(shell.handle())
            .await
            .with_context(|| format!("cannot start the {} interface", interface.name()))?;
        interfaces.push(interface);
    }
    let dir = std::path::absolute(&brain.dir).unwrap_or_else(|_| brain.dir.clone());
    let running = match workers {
        Workers::Run => format!("workers: {}", shell.config().queue.concurrency),
        Workers::None => "no workers: `brain start` runs the work".to_owned(),
    };
    eprintln!(
        "brain running in {} ({running}); Ctrl-C to stop",
        dir.display()
    );

    let signal = signals.next().await;
    eprintln!("{signal}: stopping (running jobs get {SHUTDOWN_GRACE:?}; again to stop at once)");
    for interface in interfaces.iter().rev() {
        if let Err(error) = interface.stop().await {
            eprintln!(
                "warning: the {} interface did not stop cleanly: {error}",
                interface.name()
            );
        }
    }
    tokio::select! {
        () = shell.shutdown(SHUTDOWN_GRACE) => {
            tracing::info!("stopped");
            Ok(())
        }
        signal = signals.next() => Err(anyhow::anyhow!(
            "{signal} during shutdown: stopped at once; unfinished jobs run again at the next start"
        )),
    }
}

/// Starts what a long-running brain runs besides its interfaces: the job workers (unless
/// `Workers::None`), an incremental notes index (so search answers from fresh notes), the
/// plugins' own parts.
pub(crate) async fn start_work(shell: &Shell, workers: Workers) -> anyhow::Result<()> {
    if workers == Workers::Run {
        shell
            .start_workers()
            .await
            .context("cannot start the workers")?;
    }
    if let Err(error) = shell.index_notes_in_background().await {
        eprintln!("warning: could not start indexing the notes: {error}");
    }
    for (plugin, error) in shell.start_plugins().await {
        eprintln!("warning: plugin {plugin:?} did not start, continuing without it: {error}");
    }
    Ok(())
}

/// SIGINT and SIGTERM (Ctrl-C elsewhere), registered when created.
pub(crate) struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    pub(crate) fn new() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {})
        }
    }

    /// Waits for the next signal; returns its name.
    pub(crate) async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => "interrupted",
                _ = self.terminate.recv() => "terminated",
            }
        }
        #[cfg(not(unix))]
        {
            match tokio::signal::ctrl_c().await {
                Ok(()) => "interrupted",
                // No way to be told to stop: run until killed.
                Err(_) => std::future::pending().await,
            }
        }
    }
}
