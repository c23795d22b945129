//! The brain's configuration: `brain.toml` in the brain directory, with `BRAIN_*`
//! environment overrides applied on top, validated once at start so a bad value stops the
//! brain with a message naming the key, the value and what is allowed — instead of a
//! surprise hours later. `brain config check` prints [`Config::to_masked_toml`].
//!
//! The shell owns four sections (`[brain]`, `[queue]`, `[logging]`, `[permissions]`) and
//! validates them here, by hand rather than through serde: hand-written checks can say
//! "an integer from 1 to 256" and can name the environment variable a value came from,
//! which serde's messages cannot. Every other top-level table is kept as raw TOML in
//! [`Config::sections`] for the plugin or interface that claims it.
//!
//! # Environment overrides
//!
//! `BRAIN_<SECTION>__<KEY>` sets `<section>.<key>`; a double underscore separates levels
//! (`BRAIN_MCP__TOKENS__CI=...` sets `mcp.tokens.ci`), names are case-insensitive and are
//! matched to keys already in the file ignoring case and treating `_` like `-` (so
//! `BRAIN_SITE_BUILDER__TITLE` reaches `[site-builder]` when the file has that section; a key
//! the file lacks is created lower-case, with `_`). The value is read as a TOML value when it
//! parses as one (`8`, `true`, `["a","b"]`), otherwise as a string — except where a string is
//! expected (a known string setting, or a key that holds a string in the file), where it is
//! always the literal text, so `BRAIN_MATRIX__PASSWORD=123456` stays a string.
//!
//! Variables that start with `BRAIN_` but contain no `__` (`BRAIN_DIR`, `BRAIN_LOG`, ...) are
//! not overrides and are ignored, as are [`RESERVED_ENV`], which the `brain` binary reads
//! itself.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use brain_plugin_api::Permission;
use toml::{Table, Value};

pub(crate) use crate::error::ConfigError;

/// The configuration file's name inside the brain directory.
pub const CONFIG_FILE: &str = "brain.toml";

/// `BRAIN_*` variables the `brain` binary reads itself; never taken as overrides.
pub const RESERVED_ENV: &[&str] = &["BRAIN_DIR", "BRAIN_LOG_LEVEL"];

const ENV_PREFIX: &str = "BRAIN_";
const ENV_SEPARATOR: &str = "__";
const EMPTY_LEVEL: &str = "a level of the key is empty; separate levels with exactly two underscores, e.g. BRAIN_QUEUE__CONCURRENCY";

/// The sections this module validates; everything else goes to [`Config::sections`].
const KNOWN_SECTIONS: [&str; 4] = ["brain", "queue", "logging", "permissions"];

/// What a masked secret is shown as.
const MASK: &str = "********";

/// Key-name fragments (lower case, `-` read as `_`) that mark a value as secret.
const SECRET_FRAGMENTS: [&str; 5] = ["token", "password", "secret", "api_key", "access_token"];

const NAME_MAX_CHARS: usize = 100;

/// How long a shown bad value may get before it is cut, so an error stays one line.
const VALUE_SHOWN_MAX_CHARS: usize = 80;

/// The effective configuration of one brain.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub brain: BrainSection,
    pub queue: QueueSection,
    pub logging: LoggingSection,
    pub permissions: PermissionsSection,
    /// Every other top-level table, by name: plugin sections (`[site]`, `[plugins.x]`) and
    /// interface sections (`[mcp]`, `[matrix]`), validated by their owners.
    pub sections: BTreeMap<String, Value>,
    /// Which keys the environment set: dotted key (`matrix.homeserver`) → the variable
    /// (`BRAIN_MATRIX__HOMESERVER`), so an owner's error can say where a value came from.
    pub origins: BTreeMap<String, String>,
}

/// `[brain]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrainSection {
    /// Shown to people and agents. Defaults to the brain directory's name; non-empty,
    /// at most 100 characters.
    pub name: String,
}

/// `[queue]`: the job queue and its workers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSection {
    /// The PostgreSQL database that holds the queue, shared by brain processes on many
    /// hosts (`postgres://user[:password]@host[:port]/database`); `None`: the SQLite file
    /// `.brain/brain.db`.
    pub url: Option<String>,
    /// Jobs this process runs at once (1..=256, default 4).
    pub concurrency: usize,
    /// Days finished jobs are kept (1..=3650, default 7).
    pub retention_days: u32,
    /// Progress events published per second at most (1..=1000, default 10).
    pub max_events_per_second: u32,
    /// Seconds a claimed job stays leased without a heartbeat (2..=3600, default 30).
    pub lease_seconds: u32,
    /// Milliseconds an interface waits for work it started before it answers (0..=60000,
    /// default 1500): work done by then answers with its result, longer work with its
    /// handle.
    pub answer_within_ms: u32,
}

impl Default for QueueSection {
    fn default() -> Self {
        QueueSection {
            url: None,
            concurrency: 4,
            retention_days: 7,
            max_events_per_second: 10,
            lease_seconds: 30,
            answer_within_ms: 1500,
        }
    }
}

/// `[logging]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoggingSection {
    /// Default `info`.
    pub level: LogLevel,
    /// Where logs go, already joined to the brain directory (the file gives it relative to
    /// that directory, or absolute); `None` logs to stderr.
    pub file: Option<PathBuf>,
}

/// `logging.level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum LogLevel {
    Error,
    Warn,
    #[default]
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    pub const ALL: [LogLevel; 5] = [
        LogLevel::Error,
        LogLevel::Warn,
        LogLevel::Info,
        LogLevel::Debug,
        LogLevel::Trace,
    ];

    /// The name used in `brain.toml` (and understood by `tracing` filters).
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LogLevel {
    type Err = ();

    /// Case-insensitive, because `BRAIN_LOGGING__LEVEL=DEBUG` is how people write it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LogLevel::ALL
            .into_iter()
            .find(|level| level.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or(())
    }
}

/// `[permissions]`: who is who, by interface user id (e.g. `@me:example.org`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PermissionsSection {
    /// The brain's owners.
    pub anchor: Vec<String>,
    /// People the anchor trusts. An id may not be in both lists.
    pub trusted: Vec<String>,
}

impl Config {
    /// Reads `dir/brain.toml` and applies the process environment's `BRAIN_*` overrides.
    pub fn load(dir: &Path) -> Result<Config, ConfigError> {
        Config::load_with_env(dir, process_env()?)
    }

