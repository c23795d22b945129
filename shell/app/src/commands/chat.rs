//! `brain chat`, and `brain` alone on a terminal: the interactive shell of `brain-cli`.

use clap::{Args, CommandFactory};

use crate::cli::Cli;
use crate::commands::Brain;
use crate::exit;

/// `brain chat`'s options.
#[derive(Debug, Args)]
pub(crate) struct ChatArgs {}

pub(crate) async fn run(_brain: &Brain, _args: ChatArgs) -> anyhow::Result<()> {
    anyhow::bail!("brain chat is not built yet")
}

/// `brain` with no command: the interactive shell on a terminal; elsewhere (a pipe, a
/// script) the usage, as a usage error.
pub(crate) async fn run_default(brain: &Brain) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
        return run(brain, ChatArgs {}).await;
    }
    eprintln!("{}", Cli::command().render_usage());
    Err(exit::usage(
        "no command given (run `brain --help`; `brain chat` on a terminal)",
    ))
}
