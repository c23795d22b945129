//! `brain config check`: validates `brain.toml` with the `BRAIN_*` overrides and prints the
//! effective configuration, secrets masked. It reads the file only — no database is opened,
//! so it works on a brain that another process is running, or on a copy of the file.

use brain_core::SHELL_SECTIONS;

use crate::cli::ConfigCommand;
use crate::commands::Brain;
use crate::output;

pub(crate) fn run(brain: &Brain, command: ConfigCommand) -> anyhow::Result<()> {
    match command {
        ConfigCommand::Check => check(brain),
    }
}

fn check(brain: &Brain) -> anyhow::Result<()> {
    let config = brain.load_config()?;
    let mut claimed: Vec<&str> = brain.plugins.iter().map(|p| p.config_section()).collect();
    claimed.extend_from_slice(SHELL_SECTIONS);
    // Not an error: the plugin that reads the section may simply not be in this binary yet.
    if let Err(error) = config.check_sections(&claimed) {
        eprintln!("warning: {error}: no plugin in this binary reads it");
    }
    output::line(config.to_masked_toml().trim_end())
}