    /// Reads `dir/brain.toml` and applies the overrides among `env` (name, value) pairs.
    pub fn load_with_env(
        dir: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let path = dir.join(CONFIG_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ConfigError::Missing { path });
            }
            Err(source) => return Err(ConfigError::Io { path, source }),
        };
        Config::parse(&text, dir, env)
    }

    /// Parses `text` as the `brain.toml` of the brain in `dir` (which supplies the default
    /// name, the base of relative paths, and the path shown in syntax errors).
    pub fn parse(
        text: &str,
        dir: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut root =
            Table::from_str(text).map_err(|e| syntax_error(text, &dir.join(CONFIG_FILE), &e))?;
        let origins = apply_env(&mut root, env)?;
        Validator { origins: &origins }.config(root, dir)
    }

    /// A plugin or interface section by its key: a top-level name (`site`) or a dotted path
    /// into one (`plugins.x`).
    pub fn section(&self, key: &str) -> Option<&Value> {
        if let Some(value) = self.sections.get(key) {
            return Some(value);
        }
        let mut parts = key.split('.');
        let mut value = self.sections.get(parts.next()?)?;
        for part in parts {
            value = value.as_table()?.get(part)?;
        }
        Some(value)
    }

    /// `message`, an owner's error about section `section`, with the variables that set
    /// keys it names: "[matrix] homeserver: … (from BRAIN_MATRIX__HOMESERVER)". The shell's
    /// own sections say so themselves; plugins and interfaces read JSON without origins.
    pub fn with_origins(&self, section: &str, message: String) -> String {
        let prefix = format!("{section}.");
        let named: Vec<&str> = self
            .origins
            .iter()
            .filter(|(key, _)| key.starts_with(&prefix) || key.as_str() == section)
            .filter(|(key, _)| {
                let last = key.rsplit('.').next().unwrap_or(key);
                message.contains(last)
            })
            .map(|(_, variable)| variable.as_str())
            .collect();
        if named.is_empty() {
            message
        } else {
            format!("{message} (from {})", named.join(", "))
        }
    }

    /// [`Config::section`] as JSON, the form plugins read it in; `Null` when absent.
    pub fn section_json(&self, key: &str) -> serde_json::Value {
        self.section(key)
            .map_or(serde_json::Value::Null, toml_to_json)
    }

    /// Top-level sections nobody in `claimed` reads: `Err` for one whose name is close to a
    /// known one (a typo: `[queu]`, did you mean `[queue]`?), else the unknown-key errors
    /// to warn about (a plugin not in this binary may read them). A claim may be dotted
    /// (`plugins.x`): then `[plugins]` may hold only the claimed sub-tables.
    pub fn unclaimed_sections(&self, claimed: &[&str]) -> Result<Vec<ConfigError>, ConfigError> {
        let mut warnings = Vec::new();
        let known: Vec<&str> = KNOWN_SECTIONS.iter().chain(claimed).copied().collect();
        for (name, value) in &self.sections {
            let Err(error) = check_claimed(name, value, claimed) else {
                continue;
            };
            if !known.contains(&name.as_str())
                && let Some(suggestion) = brain_plugin_api::did_you_mean(name, &known)
            {
                return Err(ConfigError::UnknownSection {
                    name: name.clone(),
                    suggestion: suggestion.to_owned(),
                });
            }
            warnings.push(error);
        }
        Ok(warnings)
    }

    /// The permission level of an interface user id: in `anchor` => Anchor, in `trusted`
    /// => Trusted, anyone else => Public.
    pub fn permission_of(&self, user_id: &str) -> Permission {
        if self.permissions.anchor.iter().any(|id| id == user_id) {
            Permission::Anchor
        } else if self.permissions.trusted.iter().any(|id| id == user_id) {
            Permission::Trusted
        } else {
            Permission::Public
        }
    }

    /// The effective configuration (defaults filled in, overrides applied) as TOML, with the
    /// value of every key whose name contains `token`, `password`, `secret`, `api_key` or
    /// `access_token` (any case, any depth) replaced by `"********"`; a secret table or array
    /// keeps its shape with every value inside masked. The output parses back as TOML.
    pub fn to_masked_toml(&self) -> String {
        let mut parts: Vec<(String, Value)> = self
            .known_sections()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        parts.extend(self.sections.iter().map(|(k, v)| (k.clone(), v.clone())));
        // One document per section, joined: keeps the shell's sections first and in a fixed
        // order (a single `Table` would sort them among the plugin sections).
        let mut out = String::new();
        for (name, mut value) in parts {
            mask(&name, &mut value, false);
            let mut doc = Table::new();
            doc.insert(name.clone(), value);
            if !out.is_empty() {
                out.push('\n');
            }
            match toml::to_string(&doc) {
                Ok(text) => out.push_str(&text),
                // Not expected for values that came from TOML; say so rather than drop it.
                Err(e) => out.push_str(&format!("# [{name}] cannot be shown: {e}\n")),
            }
        }
        out
    }

    fn known_sections(&self) -> [(&'static str, Value); 4] {
        let strings =
            |ids: &[String]| Value::Array(ids.iter().cloned().map(Value::String).collect());
        let mut brain = Table::new();
        brain.insert("name".into(), Value::String(self.brain.name.clone()));
        let mut queue = Table::new();
        let q = &self.queue;
        if let Some(url) = &q.url {
            queue.insert("url".into(), Value::String(masked_url(url)));
        }
        // Bounded to 256 by validation; the fallback only keeps this total.
        queue.insert(
            "concurrency".into(),
            Value::Integer(i64::try_from(q.concurrency).unwrap_or(i64::MAX)),
        );
        queue.insert(
            "retention_days".into(),
            Value::Integer(q.retention_days.into()),
        );
        queue.insert(
            "max_events_per_second".into(),
            Value::Integer(q.max_events_per_second.into()),
        );
        queue.insert(
            "lease_seconds".into(),
            Value::Integer(q.lease_seconds.into()),
        );
        queue.insert(
            "answer_within_ms".into(),
            Value::Integer(q.answer_within_ms.into()),
        );
        let mut logging = Table::new();
        logging.insert(
            "level".into(),
            Value::String(self.logging.level.as_str().into()),
        );
        if let Some(file) = &self.logging.file {
            logging.insert(
                "file".into(),
                Value::String(file.to_string_lossy().into_owned()),
            );
        }
        let mut permissions = Table::new();
        permissions.insert("anchor".into(), strings(&self.permissions.anchor));
        permissions.insert("trusted".into(), strings(&self.permissions.trusted));
        [
            ("brain", Value::Table(brain)),
            ("queue", Value::Table(queue)),
            ("logging", Value::Table(logging)),
            ("permissions", Value::Table(permissions)),
        ]
    }
}

/// The process environment as (name, value) pairs. Not `std::env::vars()`, which panics on a
/// non-Unicode variable: unrelated ones are skipped, and an override that is not Unicode is
/// an error rather than silently ignored.
fn process_env() -> Result<Vec<(String, String)>, ConfigError> {
    let mut vars = Vec::new();
    for (name, value) in std::env::vars_os() {
        match (name.into_string(), value.into_string()) {
            (Ok(name), Ok(value)) => vars.push((name, value)),
            (Ok(name), Err(_)) if override_path(&name).is_some() => {
                return Err(ConfigError::Env {
                    variable: name,
                    message: "the value is not valid UTF-8".into(),
                });
            }
            _ => {}
        }
    }
    Ok(vars)
}

