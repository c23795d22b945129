//! One module per command. [`run`] resolves what every command shares — the brain directory,
//! the log level, the plugins — into a [`Brain`], then hands it to the command.
//!
//! Commands that only read or enqueue (`jobs`, a tool that starts no work, a plugin's
//! command or `tool` with `--detach`) open the shell without starting workers: the work
//! itself is done by a `brain start` running elsewhere on the same database. A plugin's
//! command (`brain site generate`) or a `brain tool` that starts work, without `--detach`,
//! runs its operation in this process.

pub(crate) mod chat;
mod completions;
mod config;
mod doctor;
mod init;
mod jobs;
pub(crate) mod matrix;
pub(crate) mod mcp;
pub(crate) mod plugin;
pub(crate) mod start;
mod tool;
pub(crate) mod web;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use brain_core::{Config, ConfigError, LogLevel, Shell};
use brain_plugin_api::Plugin;

use crate::cli::{Cli, Command};
use crate::exit::usage;
use crate::logging;

/// What every command knows: where the brain is, how loud to be, and the plugins this
/// binary was built with.
pub(crate) struct Brain {
    pub(crate) dir: PathBuf,
    /// Neither `--dir` nor `$BRAIN_DIR` named the brain and no folder from the current one
    /// up has a `brain.toml`: `dir` is the current folder, where `brain init` creates one.
    not_found: bool,
    pub(crate) log_level: Option<LogLevel>,
    /// Whether this command is a service whose log is its output, or a person's command.
    pub(crate) audience: logging::Audience,
    pub(crate) plugins: Vec<Arc<dyn Plugin>>,
}

impl Brain {
    /// Reads `brain.toml` with the environment's overrides.
    pub(crate) fn load_config(&self) -> anyhow::Result<Config> {
        Config::load(&self.dir).map_err(|error| match error {
            // Looked for in every folder up: say so, and where a new brain could go.
            ConfigError::Missing { .. } if self.not_found => usage(format!(
                "no brain.toml in {} or any folder above it: create a brain with \
                 `brain init <dir>`, or name one with --dir or BRAIN_DIR",
                std::env::current_dir().map_or_else(|_| ".".into(), |d| d.display().to_string())
            )),
            // Already says where it looked and to run `brain init`.
            ConfigError::Missing { .. } => anyhow::Error::new(error),
            other => anyhow::Error::new(other).context("invalid configuration"),
        })
    }

    /// Starts logging without a configuration (for commands that do not read one).
    pub(crate) fn init_logging(&self) -> anyhow::Result<()> {
        logging::init(self.log_level, None, self.audience)
    }

    /// Loads the configuration, starts logging as it says, and builds the shell with this
    /// binary's plugins. Starts nothing.
    pub(crate) async fn open_shell(&self) -> anyhow::Result<Shell> {
        let config = self.load_config()?;
        // The interfaces' sections too: a mistake in [mcp] stops `brain jobs list` as it
        // stops `brain mcp`, so it is found before it matters.
        if let Some(problem) = interface_problems(&config).into_iter().next() {
            return Err(usage(problem));
        }
        logging::init(self.log_level, Some(&config.logging), self.audience)?;
        let mut builder = Shell::builder(&self.dir).config(config);
        for plugin in &self.plugins {
            builder = builder.plugin_arc(plugin.clone());
        }
        builder
            .build()
            .await
            .with_context(|| format!("cannot open the brain in {}", self.dir.display()))
    }
}

/// The mistakes in the sections of the interfaces built into this binary (`[mcp]`,
/// `[matrix]`), checked by their own parsers.
pub(crate) fn interface_problems(config: &Config) -> Vec<String> {
    let problems: [Option<String>; 3] = [
        #[cfg(feature = "mcp")]
        brain_mcp::McpConfig::parse(&config.section_json("mcp"))
            .err()
            .map(|e| config.with_origins("mcp", e.to_string())),
        #[cfg(not(feature = "mcp"))]
        None,
        #[cfg(feature = "matrix")]
        config
            .section(brain_matrix::SECTION)
            .and_then(|_| {
                brain_matrix::MatrixConfig::from_json(&config.section_json(brain_matrix::SECTION))
                    .err()
            })
            .map(|e| config.with_origins(brain_matrix::SECTION, e.to_string())),
        #[cfg(not(feature = "matrix"))]
        None,
        #[cfg(feature = "web")]
        brain_web::WebConfig::parse(&config.section_json("web"))
            .err()
            .map(|e| config.with_origins("web", e.to_string())),
        #[cfg(not(feature = "web"))]
        None,
    ];
    let _ = config;
    problems.into_iter().flatten().collect()
}

/// Runs the parsed command line: a built-in command, or (`call`) a plugin's.
pub(crate) async fn run(
    cli: Cli,
    call: Option<plugin::PluginCall>,
    plugins: Vec<Arc<dyn Plugin>>,
) -> anyhow::Result<()> {
    // `brain init` makes a brain where it is told (or here), never in a brain above.
    let search = !matches!(cli.command, Some(Command::Init(_)));
    let (dir, not_found) = match brain_dir(cli.dir) {
        Some(dir) => (dir, false),
        None if search => match find_brain() {
            Some(dir) => (dir, false),
            None => (PathBuf::from("."), true),
        },
        None => (PathBuf::from("."), false),
    };
    let audience = match cli.command {
        Some(Command::Start | Command::Mcp(_) | Command::Matrix(_) | Command::Web(_)) => {
            logging::Audience::Service
        }
        _ => logging::Audience::Person,
    };
    let brain = Brain {
        dir,
        not_found,
        log_level: cli.log_level.map(LogLevel::from).or(match cli.verbose {
            0 => None,
            1 => Some(LogLevel::Info),
            2 => Some(LogLevel::Debug),
            _ => Some(LogLevel::Trace),
        }),
        audience,
        plugins,
    };
    if let Some(call) = call {
        return plugin::run(&brain, call).await;
    }
    let Some(command) = cli.command else {
        return chat::run_default(&brain).await;
    };
    match command {
        Command::Init(args) => init::run(&brain, args),
        Command::Start => start::run(&brain).await,
        Command::Chat(args) => chat::run(&brain, args).await,
        Command::Mcp(args) => mcp::run(&brain, args).await,
        Command::Matrix(args) => matrix::run(&brain, args).await,
        Command::Web(args) => web::run(&brain, args).await,
        Command::Jobs { command } => jobs::run(&brain, command).await,
        Command::Tool(args) => tool::run(&brain, args).await,
        Command::Config { command } => config::run(&brain, command),
        Command::Doctor => doctor::run(&brain).await,
        Command::Completions { shell } => completions::run(shell),
    }
}

/// `--dir`, else `$BRAIN_DIR` (kept as typed: messages then show the path as the person
/// wrote it); `None` when neither names one.
pub(crate) fn brain_dir(flag: Option<PathBuf>) -> Option<PathBuf> {
    match (flag, std::env::var_os("BRAIN_DIR")) {
        (Some(dir), _) => Some(dir),
        (None, Some(dir)) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => None,
    }
}

/// The nearest folder, from the current one up, with a `brain.toml` — found as git finds a
/// repository — as a relative path (`.`, `..`, `../..`).
pub(crate) fn find_brain() -> Option<PathBuf> {
    let here = std::env::current_dir().ok()?;
    here.ancestors()
        .position(|folder| folder.join(brain_core::CONFIG_FILE).is_file())
        .map(|up| match up {
            0 => PathBuf::from("."),
            up => std::iter::repeat_n("..", up).collect(),
        })
}
