//! `brain chat`, and `brain` alone on a terminal: the interactive shell of `brain-cli`
//! (slash commands with live bars, free text to the `query` tool), run with this process's
//! workers. On a terminal the logs go to a file (`[logging] file`, else `.brain/chat.log`):
//! a log line written under the live region would break it. Piped, it reads one command a
//! line; exit 1 if any failed, 130 after Ctrl-C.

use anyhow::Context;
use brain_core::Shell;
use clap::{Args, CommandFactory};

use crate::cli::Cli;
use crate::commands::Brain;
use crate::exit::{self, Reported};
use crate::logging;

/// `brain chat`'s options. Its help's commands are the shell's and this binary's plugins',
/// added where the command line is built (`commands::plugin::command_line`).
#[derive(Debug, Args)]
pub(crate) struct ChatArgs {}

pub(crate) async fn run(brain: &Brain, _args: ChatArgs) -> anyhow::Result<()> {
    let interactive = brain_cli::chat::interactive();
    let mut config = brain.load_config()?;
    let mut note = None;
    if interactive && config.logging.file.is_none() {
        let file = brain.dir.join(".brain").join("chat.log");
        note = Some(format!("Logs go to {}.", file.display()));
        config.logging.file = Some(file);
    }
    logging::init(brain.log_level, Some(&config.logging), brain.audience)?;
    let mut builder = Shell::builder(&brain.dir).config(config);
    for plugin in &brain.plugins {
        builder = builder.plugin_arc(plugin.clone());
    }
    let shell = builder
        .build()
        .await
        .with_context(|| format!("cannot open the brain in {}", brain.dir.display()))?;
    match brain_cli::chat::run(&shell, note.as_deref()).await? {
        0 => Ok(()),
        code => Err(Reported(code).into()),
    }
}

/// `brain` with no command: the interactive shell on a terminal; elsewhere (a pipe, a
/// script) the usage, as a usage error.
pub(crate) async fn run_default(brain: &Brain) -> anyhow::Result<()> {
    if brain_cli::chat::interactive() {
        return run(brain, ChatArgs {}).await;
    }
    eprintln!("{}", Cli::command().render_usage());
    Err(exit::usage(
        "no command given (run `brain --help`; `brain chat` on a terminal)",
    ))
}
