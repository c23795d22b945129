//! The `[ai]` section of `brain.toml`, read from its JSON form (the shell keeps unclaimed
//! sections raw and hands them over as JSON). Checked as strictly as the shell's own
//! sections: unknown keys and values of the wrong type or out of range are errors naming
//! the dotted key (`ai.openai.timeout_seconds`), the value found and what is allowed.

use std::sync::Arc;
use std::time::Duration;

use brain_plugin_api::ContentGenerator;
use serde_json::{Map, Value};

use crate::local::LocalGenerator;
use crate::openai::{OpenAiConfig, OpenAiGenerator};

/// The endpoint used when `[ai.openai]` names none.
const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// Where the API key comes from when `ai.openai.api_key` is not set.
const API_KEY_VARIABLE: &str = "OPENAI_API_KEY";

/// Why the `[ai]` section (or an [`OpenAiConfig`]) cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AiConfigError {
    /// A key has a value of the wrong type or out of range, or a required key is missing
    /// (`value` is then `(missing)`). `key` is dotted (`ai.provider`); `value` is shown as
    /// JSON, so a string keeps its quotes, except an API key, which is never shown.
    #[error("invalid value for `{key}`: {value} (allowed: {allowed})")]
    Invalid {
        key: String,
        value: String,
        allowed: String,
    },

    /// A key nothing reads, probably a typo (`ai.openai.modle`).
    #[error("{}", brain_plugin_api::unknown_key(key, &allowed.split(", ").collect::<Vec<_>>()))]
    UnknownKey { key: String, allowed: String },

    /// The HTTP client could not be built (e.g. no TLS root certificates could be loaded).
    #[error("cannot build an HTTP client for {endpoint}: {message}")]
    Client { endpoint: String, message: String },
}

impl AiConfigError {
    pub(crate) fn invalid(key: &str, value: &Value, allowed: &str) -> Self {
        let value = if key.ends_with("api_key") {
            "(hidden)".to_owned()
        } else {
            value.to_string()
        };
        Self::Invalid {
            key: key.to_owned(),
            value,
            allowed: allowed.to_owned(),
        }
    }

    fn missing(key: &str, allowed: &str) -> Self {
        Self::Invalid {
            key: key.to_owned(),
            value: "(missing)".to_owned(),
            allowed: allowed.to_owned(),
        }
    }
}

/// Builds the generator the `[ai]` section of brain.toml asks for (the JSON of that table,
/// or `Null` when the section is absent, which means `local`).
pub fn from_config(ai: &Value) -> Result<Arc<dyn ContentGenerator>, AiConfigError> {
    let env_key = || std::env::var(API_KEY_VARIABLE).ok();
    Ok(match parse(ai, env_key)? {
        Settings::Local { delay } => Arc::new(LocalGenerator::new(delay)),
        Settings::OpenAi(config) => Arc::new(OpenAiGenerator::new(config)?),
    })
}

/// What the section asks for, before anything is built.
#[derive(Debug, PartialEq)]
enum Settings {
    Local { delay: Duration },
    OpenAi(OpenAiConfig),
}

/// Reads the section; `env_key` supplies `OPENAI_API_KEY` (a parameter so that tests need
/// not change the process environment).
fn parse(ai: &Value, env_key: impl FnOnce() -> Option<String>) -> Result<Settings, AiConfigError> {
    let empty = Map::new();
    let ai = match ai {
        Value::Null => &empty,
        Value::Object(table) => table,
        other => return Err(AiConfigError::invalid("ai", other, "a table")),
    };
    known_keys(ai, "ai", &["provider", "local", "openai"])?;

    let provider = match ai.get("provider") {
        None => "local",
        Some(Value::String(name)) if name == "local" || name == "openai" => name.as_str(),
        Some(other) => {
            return Err(AiConfigError::invalid(
                "ai.provider",
                other,
                "\"local\" or \"openai\"",
            ));
        }
    };

    // Both sub-tables are checked whichever provider is chosen, so that a typo in the one
    // not in use shows up before someone switches to it.
    let delay = match table(ai, "local")? {
        Some(local) => {
            known_keys(local, "ai.local", &["delay_ms"])?;
            Duration::from_millis(integer(local, "ai.local.delay_ms", 0, 600_000)?.unwrap_or(0))
        }
        None => Duration::ZERO,
    };
    let openai = table(ai, "openai")?.map(openai_table).transpose()?;

    match provider {
        "openai" => {
            let Some(mut config) = openai.flatten() else {
                return Err(AiConfigError::missing(
                    "ai.openai.model",
                    "a model name, e.g. \"gpt-4o-mini\" or \"llama3.2\" (required when ai.provider = \"openai\")",
                ));
            };
            if config.api_key.is_none() {
                config.api_key = env_key().filter(|key| !key.is_empty());
            }
            Ok(Settings::OpenAi(config))
        }
        _ => Ok(Settings::Local { delay }),
    }
}

