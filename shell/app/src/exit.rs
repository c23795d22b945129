//! Exit codes, decided from the error itself: 2 when the person has to fix how they called
//! the brain (arguments, `brain.toml`, the environment), 1 when the operation they asked for
//! failed. Commands just return `anyhow` errors with context; the kind is found by walking
//! the error's chain, so adding context never changes the exit code.

use std::fmt;

use brain_core::{ConfigError, QueueError, ShellError};
use brain_plugin_api::ToolError;

/// The operation failed: a tool, a job, the disk.
pub(crate) const FAILED: u8 = 1;
/// Usage or configuration error: fix the command line, `brain.toml` or the environment.
pub(crate) const USAGE: u8 = 2;

/// An outcome the command already explained on stdout/stderr (a failed operation's summary,
/// 130 after Ctrl-C): exit with `code` and print nothing more (a second "error: …" line would repeat the summary).
#[derive(Debug)]
pub(crate) struct Reported(pub(crate) u8);

impl fmt::Display for Reported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exit code {} (already reported)", self.0)
    }
}

impl std::error::Error for Reported {}

/// A mistake in how the brain was called that no other error type describes (bad `--args`
/// JSON, a bad `BRAIN_LOG_LEVEL`).
#[derive(Debug)]
pub(crate) struct UsageError(pub(crate) String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A usage error as an `anyhow` error.
pub(crate) fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(message.into()))
}

/// The exit code for `error`.
pub(crate) fn code_of(error: &anyhow::Error) -> u8 {
    for cause in error.chain() {
        if let Some(Reported(code)) = cause.downcast_ref::<Reported>() {
            return *code;
        }
        if cause.is::<UsageError>() || cause.is::<ConfigError>() {
            return USAGE;
        }
        // `ShellError::Config` is transparent: the `ConfigError` inside is not in the chain.
        if let Some(ShellError::Config(_) | ShellError::Ai(_) | ShellError::PluginConfig { .. }) =
            cause.downcast_ref::<ShellError>()
        {
            return USAGE;
        }
        // An id that names nothing is the caller's mistake, whichever command met it.
        if let Some(QueueError::NotFound { .. } | QueueError::Ambiguous { .. }) =
            cause.downcast_ref::<QueueError>()
        {
            return USAGE;
        }
        if let Some(tool) = cause.downcast_ref::<ToolError>() {
            return match tool {
                ToolError::NotFound { .. }
                | ToolError::InvalidInput { .. }
                | ToolError::PermissionDenied { .. } => USAGE,
                _ => FAILED,
            };
        }
    }
    FAILED
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;
    use brain_plugin_api::Permission;

    #[test]
    fn the_kind_decides_not_the_context() {
        fn check(error: anyhow::Error, expected: u8) {
            let error = Err::<(), _>(error).context("outer context").unwrap_err();
            assert_eq!(code_of(&error), expected, "{error:#}");
        }
        check(usage("bad --args"), USAGE);
        check(
            ConfigError::Missing {
                path: "x/brain.toml".into(),
            }
            .into(),
            USAGE,
        );
        check(
            ShellError::Config(ConfigError::Missing {
                path: "x/brain.toml".into(),
            })
            .into(),
            USAGE,
        );
        check(
            ShellError::DuplicatePlugin { id: "x".into() }.into(),
            FAILED,
        );
        check(ToolError::invalid("id", "bad").into(), USAGE);
        check(ToolError::NotFound { name: "x".into() }.into(), USAGE);
        check(
            ToolError::PermissionDenied {
                tool: "x".into(),
                required: Permission::Anchor,
                caller: Permission::Public,
            }
            .into(),
            USAGE,
        );
        check(ToolError::failed("boom").into(), FAILED);
        check(ToolError::Cancelled.into(), FAILED);
        check(anyhow::anyhow!("disk full"), FAILED);
        check(Reported(130).into(), 130);
        check(Reported(FAILED).into(), FAILED);
    }
}
