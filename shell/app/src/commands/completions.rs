//! `brain completions SHELL`: prints the script that registers the binary's completion in
//! bash, zsh, fish, PowerShell or elvish, under the name it was called by (a custom binary
//! such as `brain-example` completes as itself). The completion is dynamic: at each Tab
//! the shell asks the binary (`COMPLETE=<shell> brain -- …`), so a plugin's commands and
//! values — `--route <Tab>` offers the routes in brain.toml — are always current.

use std::path::Path;

use anyhow::Context;
use clap_complete::Shell;
use clap_complete::env::Shells;

pub(crate) fn run(shell: Shell) -> anyhow::Result<()> {
    let name = std::env::args_os()
        .next()
        .and_then(|arg0| {
            Path::new(&arg0)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "brain".to_owned());
    let completer = std::env::current_exe().context("cannot find this binary's path")?;
    let shells = Shells::builtins();
    let target = shells
        .completer(&shell.to_string())
        .with_context(|| format!("no dynamic completion for {shell}"))?;
    let mut script = Vec::new();
    target
        .write_registration(
            "COMPLETE",
            &name,
            &name,
            &completer.to_string_lossy(),
            &mut script,
        )
        .context("cannot write the completion script")?;
    crate::output::line(String::from_utf8_lossy(&script).trim_end())
}
