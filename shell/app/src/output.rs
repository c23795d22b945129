//! Writing results to stdout. Only results go there (stdout is a protocol for scripts and,
//! later, MCP over stdio); a closed pipe (`brain jobs list | head -1`) is not an error.

use std::io::Write;

use anyhow::Context;
use serde_json::Value;

/// Writes `text` and a newline to stdout.
pub(crate) fn line(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        // The reader has what it wanted; nothing is lost that anyone reads.
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(error) => Err(error).context("cannot write to stdout"),
    }
}

/// Writes `value` as pretty JSON to stdout.
pub(crate) fn json(value: &Value) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value).context("cannot format the result as JSON")?;
    line(&text)
}
