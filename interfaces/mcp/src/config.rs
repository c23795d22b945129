//! `[mcp]` in brain.toml: where `brain start` serves HTTP, the bearer tokens and their
//! permission levels, allowed origins and hosts, the body limit and how long a call with a
//! progress token stays open. Every error names the key and says what is allowed.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;

/// Why `[mcp]` is invalid, or why the server refuses to start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum McpError {
    #[error("invalid `{key}` in brain.toml: {message}")]
    Config { key: String, message: String },
    #[error(
        "refusing to serve MCP over HTTP on {addr}: it is not a loopback address and no bearer \
         tokens are configured; add `[mcp.tokens.<name>]` with `secret` and `permission` to \
         brain.toml, or bind 127.0.0.1"
    )]
    OpenWithoutTokens { addr: SocketAddr },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("MCP transport: {0}")]
    Transport(String),
}

/// One bearer token: who it is (its name, which becomes the `mcp:<name>` source of the work
/// it starts) and what it may do.
pub type TokenConfig = brain_plugin_api::AccessToken;

/// The validated `[mcp]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpConfig {
    /// Where `brain start` serves streamable HTTP (`http = "127.0.0.1:7331"`); absent: it
    /// does not serve MCP.
    pub http: Option<SocketAddr>,
    pub tokens: Vec<TokenConfig>,
    /// Browser origins allowed to call (`"http://localhost:*"`); any other `Origin` gets 403.
    pub allowed_origins: Vec<String>,
    /// Host names accepted besides the loopback ones (for a server behind a name).
    pub allowed_hosts: Vec<String>,
    /// Largest request body accepted (bytes).
    pub max_body_bytes: usize,
    /// How long a call with a progress token waits for its job before answering with the
    /// job handle instead.
    pub wait: Duration,
    /// Longest silence on an open call: a progress notification goes out at least this often.
    pub keep_alive: Duration,
    /// How long finished jobs are kept (the task ttl), filled in from `[queue]`.
    pub retention: Duration,
}

impl Default for McpConfig {
    fn default() -> Self {
        Self {
            http: None,
            tokens: Vec::new(),
            allowed_origins: vec![
                "http://localhost:*".into(),
                "http://127.0.0.1:*".into(),
                "http://[::1]:*".into(),
            ],
            allowed_hosts: Vec::new(),
            max_body_bytes: 1024 * 1024,
            wait: Duration::from_secs(45),
            keep_alive: Duration::from_secs(15),
            retention: Duration::from_secs(7 * 86_400),
        }
    }
}

const KEYS: &[&str] = &[
    "http",
    "tokens",
    "allowed_origins",
    "allowed_hosts",
    "max_body_bytes",
    "wait_seconds",
    "keep_alive_seconds",
];

fn err(key: &str, message: impl Into<String>) -> McpError {
    McpError::Config {
        key: format!("mcp.{key}"),
        message: message.into(),
    }
}

impl McpConfig {
    /// Parses `[mcp]` as JSON (`Null` when absent: the defaults).
    pub fn parse(section: &Value) -> Result<Self, McpError> {
        let mut config = Self::default();
        let table = match section {
            Value::Null => return Ok(config),
            Value::Object(table) => table,
            _ => {
                return Err(McpError::Config {
                    key: "mcp".into(),
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
            let s = v
                .as_str()
                .ok_or_else(|| err("http", "must be a string like \"127.0.0.1:7331\""))?;
            config.http = Some(brain_plugin_api::parse_listen_addr(s).map_err(|m| err("http", m))?);
        }
        if let Some(v) = table.get("tokens") {
            config.tokens = brain_plugin_api::parse_tokens(v, "mcp")
                .map_err(|problem| err(&problem.key, problem.message))?;
        }
        if let Some(v) = table.get("allowed_origins") {
            config.allowed_origins = strings(v, "allowed_origins")?;
            for origin in &config.allowed_origins {
                if origin != "null" && !origin.contains("://") {
                    return Err(err(
                        "allowed_origins",
                        format!(
                            "{origin:?} has no scheme; write e.g. \"https://app.example.com:443\" or \"http://localhost:*\""
                        ),
                    ));
                }
            }
        }
        if let Some(v) = table.get("allowed_hosts") {
            config.allowed_hosts = strings(v, "allowed_hosts")?;
        }
        if let Some(v) = table.get("max_body_bytes") {
            config.max_body_bytes = int(v, "max_body_bytes", 1024, 64 * 1024 * 1024)? as usize;
        }
        if let Some(v) = table.get("wait_seconds") {
            config.wait = Duration::from_secs(int(v, "wait_seconds", 0, 3600)?);
        }
        if let Some(v) = table.get("keep_alive_seconds") {
            config.keep_alive = Duration::from_secs(int(v, "keep_alive_seconds", 1, 60)?);
        }
        Ok(config)
    }

    /// The permission a bearer secret grants, and who it is.
    pub fn token(&self, secret: &str) -> Option<&TokenConfig> {
        brain_plugin_api::find_token(&self.tokens, secret)
    }
}

fn strings(v: &Value, key: &str) -> Result<Vec<String>, McpError> {
    v.as_array()
        .and_then(|items| {
            items
                .iter()
                .map(|i| i.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
        })
        .ok_or_else(|| err(key, "must be an array of strings"))
}

fn int(v: &Value, key: &str, min: u64, max: u64) -> Result<u64, McpError> {
    v.as_u64()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            err(
                key,
                format!("must be an integer from {min} to {max}, got {v}"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use brain_plugin_api::Permission;
    use serde_json::json;

    #[test]
    fn defaults_when_absent() {
        let c = McpConfig::parse(&Value::Null).unwrap();
        assert_eq!(c.wait, Duration::from_secs(45));
        assert!(c.http.is_none());
    }

    #[test]
    fn parses_tokens() {
        let c = McpConfig::parse(&json!({
            "http": "127.0.0.1:0",
            "wait_seconds": 5,
            "tokens": {"laptop": {"secret": "0123456789abcdef", "permission": "public"}}
        }))
        .unwrap();
        assert_eq!(
            c.token("0123456789abcdef").unwrap().permission,
            Permission::Public
        );
        assert!(c.token("0123456789abcdeX").is_none());
    }

    #[test]
    fn errors_name_the_key() {
        fn check(v: Value, key: &str) {
            let e = McpConfig::parse(&v).unwrap_err().to_string();
            assert!(e.contains(&format!("`{key}`")), "{e}");
        }
        check(json!({"htp": "x"}), "mcp.htp");
        check(json!({"http": "nowhere"}), "mcp.http");
        check(json!({"wait_seconds": -1}), "mcp.wait_seconds");
        check(
            json!({"tokens": {"a": {"secret": "0123456789abcdef", "permission": "root"}}}),
            "mcp.tokens.a.permission",
        );
        check(
            json!({"tokens": {"a": {"secret": "short", "permission": "anchor"}}}),
            "mcp.tokens.a.secret",
        );
        check(
            json!({"allowed_origins": ["example.com"]}),
            "mcp.allowed_origins",
        );
    }
}
