//! Logging: `tracing` events to stderr, or appended to `[logging] file` — never to stdout,
//! which carries results (and, for the MCP server, the protocol itself).
//!
//! The level comes from, in order: `--log-level` (or `-v`), `RUST_LOG` (a full `tracing`
//! filter, for people who want `brain_job_queue=trace`), `BRAIN_LOG_LEVEL`, `[logging]
//! level`, `info`. The last two are for services (`brain start`, `mcp`, `matrix`) and for a
//! log file: a command a person runs at a terminal writes no log lines to stderr unless
//! asked for one of the first three ways — its bars, messages and the one error line say
//! what happened, and a timestamped `INFO …` line under them is noise.

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Mutex;

use anyhow::Context;
use brain_core::{LogLevel, LoggingSection};
use tracing_subscriber::EnvFilter;

use crate::exit::usage;

/// Where the level was found, and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Directive {
    Level(LogLevel),
    /// `RUST_LOG`'s filter, verbatim.
    Filter(String),
    /// Nothing: a person's command with no level asked for, logging to stderr.
    Off,
}

/// Who reads what a command writes to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Audience {
    /// A long-running service (`brain start`, `mcp`, `matrix`): its log is its output.
    Service,
    /// A person at a terminal, or a script: log lines only when asked for.
    Person,
}

/// Picks the level by precedence. `rust_log` and `brain_log_level` are those variables'
/// values (None when unset); an empty value counts as unset, as shells make those easily.
/// `config` is `[logging] level` when the log goes where that section says: a file, or a
/// service's stderr; `None` for a person's stderr, which is then quiet.
pub(crate) fn directive(
    flag: Option<LogLevel>,
    rust_log: Option<&str>,
    brain_log_level: Option<&str>,
    config: Option<LogLevel>,
) -> anyhow::Result<Directive> {
    if let Some(level) = flag {
        return Ok(Directive::Level(level));
    }
    if let Some(filter) = rust_log.filter(|v| !v.trim().is_empty()) {
        return Ok(Directive::Filter(filter.to_owned()));
    }
    if let Some(value) = brain_log_level.filter(|v| !v.trim().is_empty()) {
        return value.parse().map(Directive::Level).map_err(|()| {
            usage(format!(
                "invalid BRAIN_LOG_LEVEL {value:?}: expected error, warn, info, debug or trace"
            ))
        });
    }
    Ok(config.map_or(Directive::Off, Directive::Level))
}

/// Installs the global subscriber. `config` is `[logging]` when the command read
/// `brain.toml` (`init` and `completions` do not).
pub(crate) fn init(
    flag: Option<LogLevel>,
    config: Option<&LoggingSection>,
    audience: Audience,
) -> anyhow::Result<()> {
    let rust_log = env_var("RUST_LOG")?;
    let brain_log_level = env_var("BRAIN_LOG_LEVEL")?;
    let to_file = config.is_some_and(|c| c.file.is_some());
    let configured = match (audience, to_file) {
        (Audience::Service, _) | (Audience::Person, true) => {
            Some(config.map(|c| c.level).unwrap_or_default())
        }
        (Audience::Person, false) => None,
    };
    let filter = match directive(
        flag,
        rust_log.as_deref(),
        brain_log_level.as_deref(),
        configured,
    )? {
        Directive::Level(level) => EnvFilter::new(level_filter(level)),
        Directive::Filter(filter) => EnvFilter::try_new(&filter)
            .map_err(|e| usage(format!("invalid RUST_LOG {filter:?}: {e}")))?,
        Directive::Off => EnvFilter::new("off"),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match config.and_then(|c| c.file.as_deref()) {
        Some(path) => builder.with_writer(Mutex::new(open_log(path)?)).try_init(),
        None => builder.try_init(),
    };
    // Only fails if a subscriber is already installed (a second call): keep the first.
    if let Err(error) = installed {
        tracing::debug!(%error, "logging was already set up");
    }
    Ok(())
}

/// Libraries whose own logging is far chattier than a person running a brain wants: the
/// Matrix SDK logs every sync (13 KB a minute for an idle bot, ~19 MB a day). A level
/// (`--log-level`, `BRAIN_LOG_LEVEL`, `[logging] level`) keeps them at `warn` at most;
/// `RUST_LOG` is used verbatim, so it is how to ask for their lines
/// (`RUST_LOG=info,matrix_sdk=debug`). Targets match by prefix: `matrix_sdk` covers
/// `matrix_sdk_base`, `matrix_sdk_crypto`, …, `ruma` covers `ruma_common`, ….
const QUIET_TARGETS: &[&str] = &["matrix_sdk", "ruma"];

/// Targets kept at `error`: matrix-sdk's key-backup code warns "no backup key was found" at
/// every sync of a client that keeps no key backup, which the bot deliberately does not
/// (`auto_enable_backups: false`) — 300 KB a day of one line.
const SILENT_TARGETS: &[&str] = &["matrix_sdk_crypto::backups"];

/// The filter for a level: the level, with [`QUIET_TARGETS`] at `warn` at most and
/// [`SILENT_TARGETS`] at `error`.
fn level_filter(level: LogLevel) -> String {
    let quiet = level.min(LogLevel::Warn).as_str();
    let mut filter = level.as_str().to_owned();
    for target in QUIET_TARGETS {
        filter.push_str(&format!(",{target}={quiet}"));
    }
    for target in SILENT_TARGETS {
        filter.push_str(&format!(",{target}=error"));
    }
    filter
}

fn open_log(path: &Path) -> anyhow::Result<std::fs::File> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| {
            format!(
                "cannot create the folder of the log file {} (logging.file)",
                path.display()
            )
        })?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open the log file {} (logging.file)", path.display()))
}