/// The lower-cased key path a variable overrides, or `None` if it is not an override.
fn override_path(name: &str) -> Option<Vec<String>> {
    let upper = name.to_ascii_uppercase();
    if !upper.starts_with(ENV_PREFIX) || RESERVED_ENV.contains(&upper.as_str()) {
        return None;
    }
    // The prefix is ASCII, and upper-casing ASCII keeps byte offsets, so this is a boundary.
    let rest = name.get(ENV_PREFIX.len()..)?;
    rest.contains(ENV_SEPARATOR).then(|| {
        rest.split(ENV_SEPARATOR)
            .map(str::to_ascii_lowercase)
            .collect()
    })
}

/// Applies the overrides among `env` to `root`, in variable-name order so the result does
/// not depend on the environment's order. Returns which variable set which dotted key.
fn apply_env(
    root: &mut Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut overrides: Vec<(String, Vec<String>, String)> = env
        .into_iter()
        .filter_map(|(name, value)| {
            let path = override_path(&name)?;
            Some((name, path, value))
        })
        .collect();
    overrides.sort();

    let mut origins = BTreeMap::new();
    let mut seen: BTreeMap<Vec<String>, String> = BTreeMap::new();
    for (variable, path, raw) in overrides {
        if path.iter().any(String::is_empty) {
            return Err(ConfigError::Env {
                variable,
                message: EMPTY_LEVEL.into(),
            });
        }
        // Only possible when names differ in case; which one should win is not knowable.
        if let Some(other) = seen.insert(path.clone(), variable.clone()) {
            return Err(ConfigError::Env {
                variable,
                message: format!("{other} sets the same key"),
            });
        }
        let key = apply_one(root, &variable, &path, &raw)?;
        origins.insert(key, variable);
    }
    Ok(origins)
}

/// Sets one override; returns the dotted key it set, spelled as in the file.
fn apply_one(
    root: &mut Table,
    variable: &str,
    path: &[String],
    raw: &str,
) -> Result<String, ConfigError> {
    let mut table = root;
    let mut resolved: Vec<String> = Vec::with_capacity(path.len());
    for (i, segment) in path.iter().enumerate() {
        let key = existing_key(table, segment).unwrap_or_else(|| segment.clone());
        resolved.push(key.clone());
        if i + 1 == path.len() {
            let value = env_value(raw, table.get(&key), &resolved);
            table.insert(key, value);
            break;
        }
        match table
            .entry(key)
            .or_insert_with(|| Value::Table(Table::new()))
        {
            Value::Table(inner) => table = inner,
            other => {
                return Err(ConfigError::Env {
                    variable: variable.to_owned(),
                    message: format!(
                        "`{}` is {} in brain.toml, not a table, so it has no key `{}`",
                        resolved.join("."),
                        type_phrase(other),
                        path[i + 1]
                    ),
                });
            }
        }
    }
    Ok(resolved.join("."))
}

/// The key of `table` a (lower-cased) variable segment means: exact, else ignoring case
/// with `_` matching `-` (environment names cannot contain `-`).
fn existing_key(table: &Table, segment: &str) -> Option<String> {
    if table.contains_key(segment) {
        return Some(segment.to_owned());
    }
    let wanted = segment.replace('-', "_");
    table
        .keys()
        .find(|k| k.to_ascii_lowercase().replace('-', "_") == wanted)
        .cloned()
}

/// An override's value: literal text where a string is expected, else TOML when it parses.
fn env_value(raw: &str, current: Option<&Value>, key: &[String]) -> Value {
    let known_string = matches!(
        key.iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice(),
        ["brain", "name"] | ["logging", "level"] | ["logging", "file"]
    );
    if known_string || matches!(current, Some(Value::String(_))) {
        return Value::String(raw.to_owned());
    }
    raw.parse::<Value>()
        .unwrap_or_else(|_| Value::String(raw.to_owned()))
}

/// Converts a TOML parse error to [`ConfigError::Syntax`] with a 1-based line and column.
fn syntax_error(text: &str, path: &Path, error: &toml::de::Error) -> ConfigError {
    let mut offset = error.span().map_or(0, |span| span.start).min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    ConfigError::Syntax {
        path: path.to_owned(),
        line,
        column,
        message: error.message().trim().to_owned(),
    }
}

/// Checks one section (or sub-table, at dotted `key`) against the claims.
fn check_claimed(key: &str, value: &Value, claimed: &[&str]) -> Result<(), ConfigError> {
    if claimed.contains(&key) {
        return Ok(());
    }
    let prefix = format!("{key}.");
    let children: Vec<&str> = claimed
        .iter()
        .copied()
        .filter(|c| c.starts_with(&prefix))
        .collect();
    match value {
        Value::Table(table) if !children.is_empty() => {
            for (child, value) in table {
                check_claimed(&format!("{prefix}{child}"), value, &children)?;
            }
            Ok(())
        }
        _ => {
            let mut allowed: Vec<&str> = if key.contains('.') {
                // Inside a claimed parent only its claimed children are relevant.
                claimed.to_vec()
            } else {
                KNOWN_SECTIONS
                    .iter()
                    .copied()
                    .chain(claimed.iter().copied())
                    .collect()
            };
            allowed.sort_unstable();
            allowed.dedup();
            Err(ConfigError::UnknownKey {
                key: key.to_owned(),
                allowed: allowed.join(", "),
            })
        }
    }
}

/// A database url with its password masked (`postgres://me:****@host/db`).
fn masked_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:{MASK}@{host}{path}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Masks `value` in place if it sits under a secret key (`inside_secret`) or `key` is one.
fn mask(key: &str, value: &mut Value, inside_secret: bool) {
    let secret = inside_secret || is_secret_key(key);
    match value {
        Value::Table(table) => {
            for (k, v) in table.iter_mut() {
                mask(k, v, secret);
            }
        }
        Value::Array(items) => {
            for item in items.iter_mut() {
                mask(key, item, secret);
            }
        }
        other if secret => *other = Value::String(MASK.into()),
        _ => {}
    }
}

fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase().replace('-', "_");
    SECRET_FRAGMENTS
        .iter()
        .any(|fragment| key.contains(fragment))
}