/// Reads `[ai.openai]`; `None` when it names no model (an error only if it is used).
fn openai_table(openai: &Map<String, Value>) -> Result<Option<OpenAiConfig>, AiConfigError> {
    known_keys(
        openai,
        "ai.openai",
        &[
            "base_url",
            "model",
            "api_key",
            "timeout_seconds",
            "max_retries",
        ],
    )?;
    let base_url = match openai.get("base_url") {
        None => DEFAULT_BASE_URL.to_owned(),
        Some(Value::String(url)) if is_http_url(url) => url.trim_end_matches('/').to_owned(),
        Some(other) => {
            return Err(AiConfigError::invalid(
                "ai.openai.base_url",
                other,
                "an http:// or https:// URL ending before /chat/completions, e.g. \"http://127.0.0.1:11434/v1\"",
            ));
        }
    };
    let model = match openai.get("model") {
        None => None,
        Some(Value::String(model)) if !model.trim().is_empty() => Some(model.clone()),
        Some(other) => {
            return Err(AiConfigError::invalid(
                "ai.openai.model",
                other,
                "a non-empty model name",
            ));
        }
    };
    let api_key = match openai.get("api_key") {
        None => None,
        Some(Value::String(key)) if !key.is_empty() => Some(key.clone()),
        Some(other) => {
            return Err(AiConfigError::invalid(
                "ai.openai.api_key",
                other,
                "a non-empty string",
            ));
        }
    };
    let timeout = integer(openai, "ai.openai.timeout_seconds", 1, 3600)?
        .map_or(OpenAiConfig::DEFAULT_TIMEOUT, Duration::from_secs);
    let max_retries = match integer(openai, "ai.openai.max_retries", 0, 10)? {
        // The bounds keep the value well inside u32.
        Some(n) => u32::try_from(n).unwrap_or(OpenAiConfig::DEFAULT_MAX_RETRIES),
        None => OpenAiConfig::DEFAULT_MAX_RETRIES,
    };
    Ok(model.map(|model| OpenAiConfig {
        base_url,
        model,
        api_key,
        timeout,
        max_retries,
    }))
}

pub(crate) fn is_http_url(url: &str) -> bool {
    ["http://", "https://"].iter().any(|scheme| {
        url.strip_prefix(scheme)
            .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
    })
}

fn known_keys(
    table: &Map<String, Value>,
    prefix: &str,
    allowed: &[&str],
) -> Result<(), AiConfigError> {
    match table.keys().find(|key| !allowed.contains(&key.as_str())) {
        Some(key) => Err(AiConfigError::UnknownKey {
            key: format!("{prefix}.{key}"),
            allowed: allowed.join(", "),
        }),
        None => Ok(()),
    }
}

fn table<'a>(
    parent: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a Map<String, Value>>, AiConfigError> {
    match parent.get(name) {
        None => Ok(None),
        Some(Value::Object(table)) => Ok(Some(table)),
        Some(other) => Err(AiConfigError::invalid(
            &format!("ai.{name}"),
            other,
            "a table",
        )),
    }
}

