//! `[web]` in brain.toml: where `brain start` serves the dashboard, whether it serves only
//! `/metrics`, the access tokens and their permission levels, and whether job inputs are
//! shown. Every error names the key and says what is allowed.

use std::net::SocketAddr;

use brain_plugin_api::AccessToken;
use serde_json::Value;

/// Why `[web]` is invalid, or why the server refuses to start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebError {
    #[error("invalid `{key}` in brain.toml: {message}")]
    Config { key: String, message: String },
    #[error(
        "refusing to serve the dashboard on {addr}: it is not a loopback address and no tokens \
         are configured; add `[web.tokens.<name>]` with `secret` and `permission` to brain.toml, \
         or bind 127.0.0.1"
    )]
    OpenWithoutTokens { addr: SocketAddr },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// The validated `[web]` section.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WebConfig {
    /// Where to serve (`http = "127.0.0.1:7332"`); absent: `brain start` serves no dashboard.
    pub http: Option<SocketAddr>,
    /// Serve only `GET /metrics` (for a monitoring system), no pages or actions.
    pub metrics_only: bool,
    /// Who may sign in; none: loopback only, and everyone there is the owner.
    pub tokens: Vec<AccessToken>,
    /// Show no job inputs (they may hold what a caller typed).
    pub hide_inputs: bool,
}

const KEYS: &[&str] = &["http", "metrics_only", "tokens", "hide_inputs"];

fn err(key: &str, message: impl Into<String>) -> WebError {
    WebError::Config {
        key: format!("web.{key}"),
        message: message.into(),
    }
}

impl WebConfig {
    /// Parses `[web]` as JSON (`Null` when absent: the defaults).
    pub fn parse(section: &Value) -> Result<Self, WebError> {
        let mut config = Self::default();
        let table = match section {
            Value::Null => return Ok(config),
            Value::Object(table) => table,
            _ => {
                return Err(WebError::Config {
                    key: "web".into(),
                    message: "must be a table".into(),
                });
            }
        };
        for key in table.keys() {
            if !KEYS.contains(&key.as_str()) {
                return Err(err(key, brain_plugin_api::unknown_key_here(key, KEYS)));
            }
        }
        if let Some(v) = table.get("http") {
            let text = v
                .as_str()
                .ok_or_else(|| err("http", "must be a string like \"127.0.0.1:7332\""))?;
            config.http =
                Some(brain_plugin_api::parse_listen_addr(text).map_err(|m| err("http", m))?);
        }
        for (key, slot) in [
            ("metrics_only", &mut config.metrics_only),
            ("hide_inputs", &mut config.hide_inputs),
        ] {
            if let Some(v) = table.get(key) {
                *slot = v
                    .as_bool()
                    .ok_or_else(|| err(key, format!("must be true or false, got {v}")))?;
            }
        }
        if let Some(v) = table.get("tokens") {
            config.tokens = brain_plugin_api::parse_tokens(v, "web")
                .map_err(|problem| err(&problem.key, problem.message))?;
        }
        Ok(config)
    }

    /// Refuses an address other machines can reach when nobody has to sign in.
    pub fn check_open(&self, addr: SocketAddr) -> Result<(), WebError> {
        if !addr.ip().is_loopback() && self.tokens.is_empty() {
            return Err(WebError::OpenWithoutTokens { addr });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brain_plugin_api::Permission;
    use serde_json::json;

    #[test]
    fn parses_every_key() {
        let c = WebConfig::parse(&json!({
            "http": "localhost:0",
            "metrics_only": true,
            "hide_inputs": true,
            "tokens": {"phone": {"secret": "0123456789abcdef", "permission": "public"}}
        }))
        .unwrap();
        assert_eq!(c.http, Some("127.0.0.1:0".parse().unwrap()));
        assert!(c.metrics_only && c.hide_inputs);
        assert_eq!(c.tokens[0].permission, Permission::Public);
        assert_eq!(
            WebConfig::parse(&Value::Null).unwrap(),
            WebConfig::default()
        );
    }

    #[test]
    fn errors_name_the_key() {
        fn check(v: Value, key: &str) {
            let e = WebConfig::parse(&v).unwrap_err().to_string();
            assert!(e.contains(&format!("`{key}`")), "{e}");
        }
        check(json!({"htp": "x"}), "web.htp");
        check(json!({"http": "nowhere"}), "web.http");
        check(json!({"metrics_only": "yes"}), "web.metrics_only");
        check(
            json!({"tokens": {"a": {"secret": "short", "permission": "anchor"}}}),
            "web.tokens.a.secret",
        );
        let open = WebConfig::default().check_open("0.0.0.0:7332".parse().unwrap());
        assert!(matches!(open, Err(WebError::OpenWithoutTokens { .. })));
    }
}
