//! `brain completions SHELL`: prints a completion script for bash, zsh, fish, PowerShell or
//! elvish, for the binary under the name it was called by (a custom binary such as
//! `brain-example` completes as itself).

use std::path::Path;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

pub(crate) fn run(shell: Shell) -> anyhow::Result<()> {
    let name = std::env::args_os()
        .next()
        .and_then(|arg0| {
            Path::new(&arg0)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "brain".to_owned());
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, name, &mut script);
    crate::output::line(String::from_utf8_lossy(&script).trim_end())
}
