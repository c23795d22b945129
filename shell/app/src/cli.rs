//! The built-in command line, declared with clap's derive API. Each subcommand's arguments
//! live here and its behaviour in `commands/<name>.rs`, so a new built-in command (`mcp`,
//! `matrix`, `chat`) is one variant here and one module there. The plugins' commands
//! (`brain site …`) are not here: `commands/plugin.rs` derives them from the plugins'
//! declarations at start-up.

use std::path::PathBuf;

use brain_core::LogLevel;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// `brain --version`: "brain 0.1.0 (55f8a6c 2026-12-07)", the commit it was built from.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("BRAIN_GIT_COMMIT"),
    ")"
);

/// A personal brain: notes in a folder, plugins that turn them into things, and durable
/// background jobs for everything slow.
#[derive(Debug, Parser)]
#[command(
    name = "brain",
    version = VERSION,
    propagate_version = true,
    max_term_width = 100
)]
pub(crate) struct Cli {
    /// The brain directory (the folder with brain.toml) [default: $BRAIN_DIR, else the
    /// nearest folder from the current one up that has a brain.toml]
    #[arg(long, global = true, value_name = "DIR")]
    pub(crate) dir: Option<PathBuf>,

    /// How much to log (to stderr, or [logging] file) [default: $RUST_LOG, else
    /// $BRAIN_LOG_LEVEL; else, for `start`, `mcp`, `matrix` and a log file, [logging] level;
    /// else nothing]
    #[arg(long, global = true, value_name = "LEVEL", value_enum)]
    pub(crate) log_level: Option<LevelArg>,

    /// Log to stderr: -v info, -vv debug, -vvv trace (--log-level wins)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,

