//! What the network interfaces (`[mcp]`, `[web]`) share: the address they listen on, and
//! their access tokens (`[mcp.tokens.<name>]`, `[web.tokens.<name>]`) — who a secret is and
//! what it may do, parsed with errors that name the key, and compared in constant time.

use serde_json::{Map, Value};

use crate::permission::Permission;
use crate::source::Source;

/// One token: its name (the conversation of the work it starts, e.g. `mcp:<name>`), its
/// secret, and its permission level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub name: String,
    pub secret: String,
    pub permission: Permission,
}

/// A mistake in a tokens table: the key under the section (`tokens.laptop.secret`) and
/// what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenProblem {
    pub key: String,
    pub message: String,
}

/// Parses `[<section>.tokens]`: a table of `<name> = { secret, permission }`.
pub fn parse_tokens(value: &Value, section: &str) -> Result<Vec<AccessToken>, TokenProblem> {
    let problem = |key: &str, message: &str| TokenProblem {
        key: key.to_owned(),
        message: message.to_owned(),
    };
    let table = value.as_object().ok_or_else(|| {
        problem(
            "tokens",
            &format!(
                "must be a table of tables: [{section}.tokens.<name>] with secret and permission"
            ),
        )
    })?;
    let mut tokens: Vec<AccessToken> = Vec::new();
    for (name, entry) in table {
        let key = format!("tokens.{name}");
        if Source::with_detail(section, name).is_err()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(problem(
                &key,
                "token names are 1-64 of letters, digits, '-', '_' (e.g. `laptop`)",
            ));
        }
        let entry: &Map<String, Value> = entry
            .as_object()
            .ok_or_else(|| problem(&key, "must be a table with secret and permission"))?;
        for k in entry.keys() {
            if k != "secret" && k != "permission" {
                return Err(problem(
                    &format!("{key}.{k}"),
                    &crate::unknown_key_here(k, &["secret", "permission"]),
                ));
            }
        }
        let secret = entry.get("secret").and_then(Value::as_str).ok_or_else(|| {
            problem(
                &format!("{key}.secret"),
                "missing; a string of at least 16 characters",
            )
        })?;
        if secret.len() < 16 {
            return Err(problem(
                &format!("{key}.secret"),
                "too short: use at least 16 characters (e.g. `openssl rand -hex 24`)",
            ));
        }
        let permission = entry
            .get("permission")
            .and_then(Value::as_str)
            .and_then(Permission::parse)
            .ok_or_else(|| {
                problem(
                    &format!("{key}.permission"),
                    "missing or invalid; one of anchor, trusted, public",
                )
            })?;
        if tokens.iter().any(|t| t.secret == secret) {
            return Err(problem(
                &format!("{key}.secret"),
                "the same secret is used by two tokens; each token needs its own",
            ));
        }
        tokens.push(AccessToken {
            name: name.clone(),
            secret: secret.to_owned(),
            permission,
        });
    }
    Ok(tokens)
}

/// A listening address, `host:port`, with `localhost` meaning 127.0.0.1.
pub fn parse_listen_addr(text: &str) -> Result<std::net::SocketAddr, String> {
    let normalized = match text.strip_prefix("localhost:") {
        Some(port) => format!("127.0.0.1:{port}"),
        None => text.to_owned(),
    };
    normalized.parse().map_err(|_| {
        format!(
            "{text:?} is not an address; write ip:port, e.g. \"127.0.0.1:7332\" (port 0 = any free port)"
        )
    })
}

/// The token whose secret is `presented`, compared in constant time.
pub fn find_token<'a>(tokens: &'a [AccessToken], presented: &str) -> Option<&'a AccessToken> {
    tokens
        .iter()
        .find(|t| constant_time_eq(t.secret.as_bytes(), presented.as_bytes()))
}

/// Equal bytes, in a time that does not depend on where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
