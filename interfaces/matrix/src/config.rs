//! `[matrix]` in brain.toml: where the bot logs in, who it obeys and how it talks, checked
//! once at start so a bad value stops the brain with a message naming the key.

use std::time::Duration;

use serde_json::Value;

/// The section's name in brain.toml.
pub const SECTION: &str = "matrix";

const KEYS: &[&str] = &[
    "homeserver",
    "user_id",
    "password",
    "access_token",
    "anchor",
    "trusted",
    "command_prefix",
    "rooms",
    "edit_interval_ms",
    "announce",
    "device_name",
];

/// A bad `[matrix]` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[matrix] {key}: {message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

fn err(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.to_owned(),
        message: message.into(),
    }
}

/// How the bot logs in the first time (later starts restore the saved session).
#[derive(Clone, PartialEq, Eq)]
pub enum Login {
    Password(String),
    AccessToken(String),
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret itself.
        match self {
            Login::Password(_) => f.write_str("Password(********)"),
            Login::AccessToken(_) => f.write_str("AccessToken(********)"),
        }
    }
}

/// The validated `[matrix]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixConfig {
    /// `https://matrix.example.org`.
    pub homeserver: String,
    /// `@brain:example.org`.
    pub user_id: String,
    pub login: Login,
    /// The owner: every command.
    pub anchor: String,
    /// People the owner trusts.
    pub trusted: Vec<String>,
    /// What starts a command (`!`).
    pub command_prefix: String,
    /// Only these rooms (ids `!abc:server` or aliases `#x:server`); empty: any room it joined.
    pub rooms: Vec<String>,
    /// At most one progress edit per message this often.
    pub edit_interval: Duration,
    /// Whether operations started elsewhere (CLI, MCP) get a progress message in `rooms`.
    pub announce: bool,
    /// The display name of the bot's device.
    pub device_name: String,
}

impl MatrixConfig {
    /// Parses the section as the shell hands it over (`Config::section_json`).
    pub fn from_json(value: &Value) -> Result<Self, ConfigError> {
        let table = value
            .as_object()
            .ok_or_else(|| err("", "must be a table"))?;
        if let Some(key) = table.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(err(key, brain_plugin_api::unknown_key_here(key, KEYS)));
        }
        let homeserver = string(value, "homeserver")?.ok_or_else(|| {
            err(
                "homeserver",
                "missing: the homeserver URL, e.g. \"https://matrix.example.org\"",
            )
        })?;
        if !(homeserver.starts_with("https://") || homeserver.starts_with("http://")) {
            return Err(err(
                "homeserver",
                format!(
                    "{homeserver:?} is not an http(s) URL, e.g. \"https://matrix.example.org\""
                ),
            ));
        }
        let user_id = user(value, "user_id")?.ok_or_else(|| {
            err(
                "user_id",
                "missing: the bot's user id, e.g. \"@brain:example.org\"",
            )
        })?;
        let login = match (string(value, "password")?, string(value, "access_token")?) {
            (Some(_), Some(_)) => {
                return Err(err(
                    "password",
                    "give either password or access_token, not both",
                ));
            }
            (Some(p), None) => Login::Password(p),
            (None, Some(t)) => Login::AccessToken(t),
            (None, None) => {
                return Err(err(
                    "password",
                    "missing: set password (needed to cross-sign the bot's device) or access_token",
                ));
            }
        };
        let anchor = user(value, "anchor")?.ok_or_else(|| {
            err(
                "anchor",
                "missing: the owner's user id, e.g. \"@me:example.org\"",
            )
        })?;
        let trusted = users(value, "trusted")?;
        let command_prefix = string(value, "command_prefix")?.unwrap_or_else(|| "!".to_owned());
        if command_prefix.is_empty()
            || command_prefix.chars().count() > 4
            || command_prefix.chars().any(char::is_whitespace)
        {
            return Err(err(
                "command_prefix",
                format!("{command_prefix:?}: must be 1-4 characters without spaces, e.g. \"!\""),
            ));
        }
        let rooms = strings(value, "rooms")?;
        for room in &rooms {
            if !(room.starts_with('!') || room.starts_with('#')) || !room.contains(':') {
                return Err(err(
                    "rooms",
                    format!("{room:?} is not a room id (!abc:server) or alias (#name:server)"),
                ));
            }
        }
        let edit_interval_ms = match value.get("edit_interval_ms") {
            None => 5000,
            Some(v) => v
                .as_u64()
                .filter(|ms| (100..=600_000).contains(ms))
                .ok_or_else(|| {
                    err(
                        "edit_interval_ms",
                        format!("{v}: must be an integer from 100 to 600000 (default 5000)"),
                    )
                })?,
        };
        let announce = match value.get("announce") {
            None => false,
            Some(v) => v
                .as_bool()
                .ok_or_else(|| err("announce", format!("{v}: must be true or false")))?,
        };
        let device_name = string(value, "device_name")?.unwrap_or_else(|| "brain".to_owned());
        Ok(MatrixConfig {
            homeserver,
            user_id,
            login,
            anchor,
            trusted,
            command_prefix,
            rooms,
            edit_interval: Duration::from_millis(edit_interval_ms),
            announce,
            device_name,
        })
    }
}