fn integer(
    table: &Map<String, Value>,
    key: &str,
    min: u64,
    max: u64,
) -> Result<Option<u64>, AiConfigError> {
    let name = key.rsplit('.').next().unwrap_or(key);
    match table.get(name) {
        None => Ok(None),
        Some(value) => match value.as_u64() {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(AiConfigError::invalid(
                key,
                value,
                &format!("an integer from {min} to {max}"),
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn no_env() -> Option<String> {
        None
    }

    #[test]
    fn defaults() {
        assert_eq!(
            parse(&Value::Null, no_env),
            Ok(Settings::Local {
                delay: Duration::ZERO
            })
        );
        assert_eq!(
            parse(&json!({}), no_env),
            Ok(Settings::Local {
                delay: Duration::ZERO
            })
        );
        assert_eq!(
            parse(&json!({ "local": { "delay_ms": 250 } }), no_env),
            Ok(Settings::Local {
                delay: Duration::from_millis(250)
            })
        );
        assert_eq!(
            parse(
                &json!({ "provider": "openai", "openai": { "model": "m" } }),
                no_env
            ),
            Ok(Settings::OpenAi(OpenAiConfig {
                base_url: DEFAULT_BASE_URL.into(),
                model: "m".into(),
                api_key: None,
                timeout: Duration::from_secs(60),
                max_retries: 3,
            }))
        );
    }

    #[test]
    fn openai_settings_and_key_from_environment() {
        let ai = json!({ "provider": "openai", "openai": {
            "base_url": "http://127.0.0.1:11434/v1/", "model": "llama3.2", "timeout_seconds": 5, "max_retries": 0 } });
        let Ok(Settings::OpenAi(config)) = parse(&ai, || Some("sk-env".into())) else {
            panic!("not openai")
        };
        assert_eq!(
            config.base_url, "http://127.0.0.1:11434/v1",
            "trailing slash trimmed"
        );
        assert_eq!(config.api_key.as_deref(), Some("sk-env"));
        assert_eq!(config.timeout, Duration::from_secs(5));
        assert_eq!(config.max_retries, 0);

        // A key in the file wins over the environment; an empty variable counts as unset.
        let ai = json!({ "provider": "openai", "openai": { "model": "m", "api_key": "sk-file" } });
        let Ok(Settings::OpenAi(config)) = parse(&ai, || Some("sk-env".into())) else {
            panic!("not openai")
        };
        assert_eq!(config.api_key.as_deref(), Some("sk-file"));
        let ai = json!({ "provider": "openai", "openai": { "model": "m" } });
        let Ok(Settings::OpenAi(config)) = parse(&ai, || Some(String::new())) else {
            panic!("not openai")
        };
        assert_eq!(config.api_key, None);
    }

    #[test]
    fn errors_name_the_key() {
        let cases: &[(Value, &str)] = &[
            (json!("openai"), "invalid value for `ai`"),
            (
                json!({ "provider": "gpt" }),
                "invalid value for `ai.provider`: \"gpt\" (allowed: \"local\" or \"openai\")",
            ),
            (json!({ "provider": 1 }), "`ai.provider`"),
            (
                json!({ "providr": "local" }),
                "unknown key `ai.providr`: did you mean `provider`? (allowed: provider, local, openai)",
            ),
            (
                json!({ "local": 3 }),
                "invalid value for `ai.local`: 3 (allowed: a table)",
            ),
            (
                json!({ "local": { "delay": 3 } }),
                "unknown key `ai.local.delay`",
            ),
            (
                json!({ "local": { "delay_ms": -1 } }),
                "`ai.local.delay_ms`: -1 (allowed: an integer from 0 to 600000)",
            ),
            (
                json!({ "provider": "openai" }),
                "`ai.openai.model`: (missing)",
            ),
            (
                json!({ "provider": "openai", "openai": { "base_url": "x" } }),
                "`ai.openai.base_url`",
            ),
            (
                json!({ "openai": { "model": "m", "base_url": "ftp://x" } }),
                "`ai.openai.base_url`: \"ftp://x\"",
            ),
            (json!({ "openai": { "model": "" } }), "`ai.openai.model`"),
            (
                json!({ "openai": { "model": "m", "timeout_seconds": 0 } }),
                "`ai.openai.timeout_seconds`: 0",
            ),
            (
                json!({ "openai": { "model": "m", "timeout_seconds": "60" } }),
                "`ai.openai.timeout_seconds`: \"60\"",
            ),
            (
                json!({ "openai": { "model": "m", "max_retries": 11 } }),
                "`ai.openai.max_retries`: 11 (allowed: an integer from 0 to 10)",
            ),
            (
                json!({ "openai": { "modle": "m" } }),
                "unknown key `ai.openai.modle`",
            ),
            (
                json!({ "openai": { "model": "m", "api_key": 12345 } }),
                "`ai.openai.api_key`: (hidden)",
            ),
        ];
        for (ai, expected) in cases {
            match parse(ai, no_env) {
                Err(error) => assert!(
                    error.to_string().contains(expected),
                    "{ai}: {error} lacks {expected:?}"
                ),
                Ok(settings) => panic!("{ai} was accepted: {settings:?}"),
            }
        }
    }
}