    /// Without a command, on a terminal: the interactive shell (`brain chat`).
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create a brain: brain.toml, example notes and a .gitignore (never overwrites a file)
    Init(InitArgs),
    /// Run the brain: workers for its jobs and its plugins, until Ctrl-C or SIGTERM
    Start,
    /// List, inspect and cancel jobs (run `brain start` elsewhere to work on them)
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// The interactive shell: slash commands with live progress, free text asks your notes
    Chat(crate::commands::chat::ChatArgs),
    /// Serve the brain to an MCP host (an LLM app) over stdio, or over HTTP with --http
    Mcp(crate::commands::mcp::McpArgs),
    /// Run the Matrix bot configured in [matrix], with the job workers
    Matrix(crate::commands::matrix::MatrixArgs),
    /// Serve the web dashboard (live operations, actions, /metrics), with the job workers
    Web(crate::commands::web::WebArgs),
    /// Run any tool as the brain's owner and print its result as JSON
    Tool(ToolArgs),
    /// Check a brain: configuration, database files, notes, workers, the model, MCP and
    /// Matrix settings — and say what is wrong and how to fix it (exit 1 if anything is)
    Doctor,
    /// Check the configuration
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Print a shell completion script: `source <(brain completions bash)`
    Completions {
        /// The shell to complete for
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// Where to create the brain (created if missing) [default: --dir, $BRAIN_DIR, else the
    /// current directory]
    // Its own id: `dir` is the global `--dir`, which must stay usable here too.
    #[arg(id = "target", value_name = "DIR")]
    pub(crate) target: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum JobsCommand {
    /// Jobs and batches, newest first: active ones, then recently finished (ids may be
    /// shortened to any unique start in every jobs command)
    List(ListArgs),
    /// The status of a job or batch: progress, estimate, result or errors
    Status {
        /// The job or batch id
        id: String,
        /// Print the structured result as JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// Follow a job or batch another brain process runs, with live progress, until it ends
    /// (Ctrl-C stops following; the work goes on)
    Watch {
        /// The job or batch id
        id: String,
        #[command(flatten)]
        view: ViewArgs,
    },
    /// Cancel a job or a whole batch: waiting jobs at once, running ones cooperatively
    Cancel {
        /// The job or batch id
        id: String,
        /// Print the structured result as JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// Queue a failed job again, or a batch's failed items, with a fresh set of attempts
    Retry {
        /// The job or batch id
        id: String,
        /// Print the structured result as JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// What a job (or each item of a batch) reported: queued, started, progress messages,
    /// each failed attempt's error, how it ended — oldest first
    Logs {
        /// The job or batch id
        id: String,
        /// Print the lines as a JSON array instead of text
        #[arg(long)]
        json: bool,
    },
}

/// How progress is shown.
#[derive(Debug, Args)]
pub(crate) struct ViewArgs {
    /// JSON lines on stdout: each progress notification, then the final status
    #[arg(long)]
    pub(crate) json: bool,
    /// No bars: plain lines on stderr (as when stderr is not a terminal)
    #[arg(long, short)]
    pub(crate) quiet: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Only pending and running work
    #[arg(long)]
    pub(crate) active: bool,
    /// Only jobs of this type, e.g. `site-builder:generate`
    #[arg(long = "type", value_name = "TYPE")]
    pub(crate) job_type: Option<String>,
    /// Only work started from this source, e.g. `cli` or `mcp:<session>`
    #[arg(long, value_name = "SOURCE")]
    pub(crate) source: Option<String>,
    /// Only work in this state
    #[arg(long, value_name = "STATE", value_parser = ["pending", "processing", "completed", "failed", "cancelled"])]
    pub(crate) status: Option<String>,
    /// Only work created since then: a time ago (30m, 2h, 7d) or a date and time
    /// (2026-12-07T09:00:00Z)
    #[arg(long, value_name = "WHEN")]
    pub(crate) since: Option<String>,
    /// At most this many entries (1-500) [default: 50]
    #[arg(long, value_name = "N")]
    pub(crate) limit: Option<u32>,
    /// Print the structured result as JSON instead of text
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ToolArgs {
    /// The tool's name, e.g. `jobs_list`; without one, the tools you may run are listed
    pub(crate) name: Option<String>,
    /// The tool's input, a JSON object
    #[arg(long, value_name = "JSON", default_value = "{}")]
    pub(crate) args: String,
    /// List the tools you may run (what `brain tool` alone does)
    #[arg(long, conflicts_with = "name")]
    pub(crate) list: bool,
    /// A tool that starts background work: only start it and print its handle (a worker
    /// such as `brain start` runs it), instead of running it here until it ends
    #[arg(long, conflicts_with = "list")]
    pub(crate) detach: bool,
    /// With --list: print the tools' declarations (schemas included) as JSON; while work
    /// runs: JSON lines (each progress notification, then the final status)
    #[arg(long)]
    pub(crate) json: bool,
    /// While work runs: no bars, plain lines on stderr
    #[arg(long, short, conflicts_with = "list")]
    pub(crate) quiet: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Validate brain.toml with the BRAIN_* overrides and print the effective configuration
    /// (secrets masked)
    Check,
}

/// `--log-level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LevelArg {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl From<LevelArg> for LogLevel {
    fn from(level: LevelArg) -> Self {
        match level {
            LevelArg::Error => LogLevel::Error,
            LevelArg::Warn => LogLevel::Warn,
            LevelArg::Info => LogLevel::Info,
            LevelArg::Debug => LogLevel::Debug,
            LevelArg::Trace => LogLevel::Trace,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_go_anywhere() {
        let cli = Cli::try_parse_from([
            "brain",
            "jobs",
            "list",
            "--dir",
            "x",
            "--log-level",
            "debug",
            "--type",
            "a:b",
            "-vv",
        ])
        .unwrap();
        assert_eq!(cli.dir, Some(PathBuf::from("x")));
        assert_eq!(cli.verbose, 2);
        assert_eq!(cli.log_level, Some(LevelArg::Debug));
        match cli.command {
            Some(Command::Jobs {
                command: JobsCommand::List(args),
            }) => assert_eq!(args.job_type.as_deref(), Some("a:b")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn init_takes_a_folder_or_the_global_dir() {
        let target = |args: &[&str]| match Cli::try_parse_from(args).unwrap() {
            Cli {
                dir,
                command: Some(Command::Init(init)),
                ..
            } => (dir, init.target),
            other => panic!("{other:?}"),
        };
        let path = |p: &str| Some(PathBuf::from(p));
        assert_eq!(target(&["brain", "init", "a"]), (None, path("a")));
        assert_eq!(target(&["brain", "--dir", "b", "init"]), (path("b"), None));
        assert_eq!(target(&["brain", "init", "--dir", "b"]), (path("b"), None));
        assert_eq!(
            target(&["brain", "init", "--dir", "b", "a"]),
            (path("b"), path("a"))
        );
    }

    #[test]
    fn usage_errors_are_clap_errors() {
        for args in [
            &["brain", "--log-level", "loud", "start"][..],
            &["brain", "jobs", "status"],
            &["brain", "completions", "tcsh"],
            &["brain", "tool", "--list", "--detach"],
        ] {
            let error = Cli::try_parse_from(args).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{args:?}");
        }
    }
}