fn string(value: &Value, key: &str) -> Result<Option<String>, ConfigError> {
    match value.get(key) {
        None => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_owned())),
        Some(Value::String(_)) => Err(err(key, "must not be empty")),
        Some(other) => Err(err(key, format!("{other}: must be a string"))),
    }
}

fn strings(value: &Value, key: &str) -> Result<Vec<String>, ConfigError> {
    match value.get(key) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
                other => Err(err(
                    key,
                    format!("{other}: every entry must be a non-empty string"),
                )),
            })
            .collect(),
        Some(other) => Err(err(key, format!("{other}: must be a list of strings"))),
    }
}

/// Whether `id` looks like a Matrix user id: `@localpart:server`.
pub fn is_user_id(id: &str) -> bool {
    id.strip_prefix('@')
        .and_then(|rest| rest.split_once(':'))
        .is_some_and(|(local, server)| {
            !local.is_empty() && !server.is_empty() && !id.chars().any(char::is_whitespace)
        })
}

fn user(value: &Value, key: &str) -> Result<Option<String>, ConfigError> {
    let id = string(value, key)?;
    match id {
        Some(id) if !is_user_id(&id) => Err(err(
            key,
            format!("{id:?} is not a Matrix user id like \"@name:example.org\""),
        )),
        id => Ok(id),
    }
}

fn users(value: &Value, key: &str) -> Result<Vec<String>, ConfigError> {
    let ids = strings(value, key)?;
    if let Some(bad) = ids.iter().find(|id| !is_user_id(id)) {
        return Err(err(
            key,
            format!("{bad:?} is not a Matrix user id like \"@name:example.org\""),
        ));
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({
            "homeserver": "https://m.example.org",
            "user_id": "@brain:example.org",
            "password": "pw",
            "anchor": "@me:example.org",
        })
    }

    fn with(key: &str, v: Value) -> Value {
        let mut b = base();
        b[key] = v;
        b
    }

    #[test]
    fn defaults() {
        let c = MatrixConfig::from_json(&base()).unwrap();
        assert_eq!(c.command_prefix, "!");
        assert_eq!(c.edit_interval, Duration::from_secs(5));
        assert!(!c.announce);
        assert!(c.trusted.is_empty() && c.rooms.is_empty());
        assert_eq!(c.login, Login::Password("pw".into()));
        assert!(!format!("{:?}", c.login).contains("pw"));
    }

    #[test]
    fn errors_name_the_key() {
        fn check(value: Value, key: &str, needle: &str) {
            let e = MatrixConfig::from_json(&value).unwrap_err();
            assert_eq!(e.key, key, "{e}");
            assert!(e.to_string().contains(needle), "{e}");
        }
        let mut missing = base();
        missing.as_object_mut().unwrap().remove("homeserver");
        check(missing, "homeserver", "missing");
        check(
            with("homeserver", json!("matrix.org")),
            "homeserver",
            "http",
        );
        check(with("user_id", json!("brain")), "user_id", "user id");
        check(with("access_token", json!("t")), "password", "not both");
        check(with("anchor", json!(3)), "anchor", "string");
        check(with("trusted", json!(["@a:b", "c"])), "trusted", "\"c\"");
        check(
            with("command_prefix", json!("a b")),
            "command_prefix",
            "1-4",
        );
        check(with("rooms", json!(["lobby"])), "rooms", "room id");
        check(
            with("edit_interval_ms", json!(5)),
            "edit_interval_ms",
            "100 to",
        );
        check(with("announce", json!("yes")), "announce", "true or false");
        check(
            with("pasword", json!("x")),
            "pasword",
            "unknown key: did you mean `password`?",
        );
        let mut no_login = base();
        no_login.as_object_mut().unwrap().remove("password");
        check(no_login, "password", "access_token");
    }

    #[test]
    fn token_login_and_lists() {
        let mut v = base();
        v.as_object_mut().unwrap().remove("password");
        v["access_token"] = json!("syt_x");
        v["trusted"] = json!(["@a:example.org"]);
        v["rooms"] = json!(["!r:example.org", "#lobby:example.org"]);
        v["edit_interval_ms"] = json!(250);
        let c = MatrixConfig::from_json(&v).unwrap();
        assert_eq!(c.login, Login::AccessToken("syt_x".into()));
        assert_eq!(c.trusted, ["@a:example.org"]);
        assert_eq!(c.rooms.len(), 2);
        assert_eq!(c.edit_interval, Duration::from_millis(250));
    }
}
