//! Why a brain's configuration was refused. Every variant carries what a person needs to fix
//! `brain.toml` (or the environment) without reading source: the file and position, or the
//! key, the value found and what would have been accepted.

use std::fmt;
use std::path::{Path, PathBuf};

/// A `brain.toml` (plus `BRAIN_*` overrides) that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The brain directory has no `brain.toml`; `path` is the file that was looked for.
    #[error("no brain.toml in {dir}; run `brain init {dir}` to create one", dir = DirOf(path))]
    Missing { path: PathBuf },

    /// `brain.toml` exists but could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    /// `brain.toml` is not valid TOML; `line` and `column` count from 1 (column in characters).
    #[error("{}:{line}:{column}: invalid TOML: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    /// A known key has a value of the wrong type or out of range. `key` is dotted
    /// (`queue.concurrency`) and says when the value came from the environment;
    /// `value` is the value as TOML (so a string shows its quotes).
    #[error("invalid value for `{key}`: {value} (allowed: {allowed})")]
    Invalid {
        key: String,
        value: String,
        allowed: String,
    },

    /// A key no one reads: inside a known section (`queue.concurency`) or, from
    /// `Config::unclaimed_sections`, a top-level section no plugin or interface claims.
    #[error("{}", brain_plugin_api::unknown_key(key, &allowed.split(", ").collect::<Vec<_>>()))]
    UnknownKey { key: String, allowed: String },

    /// A top-level section no one reads whose name is close to one that is read: a typo.
    #[error("unknown section [{name}]: did you mean [{suggestion}]?")]
    UnknownSection { name: String, suggestion: String },

    /// A `BRAIN_<SECTION>__<KEY>` variable that cannot be applied to the file.
    #[error("cannot apply environment variable {variable}: {message}")]
    Env { variable: String, message: String },
}

/// Shows the directory a missing `brain.toml` was looked for in, as the user would type it
/// to `brain init` (the file name itself is noise there).
struct DirOf<'a>(&'a Path);

impl fmt::Display for DirOf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => write!(f, "{}", dir.display()),
            // `brain.toml` given relative to the working directory.
            Some(_) => f.write_str("."),
            None => write!(f, "{}", self.0.display()),
        }
    }
}
