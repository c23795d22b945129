//! `brain matrix`: runs the Matrix bot configured in `[matrix]`, with the job workers (the
//! work its commands start runs in this process), until SIGINT or SIGTERM. Built with the
//! `matrix` feature; without it the command and a `[matrix]` section are refused (exit 2).

use std::sync::Arc;

use brain_core::Shell;
use brain_plugin_api::Interface;
use clap::Args;

use crate::commands::Brain;
use crate::exit;

/// `brain.toml`'s section for the bot.
const SECTION: &str = "matrix";

/// `brain matrix`'s options.
#[derive(Debug, Args)]
pub(crate) struct MatrixArgs {
    /// Run no job workers here, only the bot: a `brain start` beside it runs the work
    /// (until one does, the work waits for a worker)
    #[arg(long)]
    no_workers: bool,
}

pub(crate) async fn run(brain: &Brain, args: MatrixArgs) -> anyhow::Result<()> {
    if !cfg!(feature = "matrix") {
        return Err(without());
    }
    let workers = crate::commands::start::Workers::from_flag(args.no_workers);
    crate::commands::start::serve(brain, workers, |shell| {
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
    if shell.config().section(SECTION).is_none() {
        return Ok(None);
    }
    bot(shell).map(Some)
}

#[cfg(feature = "matrix")]
fn bot(shell: &Shell) -> anyhow::Result<Arc<dyn Interface>> {
    use brain_matrix::{MatrixConfig, MatrixInterface};
    let config = MatrixConfig::from_json(&shell.config().section_json(SECTION))
        // A configuration error (exit 2), like the shell's own sections'.
        .map_err(|error| exit::usage(format!("invalid configuration: {error}")))?;
    let bot = MatrixInterface::new(config, &shell.dirs().data);
    // Here, before the workers or anything else start: a second bot for this brain (`brain
    // start` beside `brain matrix`) stops with the first one's pid and nothing to undo.
    bot.claim()?;
    Ok(Arc::new(bot))
}

#[cfg(not(feature = "matrix"))]
fn bot(_shell: &Shell) -> anyhow::Result<Arc<dyn Interface>> {
    Err(without())
}

/// A binary built with `--no-default-features` (or a plugin's binary without `matrix`).
fn without() -> anyhow::Error {
    exit::usage(
        "this brain was built without the Matrix interface: [matrix] needs the `matrix` \
         cargo feature of the `brain` crate (on by default)",
    )
}
