//! `brain config check`: validates `brain.toml` with the `BRAIN_*` overrides and prints the
//! effective configuration, secrets masked. It reads the file only — no database is opened,
//! so it works on a brain that another process is running, or on a copy of the file.

use brain_core::config_problems;

use super::interface_problems;

use crate::cli::ConfigCommand;
use crate::commands::Brain;
use crate::exit::{Reported, USAGE};
use crate::output;

pub(crate) fn run(brain: &Brain, command: ConfigCommand) -> anyhow::Result<()> {
    match command {
        ConfigCommand::Check => check(brain),
    }
}

/// Every section is checked by its owner — the shell's, the content generator's, each
/// plugin's, the interfaces' — and every mistake is listed, not only the first; any
/// mistake exits 2, as it would from any other command.
fn check(brain: &Brain) -> anyhow::Result<()> {
    let config = brain.load_config()?;
    let (problems, warnings) = config_problems(&config, &brain.dir, &brain.plugins);
    let mut problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
    problems.extend(interface_problems(&config));
    for warning in &warnings {
        // Not an error: the plugin that reads the section may not be in this binary yet.
        eprintln!("warning: {warning}: no plugin in this binary reads it");
    }
    if !problems.is_empty() {
        for problem in &problems {
            eprintln!("error: {problem}");
        }
        eprintln!(
            "{} mistake{} in {}",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" },
            brain.dir.join(brain_core::CONFIG_FILE).display()
        );
        return Err(anyhow::Error::new(Reported(USAGE)));
    }
    output::line(config.to_masked_toml().trim_end())
}