/// TOML to JSON by hand: serde would turn a datetime into a private marker object, where
/// plugins expect the RFC 3339 string; a non-finite float (no JSON form) becomes null.
fn toml_to_json(value: &Value) -> serde_json::Value {
    use serde_json::Value as Json;
    match value {
        Value::String(s) => Json::String(s.clone()),
        Value::Integer(i) => Json::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::Boolean(b) => Json::Bool(*b),
        Value::Datetime(d) => Json::String(d.to_string()),
        Value::Array(items) => Json::Array(items.iter().map(toml_to_json).collect()),
        Value::Table(table) => Json::Object(
            table
                .iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

/// "a string", "an integer", ... for messages about a value of the wrong kind.
fn type_phrase(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a datetime",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

/// A value as TOML for an error message, cut short if long.
fn shown(value: &Value) -> String {
    let text = match value {
        // `Display` of a table is a multi-line document; the inline form reads better here.
        Value::Table(table) => {
            let fields: Vec<String> = table
                .iter()
                .map(|(k, v)| format!("{k} = {}", shown(v)))
                .collect();
            format!("{{ {} }}", fields.join(", "))
        }
        other => other.to_string(),
    };
    if text.chars().count() > VALUE_SHOWN_MAX_CHARS {
        let cut: String = text.chars().take(VALUE_SHOWN_MAX_CHARS).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// Validates the shell's sections of a parsed (and overridden) `brain.toml`.
struct Validator<'a> {
    /// Dotted key => the variable that set it, for naming the source of a bad value.
    origins: &'a BTreeMap<String, String>,
}

impl Validator<'_> {
    fn config(&self, mut root: Table, dir: &Path) -> Result<Config, ConfigError> {
        let brain = self.section(&mut root, "brain", &["name"])?;
        let queue = self.section(
            &mut root,
            "queue",
            &[
                "url",
                "concurrency",
                "retention_days",
                "max_events_per_second",
                "lease_seconds",
                "answer_within_ms",
            ],
        )?;
        let logging = self.section(&mut root, "logging", &["level", "file"])?;
        let permissions = self.section(&mut root, "permissions", &["anchor", "trusted"])?;

        let brain = BrainSection {
            name: self.name(brain.get("name"), dir)?,
        };
        let defaults = QueueSection::default();
        let queue = QueueSection {
            url: self.queue_url(queue.get("url"))?,
            concurrency: self.integer(
                &queue,
                "queue",
                "concurrency",
                1..=256,
                defaults.concurrency,
            )?,
            retention_days: self.integer(
                &queue,
                "queue",
                "retention_days",
                1..=3650,
                defaults.retention_days,
            )?,
            max_events_per_second: self.integer(
                &queue,
                "queue",
                "max_events_per_second",
                1..=1000,
                defaults.max_events_per_second,
            )?,
            lease_seconds: self.integer(
                &queue,
                "queue",
                "lease_seconds",
                2..=3600,
                defaults.lease_seconds,
            )?,
            answer_within_ms: self.integer(
                &queue,
                "queue",
                "answer_within_ms",
                0..=60_000,
                defaults.answer_within_ms,
            )?,
        };
        let logging = LoggingSection {
            level: self.level(logging.get("level"))?,
            file: self.file(logging.get("file"), dir)?,
        };
        let permissions = self.permissions(&permissions)?;

        let mut sections = BTreeMap::new();
        for (name, value) in root {
            if !value.is_table() {
                return Err(self.invalid(
                    &name,
                    &value,
                    &format!(
                        "a table: top-level keys belong in a section, e.g. [{name}] or [plugins.x]"
                    ),
                ));
            }
            sections.insert(name, value);
        }
        Ok(Config {
            brain,
            queue,
            logging,
            permissions,
            sections,
            origins: self.origins.clone(),
        })
    }

    /// Takes `name` out of `root` as a table (empty if absent) whose keys are all in `fields`.
    fn section(&self, root: &mut Table, name: &str, fields: &[&str]) -> Result<Table, ConfigError> {
        let table = match root.remove(name) {
            None => return Ok(Table::new()),
            Some(Value::Table(table)) => table,
            Some(other) => {
                return Err(self.invalid(
                    name,
                    &other,
                    &format!("a table ([{name}]) with keys {}", fields.join(", ")),
                ));
            }
        };
        if let Some(unknown) = table.keys().find(|k| !fields.contains(&k.as_str())) {
            return Err(ConfigError::UnknownKey {
                key: self.label(&format!("{name}.{unknown}")),
                allowed: fields.join(", "),
            });
        }
        Ok(table)
    }

    fn integer<T: TryFrom<i64>>(
        &self,
        table: &Table,
        section: &str,
        field: &str,
        range: RangeInclusive<i64>,
        default: T,
    ) -> Result<T, ConfigError> {
        let Some(value) = table.get(field) else {
            return Ok(default);
        };
        let allowed = format!("an integer from {} to {}", range.start(), range.end());
        match value {
            Value::Integer(i) if range.contains(i) => {
                // Every range above fits its field's type; a failure would be a bad range here.
                T::try_from(*i)
                    .map_err(|_| self.invalid(&format!("{section}.{field}"), value, &allowed))
            }
            _ => Err(self.invalid(&format!("{section}.{field}"), value, &allowed)),
        }
    }

    fn name(&self, value: Option<&Value>, dir: &Path) -> Result<String, ConfigError> {
        let Some(value) = value else {
            return Ok(default_name(dir));
        };
        let allowed = format!(
            "a non-empty string of at most {NAME_MAX_CHARS} characters, without control characters"
        );
        match value {
            Value::String(name)
                if !name.trim().is_empty()
                    && name.chars().count() <= NAME_MAX_CHARS
                    && !name.chars().any(char::is_control) =>
            {
                Ok(name.clone())
            }
            _ => Err(self.invalid("brain.name", value, &allowed)),
        }
    }

    fn level(&self, value: Option<&Value>) -> Result<LogLevel, ConfigError> {
        let Some(value) = value else {
            return Ok(LogLevel::default());
        };
        value.as_str().and_then(|s| s.parse().ok()).ok_or_else(|| {
            let names: Vec<&str> = LogLevel::ALL.iter().map(|l| l.as_str()).collect();
            self.invalid(
                "logging.level",
                value,
                &format!("one of {}", names.join(", ")),
            )
        })
    }

    fn queue_url(&self, value: Option<&Value>) -> Result<Option<String>, ConfigError> {
        let Some(value) = value else { return Ok(None) };
        match value.as_str() {
            Some(url)
                if (url.starts_with("postgres://") || url.starts_with("postgresql://"))
                    && url.len() > "postgresql://".len() =>
            {
                Ok(Some(url.to_owned()))
            }
            _ => Err(self.invalid(
                "queue.url",
                value,
                "a PostgreSQL url (postgres://user[:password]@host[:port]/database); leave it out \
                 to keep the queue in .brain/brain.db",
            )),
        }
    }

    fn file(&self, value: Option<&Value>, dir: &Path) -> Result<Option<PathBuf>, ConfigError> {
        let Some(value) = value else { return Ok(None) };
        match value.as_str() {
            // Logging into the brain's own files would corrupt them.
            Some(file) if is_brain_file(&dir.join(file), dir) => Err(self.invalid(
                "logging.file",
                value,
                "a file that is not brain.toml or one of the brain's databases in .brain/ \
                 (e.g. \".brain/brain.log\")",
            )),
            Some(file) if !file.trim().is_empty() => Ok(Some(dir.join(file))),
            _ => Err(self.invalid(
                "logging.file",
                value,
                "a file path (relative to the brain directory, or absolute); leave it out to log to stderr",
            )),
        }
    }

    fn permissions(&self, table: &Table) -> Result<PermissionsSection, ConfigError> {
        let anchor = self.ids(table, "anchor")?;
        let trusted = self.ids(table, "trusted")?;
        if let Some(both) = trusted.iter().find(|id| anchor.contains(id)) {
            return Err(self.invalid(
                "permissions.trusted",
                &Value::String(both.clone()),
                "ids that are not also in permissions.anchor (an anchor already has every permission)",
            ));
        }
        Ok(PermissionsSection { anchor, trusted })
    }

    fn ids(&self, table: &Table, field: &str) -> Result<Vec<String>, ConfigError> {
        let Some(value) = table.get(field) else {
            return Ok(Vec::new());
        };
        let key = format!("permissions.{field}");
        let allowed = "an array of user ids, e.g. [\"@me:example.org\"]";
        let Value::Array(items) = value else {
            return Err(self.invalid(&key, value, allowed));
        };
        items
            .iter()
            .map(|item| match item {
                Value::String(id) if !id.is_empty() && !id.chars().any(char::is_whitespace) => {
                    Ok(id.clone())
                }
                _ => Err(self.invalid(
                    &key,
                    item,
                    "user ids: non-empty strings without spaces, e.g. \"@me:example.org\"",
                )),
            })
            .collect()
    }

    fn invalid(&self, key: &str, value: &Value, allowed: &str) -> ConfigError {
        ConfigError::Invalid {
            key: self.label(key),
            value: shown(value),
            allowed: allowed.to_owned(),
        }
    }

    /// `key`, plus the variable that set it, a table containing it, or (when an override
    /// turned `key` into a table) a key inside it.
    fn label(&self, key: &str) -> String {
        let mut candidate = key;
        let variable = loop {
            if let Some(variable) = self.origins.get(candidate) {
                break Some(variable);
            }
            match candidate.rfind('.') {
                Some(dot) => candidate = &candidate[..dot],
                None => {
                    let inside = format!("{key}.");
                    break self
                        .origins
                        .iter()
                        .find(|(k, _)| k.starts_with(&inside))
                        .map(|(_, v)| v);
                }
            }
        };
        match variable {
            Some(variable) => format!("{key} (from {variable})"),
            None => key.to_owned(),
        }
    }
}

/// The brain directory's name, for `brain.name`. `.` and `/` have no file name, so the
/// canonical path is tried; a name too long for `brain.name` is cut so the default is valid.
fn default_name(dir: &Path) -> String {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .or_else(|| {
            dir.canonicalize()
                .ok()?
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "brain".to_owned());
    name.chars().take(NAME_MAX_CHARS).collect()
}

/// Whether `path` is one of the files the brain itself keeps: `brain.toml`, or a database
/// (or its journal) in `.brain/`.
fn is_brain_file(path: &Path, dir: &Path) -> bool {
    let normal: PathBuf = path.components().collect();
    let dir: PathBuf = dir.components().collect();
    if normal == dir.join(CONFIG_FILE) {
        return true;
    }
    let name = normal
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    normal.parent() == Some(dir.join(".brain").as_path())
        && [".db", ".db-wal", ".db-shm", ".db-journal"]
            .iter()
            .any(|ext| name.ends_with(ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIR: &str = "/brains/notes";

    /// An environment for a table-driven case.
    type Vars<'a> = &'a [(&'a str, &'a str)];

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// Parses `text` as the brain.toml of `/brains/notes` with the given environment.
    fn check(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new(DIR), env(vars))
    }

    fn ok(text: &str, vars: &[(&str, &str)]) -> Config {
        match check(text, vars) {
            Ok(config) => config,
            Err(e) => panic!("{text:?} {vars:?}: {e}"),
        }
    }

    #[test]
    fn empty_file_gives_defaults() {
        let config = ok("", &[]);
        assert_eq!(config.brain.name, "notes");
        assert_eq!(
            config.queue,
            QueueSection {
                url: None,
                concurrency: 4,
                retention_days: 7,
                max_events_per_second: 10,
                lease_seconds: 30,
                answer_within_ms: 1500
            }
        );
        assert_eq!(
            config.logging,
            LoggingSection {
                level: LogLevel::Info,
                file: None
            }
        );
        assert_eq!(config.permissions, PermissionsSection::default());
        assert!(config.sections.is_empty());
    }

    #[test]
    fn full_file_is_read() {
        let config = ok(
            r#"
            [brain]
            name = "Work brain"
            [queue]
            url = "postgres://brain:s3cret@db.example:5433/brains"
            concurrency = 8
            retention_days = 30
            max_events_per_second = 100
            lease_seconds = 2
            answer_within_ms = 0
            [logging]
            level = "DEBUG"
            file = "logs/brain.log"
            [permissions]
            anchor = ["@me:example.org"]
            trusted = ["@friend:example.org"]
            [site]
            title = "Notes"
            [plugins.x]
            on = true
            "#,
            &[],
        );
        assert_eq!(config.brain.name, "Work brain");
        assert_eq!(
            config.queue,
            QueueSection {
                url: Some("postgres://brain:s3cret@db.example:5433/brains".into()),
                concurrency: 8,
                retention_days: 30,
                max_events_per_second: 100,
                lease_seconds: 2,
                answer_within_ms: 0
            }
        );
        assert_eq!(config.logging.level, LogLevel::Debug);
        assert_eq!(
            config.logging.file,
            Some(PathBuf::from("/brains/notes/logs/brain.log"))
        );
        assert_eq!(
            config
                .section("site")
                .and_then(|s| s.get("title"))
                .and_then(Value::as_str),
            Some("Notes")
        );
        assert_eq!(
            config.section_json("plugins.x"),
            serde_json::json!({ "on": true })
        );
        assert_eq!(config.section_json("nothing"), serde_json::Value::Null);
        assert_eq!(config.section_json("plugins.y"), serde_json::Value::Null);
    }

    #[test]
    fn default_name_of_odd_directories() {
        assert_eq!(default_name(Path::new("/")), "brain");
        assert_eq!(
            default_name(Path::new(&"x".repeat(150))).chars().count(),
            NAME_MAX_CHARS
        );
        assert!(!default_name(Path::new(".")).is_empty());
    }

    #[test]
    fn invalid_values_name_key_value_and_allowed() {
        // (brain.toml, environment, key, value, allowed contains)
        let long = format!("[brain]\nname = \"{}\"", "n".repeat(101));
        let cases: &[(&str, Vars, &str, &str, &str)] = &[
            (
                "[queue]\nconcurrency = 0",
                &[],
                "queue.concurrency",
                "0",
                "an integer from 1 to 256",
            ),
            (
                "[queue]\nconcurrency = 257",
                &[],
                "queue.concurrency",
                "257",
                "an integer from 1 to 256",
            ),
            (
                "[queue]\nconcurrency = \"8\"",
                &[],
                "queue.concurrency",
                "\"8\"",
                "an integer from 1 to 256",
            ),
            (
                "[queue]\nconcurrency = 4.0",
                &[],
                "queue.concurrency",
                "4.0",
                "an integer from 1 to 256",
            ),
            (
                "[queue]\nretention_days = 0",
                &[],
                "queue.retention_days",
                "0",
                "an integer from 1 to 3650",
            ),
            (
                "[queue]\nretention_days = 3651",
                &[],
                "queue.retention_days",
                "3651",
                "an integer from 1 to 3650",
            ),
            (
                "[queue]\nmax_events_per_second = 1001",
                &[],
                "queue.max_events_per_second",
                "1001",
                "an integer from 1 to 1000",
            ),
            (
                "[queue]\nurl = \"mysql://x@y/z\"",
                &[],
                "queue.url",
                "\"mysql://x@y/z\"",
                "a PostgreSQL url (postgres://user[:password]@host[:port]/database)",
            ),
            (
                "[queue]\nurl = 5",
                &[],
                "queue.url",
                "5",
                "a PostgreSQL url",
            ),
            (
                "[queue]\nlease_seconds = 1",
                &[],
                "queue.lease_seconds",
                "1",
                "an integer from 2 to 3600",
            ),
            (
                "[queue]\nlease_seconds = -5",
                &[],
                "queue.lease_seconds",
                "-5",
                "an integer from 2 to 3600",
            ),
            (
                "[logging]\nlevel = \"loud\"",
                &[],
                "logging.level",
                "\"loud\"",
                "one of error, warn, info, debug, trace",
            ),
            (
                "[logging]\nlevel = 3",
                &[],
                "logging.level",
                "3",
                "one of error, warn, info, debug, trace",
            ),
            (
                "[logging]\nfile = \"\"",
                &[],
                "logging.file",
                "\"\"",
                "a file path",
            ),
            (
                "[logging]\nfile = \"brain.toml\"",
                &[],
                "logging.file",
                "\"brain.toml\"",
                "not brain.toml or one of the brain's databases",
            ),
            (
                "[logging]\nfile = \"./.brain/brain.db\"",
                &[],
                "logging.file",
                "\"./.brain/brain.db\"",
                "not brain.toml or one of the brain's databases",
            ),
            (
                "[brain]\nname = \"\"",
                &[],
                "brain.name",
                "\"\"",
                "a non-empty string of at most 100 characters",
            ),
            (
                "[brain]\nname = \"  \"",
                &[],
                "brain.name",
                "\"  \"",
                "a non-empty string",
            ),
            (
                &long,
                &[],
                "brain.name",
                &format!("\"{}…", "n".repeat(79)),
                "at most 100 characters",
            ),
            (
                "[permissions]\nanchor = \"@me:x\"",
                &[],
                "permissions.anchor",
                "\"@me:x\"",
                "an array of user ids",
            ),
            (
                "[permissions]\ntrusted = [1]",
                &[],
                "permissions.trusted",
                "1",
                "user ids",
            ),
            (
                "[permissions]\nanchor = [\"@me:x\"]\ntrusted = [\"@you:x\", \"@me:x\"]",
                &[],
                "permissions.trusted",
                "\"@me:x\"",
                "not also in permissions.anchor",
            ),
            ("queue = 3", &[], "queue", "3", "a table ([queue])"),
            (
                "title = \"x\"",
                &[],
                "title",
                "\"x\"",
                "top-level keys belong in a section",
            ),
            (
                "",
                &[("BRAIN_QUEUE__CONCURRENCY", "0")],
                "queue.concurrency (from BRAIN_QUEUE__CONCURRENCY)",
                "0",
                "an integer from 1 to 256",
            ),
            (
                "",
                &[("BRAIN_QUEUE__CONCURRENCY", "many")],
                "queue.concurrency (from BRAIN_QUEUE__CONCURRENCY)",
                "\"many\"",
                "1 to 256",
            ),
            (
                "",
                &[("BRAIN_LOGGING__LEVEL", "7")],
                "logging.level (from BRAIN_LOGGING__LEVEL)",
                "\"7\"",
                "one of error",
            ),
            (
                "",
                &[("BRAIN_QUEUE__CONCURRENCY__X", "1")],
                "queue.concurrency (from BRAIN_QUEUE__CONCURRENCY__X)",
                "{ x = 1 }",
                "1 to 256",
            ),
        ];
        for (text, vars, key, value, allowed) in cases {
            match check(text, vars) {
                Err(ConfigError::Invalid {
                    key: k,
                    value: v,
                    allowed: a,
                }) => {
                    assert_eq!(
                        (k.as_str(), v.as_str()),
                        (*key, *value),
                        "{text:?} {vars:?}"
                    );
                    assert!(
                        a.contains(allowed),
                        "{text:?}: allowed {a:?} lacks {allowed:?}"
                    );
                }
                other => panic!("{text:?} {vars:?}: expected Invalid, got {other:?}"),
            }
        }
    }

    #[test]
    fn invalid_display_reads_well() {
        let error = check("[queue]\nconcurrency = 0", &[]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid value for `queue.concurrency`: 0 (allowed: an integer from 1 to 256)"
        );
    }

    #[test]
    fn unknown_keys_in_known_sections() {
        // (brain.toml, environment, key, allowed)
        let cases: &[(&str, Vars, &str, &str)] = &[
            (
                "[queue]\nconcurency = 8",
                &[],
                "queue.concurency",
                "concurrency, retention_days, max_events_per_second, lease_seconds",
            ),
            ("[brain]\ntitle = \"x\"", &[], "brain.title", "name"),
            (
                "[logging]\nlevl = \"x\"",
                &[],
                "logging.levl",
                "level, file",
            ),
            (
                "[permissions]\nowner = []",
                &[],
                "permissions.owner",
                "anchor, trusted",
            ),
            (
                "",
                &[("BRAIN_QUEUE__CONCURENCY", "8")],
                "queue.concurency (from BRAIN_QUEUE__CONCURENCY)",
                "concurrency",
            ),
        ];
        for (text, vars, key, allowed) in cases {
            match check(text, vars) {
                Err(ConfigError::UnknownKey { key: k, allowed: a }) => {
                    assert_eq!(k, *key, "{text:?}");
                    assert!(a.contains(allowed), "{text:?}: {a:?}");
                }
                other => panic!("{text:?}: expected UnknownKey, got {other:?}"),
            }
        }
        let error = check("[queue]\nconcurency = 8", &[]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown key `queue.concurency`: did you mean `concurrency`? (allowed: url, concurrency, retention_days, max_events_per_second, lease_seconds, answer_within_ms)"
        );
    }

    #[test]
    fn a_section_close_to_a_known_one_is_a_typo() {
        let config = ok("[queu]\nconcurrency = 2\n[my-plugin]\nx = 1\n", &[]);
        let error = config.unclaimed_sections(&["site", "ai"]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown section [queu]: did you mean [queue]?"
        );
        let config = ok("[my-plugin]\nx = 1\n[sitee]\n", &[]);
        assert!(matches!(
            config.unclaimed_sections(&["site"]),
            Err(ConfigError::UnknownSection { suggestion, .. }) if suggestion == "site"
        ));
        // Far from everything: perhaps a plugin not in this binary; a warning.
        let warnings = ok("[my-plugin]\nx = 1\n", &[])
            .unclaimed_sections(&["site"])
            .unwrap();
        assert_eq!(warnings.len(), 1);
        assert_eq!(
            brain_plugin_api::did_you_mean("logging", &["logging"]),
            Some("logging")
        );
        assert_eq!(
            brain_plugin_api::did_you_mean("permisions", &["permissions", "queue"]),
            Some("permissions")
        );
        assert_eq!(brain_plugin_api::did_you_mean("ab", &["queue"]), None);
    }

    #[test]
    fn unclaimed_sections_are_typos_or_warnings() {
        let config = ok(
            "[site]\ntitle = \"x\"\n[sitee]\n[mcp]\n[plugins.x]\na = 1\n[plugins.y]\n",
            &[],
        );
        // (claimed, the unknown key warned about, or None)
        let cases: &[(&[&str], Option<&str>)] = &[
            (&["site", "sitee", "mcp", "plugins"], None),
            (
                &["site", "sitee", "mcp", "plugins.x", "plugins.y", "matrix"],
                None,
            ),
            (&["site", "sitee", "plugins"], Some("mcp")),
            (&["site", "sitee", "mcp", "plugins.x"], Some("plugins.y")),
            (&["site", "sitee", "mcp", "plugins.x.a"], Some("plugins.y")),
        ];
        for (claimed, unknown) in cases {
            let warnings = config.unclaimed_sections(claimed).unwrap();
            match (warnings.as_slice(), unknown) {
                ([], None) => {}
                ([ConfigError::UnknownKey { key, allowed }], Some(unknown)) => {
                    assert_eq!(key, *unknown, "{claimed:?}");
                    // A nested unknown lists the claims under its parent; a top-level one all.
                    let parent = unknown.rsplit_once('.').map(|(p, _)| format!("{p}."));
                    for claim in claimed
                        .iter()
                        .filter(|c| parent.as_ref().is_none_or(|p| c.starts_with(p.as_str())))
                    {
                        assert!(allowed.contains(claim), "{claimed:?}: {allowed}");
                    }
                }
                (result, _) => panic!("{claimed:?}: unexpected {result:?}"),
            }
        }
        // `sitee` beside a claimed `site` is a typo, not a plugin to come.
        let error = config
            .unclaimed_sections(&["site", "mcp", "plugins"])
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown section [sitee]: did you mean [site]?"
        );
    }

    #[test]
    fn env_overrides_apply() {
        let text = "[matrix]\npassword = \"file\"\n[site-builder]\ntitle = \"old\"\n";
        let config = ok(
            text,
            &[
                ("BRAIN_QUEUE__CONCURRENCY", "8"),
                ("brain_logging__level", "debug"),
                ("BRAIN_BRAIN__NAME", "2024"),
                ("BRAIN_PERMISSIONS__ANCHOR", r#"["@a:x","@b:x"]"#),
                ("BRAIN_MATRIX__PASSWORD", "123456"),
                ("BRAIN_MCP__TOKENS__CI", "t0k"),
                ("BRAIN_SITE_BUILDER__TITLE", "new"),
                ("BRAIN_SITE__DRAFTS", "true"),
                ("BRAIN_DIR", "/elsewhere"),
                ("BRAIN_LOG_LEVEL", "trace"),
                ("BRAIN_LOG", "x"),
                ("HOME", "/root"),
            ],
        );
        assert_eq!(config.queue.concurrency, 8);
        assert_eq!(config.logging.level, LogLevel::Debug);
        assert_eq!(config.brain.name, "2024");
        assert_eq!(config.permissions.anchor, ["@a:x", "@b:x"]);
        assert_eq!(
            config.section_json("matrix"),
            serde_json::json!({ "password": "123456" })
        );
        assert_eq!(
            config.section_json("mcp"),
            serde_json::json!({ "tokens": { "ci": "t0k" } })
        );
        assert_eq!(
            config.section_json("site-builder"),
            serde_json::json!({ "title": "new" })
        );
        assert_eq!(
            config.section_json("site"),
            serde_json::json!({ "drafts": true })
        );
        // BRAIN_DIR and friends created nothing.
        assert_eq!(
            config.sections.keys().collect::<Vec<_>>(),
            ["matrix", "mcp", "site", "site-builder"]
        );
    }

    #[test]
    fn env_values_that_cannot_apply() {
        // (brain.toml, environment, variable, message contains)
        let cases: &[(&str, Vars, &str, &str)] = &[
            (
                "[queue]\nconcurrency = 4",
                &[("BRAIN_QUEUE__CONCURRENCY__X", "1")],
                "BRAIN_QUEUE__CONCURRENCY__X",
                "not a table",
            ),
            ("", &[("BRAIN_QUEUE__", "1")], "BRAIN_QUEUE__", "empty"),
            ("", &[("BRAIN___QUEUE", "1")], "BRAIN___QUEUE", "empty"),
            (
                "",
                &[
                    ("BRAIN_QUEUE__CONCURRENCY", "2"),
                    ("brain_queue__concurrency", "3"),
                ],
                "brain_queue__concurrency",
                "BRAIN_QUEUE__CONCURRENCY",
            ),
        ];
        for (text, vars, variable, message) in cases {
            match check(text, vars) {
                Err(ConfigError::Env {
                    variable: v,
                    message: m,
                }) => {
                    assert_eq!(v, *variable, "{vars:?}");
                    assert!(m.contains(message), "{vars:?}: {m}");
                }
                other => panic!("{vars:?}: expected Env, got {other:?}"),
            }
        }
    }

    #[test]
    fn env_value_parsing() {
        let key = |k: &str| k.split('.').map(str::to_owned).collect::<Vec<_>>();
        let cases: &[(&str, Option<Value>, &str, Value)] = &[
            ("8", None, "site.n", Value::Integer(8)),
            ("true", None, "site.n", Value::Boolean(true)),
            ("1.5", None, "site.n", Value::Float(1.5)),
            (
                "hello world",
                None,
                "site.n",
                Value::String("hello world".into()),
            ),
            ("\"quoted\"", None, "site.n", Value::String("quoted".into())),
            ("1\nw = 2", None, "site.n", Value::String("1\nw = 2".into())),
            (
                "8",
                Some(Value::String("x".into())),
                "site.n",
                Value::String("8".into()),
            ),
            ("8", None, "brain.name", Value::String("8".into())),
            (
                r#"["a", "b"]"#,
                None,
                "site.n",
                Value::Array(vec![Value::String("a".into()), Value::String("b".into())]),
            ),
        ];
        for (raw, current, k, expected) in cases {
            assert_eq!(
                env_value(raw, current.as_ref(), &key(k)),
                *expected,
                "{raw:?}"
            );
        }
    }

    #[test]
    fn syntax_errors_have_positions() {
        // (brain.toml, line, column)
        let cases: &[(&str, usize, usize)] = &[
            ("[queue]\nconcurrency = = 4\n", 2, 15),
            // The span is the repeated table's name.
            ("# ok\n[queue]\n\n[queue]\n", 4, 2),
            ("name = \"é\" x\n", 1, 12),
        ];
        for (text, line, column) in cases {
            match check(text, &[]) {
                Err(ConfigError::Syntax {
                    path,
                    line: l,
                    column: c,
                    message,
                }) => {
                    assert_eq!(path, Path::new("/brains/notes/brain.toml"));
                    assert_eq!((l, c), (*line, *column), "{text:?}: {message}");
                    assert!(!message.is_empty());
                }
                other => panic!("{text:?}: expected Syntax, got {other:?}"),
            }
        }
        let error = check("[queue]\nconcurrency = = 4\n", &[])
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("/brains/notes/brain.toml:2:15: invalid TOML: "),
            "{error}"
        );
    }

    #[test]
    fn load_reads_the_file_or_says_how_to_create_it() {
        let dir = tempfile::tempdir().unwrap();
        let error = Config::load_with_env(dir.path(), env(&[])).unwrap_err();
        assert!(matches!(error, ConfigError::Missing { .. }));
        let message = error.to_string();
        assert!(message.contains("brain init"), "{message}");
        assert!(
            message.contains(&format!("no brain.toml in {}", dir.path().display())),
            "{message}"
        );

        std::fs::write(dir.path().join(CONFIG_FILE), "[queue]\nconcurrency = 2\n").unwrap();
        let config =
            Config::load_with_env(dir.path(), env(&[("BRAIN_QUEUE__LEASE_SECONDS", "60")]))
                .unwrap();
        assert_eq!(
            (config.queue.concurrency, config.queue.lease_seconds),
            (2, 60)
        );
        let name = dir
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert_eq!(config.brain.name, name);

        // `load` reads the real environment; a test cannot set it safely, but it must work.
        assert!(
            Config::load(dir.path()).is_ok()
                || std::env::vars().any(|(k, _)| k.starts_with("BRAIN_"))
        );

        let unreadable = tempfile::tempdir().unwrap();
        std::fs::create_dir(unreadable.path().join(CONFIG_FILE)).unwrap();
        assert!(matches!(
            Config::load_with_env(unreadable.path(), env(&[])),
            Err(ConfigError::Io { .. })
        ));
    }

    #[test]
    fn masked_toml_hides_secrets_at_any_depth() {
        let config = ok(
            r#"
            [queue]
            url = "postgres://brain:pg-pass@db:5432/brains"
            [permissions]
            anchor = ["@me:x"]
            [matrix]
            homeserver = "https://matrix.example.org"
            password = "x"
            Access_Token = "at"
            [mcp.tokens]
            abc = { token = "y", scope = "read" }
            [plugins.llm]
            model = "small"
            api-key = "k"
            client_secrets = ["s1", "s2"]
            [[plugins.llm.providers]]
            name = "a"
            API_KEY = "k2"
            "#,
            &[
                ("BRAIN_SITE__DEPLOY_TOKEN", "dt"),
                ("BRAIN_QUEUE__CONCURRENCY", "6"),
            ],
        );
        let masked = config.to_masked_toml();
        for secret in [
            "\"x\"", "\"at\"", "\"y\"", "\"read\"", "\"k\"", "\"s1\"", "\"k2\"", "\"dt\"",
            "pg-pass",
        ] {
            assert!(!masked.contains(secret), "{secret} leaked:\n{masked}");
        }
        let back: Table = masked.parse().unwrap_or_else(|e| panic!("{e}\n{masked}"));
        let at = |path: &str| {
            let mut value = back.get(path.split('.').next().unwrap()).unwrap();
            for part in path.split('.').skip(1) {
                value = match value {
                    Value::Array(items) => &items[part.parse::<usize>().unwrap()],
                    other => other
                        .get(part)
                        .unwrap_or_else(|| panic!("{path}:\n{masked}")),
                };
            }
            value.clone()
        };
        let mask = Value::String(MASK.into());
        for path in [
            "matrix.password",
            "matrix.Access_Token",
            "mcp.tokens.abc.token",
            "mcp.tokens.abc.scope",
            "plugins.llm.api-key",
            "plugins.llm.client_secrets.0",
            "plugins.llm.providers.0.API_KEY",
            "site.deploy_token",
        ] {
            assert_eq!(at(path), mask, "{path}");
        }
        // Everything else is the effective value, defaults included.
        assert_eq!(
            at("matrix.homeserver"),
            Value::String("https://matrix.example.org".into())
        );
        assert_eq!(
            at("plugins.llm.providers.0.name"),
            Value::String("a".into())
        );
        assert_eq!(at("brain.name"), Value::String("notes".into()));
        assert_eq!(at("queue.concurrency"), Value::Integer(6));
        assert_eq!(at("queue.lease_seconds"), Value::Integer(30));
        assert_eq!(at("logging.level"), Value::String("info".into()));
        assert_eq!(at("permissions.anchor.0"), Value::String("@me:x".into()));
        assert!(masked.starts_with("[brain]\n"), "{masked}");

        // The unmasked values are still there for their owners.
        assert_eq!(config.section_json("matrix")["password"], "x");
    }

    #[test]
    fn permission_of_follows_the_lists() {
        let config = ok(
            "[permissions]\nanchor = [\"@me:x\"]\ntrusted = [\"@friend:x\"]",
            &[],
        );
        let cases = [
            ("@me:x", Permission::Anchor),
            ("@friend:x", Permission::Trusted),
            ("@stranger:x", Permission::Public),
            ("@ME:x", Permission::Public),
            ("", Permission::Public),
        ];
        for (user, expected) in cases {
            assert_eq!(config.permission_of(user), expected, "{user}");
        }
    }

    #[test]
    fn datetimes_reach_plugins_as_strings() {
        let config = ok("[site]\nsince = 2024-05-01T10:00:00Z\nratio = 0.5", &[]);
        assert_eq!(
            config.section_json("site"),
            serde_json::json!({ "since": "2024-05-01T10:00:00Z", "ratio": 0.5 })
        );
    }
}