/// A variable's value; None when unset. A value that is not Unicode is refused rather than
/// ignored, so a person is not left wondering why it had no effect.
fn env_var(name: &str) -> anyhow::Result<Option<String>> {
    match std::env::var(name) {
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(usage(format!("{name} is not valid UTF-8"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_is_flag_rust_log_brain_log_level_config() {
        use LogLevel::*;
        /// (--log-level, RUST_LOG, BRAIN_LOG_LEVEL, [logging] level) => expected.
        fn check(
            flag: Option<LogLevel>,
            rust_log: Option<&str>,
            brain: Option<&str>,
            config: Option<LogLevel>,
            expected: Directive,
        ) {
            assert_eq!(
                directive(flag, rust_log, brain, config).unwrap(),
                expected,
                "{flag:?} {rust_log:?} {brain:?} {config:?}"
            );
        }
        let level = Directive::Level;
        check(
            Some(Trace),
            Some("warn"),
            Some("error"),
            Some(Debug),
            level(Trace),
        );
        check(
            None,
            Some("brain_core=debug"),
            Some("error"),
            Some(Debug),
            Directive::Filter("brain_core=debug".into()),
        );
        check(None, None, Some("ERROR"), Some(Debug), level(Error));
        check(None, Some(""), Some("warn"), Some(Debug), level(Warn));
        check(None, None, None, Some(Debug), level(Debug));
        check(None, None, Some(" "), Some(Info), level(Info));
        // A person's stderr: quiet unless asked.
        check(None, None, None, None, Directive::Off);
        check(None, Some(" "), Some(""), None, Directive::Off);
        check(Some(Info), None, None, None, level(Info));
        check(None, None, Some("debug"), None, level(Debug));
    }

    #[test]
    fn a_level_keeps_the_matrix_sdk_at_warn_at_most() {
        let backups = ",matrix_sdk_crypto::backups=error";
        assert_eq!(
            level_filter(LogLevel::Info),
            format!("info,matrix_sdk=warn,ruma=warn{backups}")
        );
        assert_eq!(
            level_filter(LogLevel::Trace),
            format!("trace,matrix_sdk=warn,ruma=warn{backups}")
        );
        assert_eq!(
            level_filter(LogLevel::Error),
            format!("error,matrix_sdk=error,ruma=error{backups}")
        );
        for level in LogLevel::ALL {
            assert!(EnvFilter::try_new(level_filter(level)).is_ok());
        }
    }

    #[test]
    fn a_bad_brain_log_level_is_a_usage_error() {
        let error = directive(None, None, Some("loud"), None).unwrap_err();
        assert!(error.to_string().contains("BRAIN_LOG_LEVEL"), "{error}");
        assert_eq!(crate::exit::code_of(&error), crate::exit::USAGE);
        // The flag wins, so the bad variable is never read.
        assert!(directive(Some(LogLevel::Info), None, Some("loud"), None).is_ok());
    }
}
