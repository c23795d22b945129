//! Who is asking, and whether a browser on another site is asking for them: the Host and
//! Origin checks (DNS rebinding, cross-site requests), sessions (an HttpOnly, SameSite=Strict
//! cookie; on loopback without tokens every browser gets one as the owner), bearer tokens
//! for programs, and the per-session token every action must carry.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use brain_plugin_api::{AccessToken, Caller, Permission, Source, constant_time_eq, find_token};

use crate::api::error_response;

/// The session cookie's name.
pub(crate) const COOKIE: &str = "brain_session";

/// The header an action carries the session's token in.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// How long a session lasts after sign-in.
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// Sessions kept at most; the oldest goes first (every page load on an open loopback
/// server without a cookie makes one).
const MAX_SESSIONS: usize = 10_000;

/// The signed-in principal of a request, and its session's action token (none for a
/// bearer token: a program's header is not sent by browsers on their own).
#[derive(Debug, Clone)]
pub(crate) struct Principal {
    pub(crate) name: String,
    pub(crate) permission: Permission,
    pub(crate) csrf: Option<String>,
}

impl Principal {
    /// The shell's caller for this principal: work it starts has source `web:<name>`.
    pub(crate) fn caller(&self) -> Caller {
        let source = Source::with_detail("web", &self.name).unwrap_or_else(|_| Source::cli());
        Caller::new(source, self.permission).with_user(self.name.clone())
    }
}

struct Session {
    name: String,
    permission: Permission,
    csrf: String,
    created: Instant,
}

/// Access as configured, and the live sessions.
pub(crate) struct Access {
    tokens: Vec<AccessToken>,
    addr: SocketAddr,
    sessions: Mutex<HashMap<String, Session>>,
}

impl Access {
    pub(crate) fn new(tokens: Vec<AccessToken>, addr: SocketAddr) -> Self {
        Self {
            tokens,
            addr,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// No tokens: loopback only, and whoever reaches it is the owner.
    pub(crate) fn open(&self) -> bool {
        self.tokens.is_empty()
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new session for `name`; its id (the cookie's value).
    pub(crate) fn start_session(&self, name: &str, permission: Permission) -> String {
        let id = random_token();
        let mut sessions = self.sessions();
        sessions.retain(|_, s| s.created.elapsed() < SESSION_TTL);
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.created)
                .map(|(id, _)| id.clone())
        {
            sessions.remove(&oldest);
        }
        sessions.insert(
            id.clone(),
            Session {
                name: name.to_owned(),
                permission,
                csrf: random_token(),
                created: Instant::now(),
            },
        );
        id
    }

    fn session(&self, id: &str) -> Option<Principal> {
        let sessions = self.sessions();
        let session = sessions
            .get(id)
            .filter(|s| s.created.elapsed() < SESSION_TTL)?;
        Some(Principal {
            name: session.name.clone(),
            permission: session.permission,
            csrf: Some(session.csrf.clone()),
        })
    }

    pub(crate) fn token(&self, secret: &str) -> Option<&AccessToken> {
        find_token(&self.tokens, secret)
    }

    /// Whether `host` (the Host header) names this server. Open loopback servers accept
    /// loopback names only: a page on another site whose name resolves to 127.0.0.1 (DNS
    /// rebinding) must not reach the owner's dashboard.
    fn host_allowed(&self, host: &str) -> bool {
        let name = match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        };
        let loopback = matches!(name, "localhost" | "127.0.0.1" | "[::1]");
        loopback || !self.open() || name == self.addr.ip().to_string()
    }
}

/// The cookie that carries session `id`.
pub(crate) fn session_cookie(id: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        SESSION_TTL.as_secs()
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
}

/// 32 random bytes as hex.
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    // The OS generator failing is unrecoverable for session ids: there is no safe fallback.
    getrandom::fill(&mut bytes).expect("the operating system's random number generator failed");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether the request is a page a browser navigates to (not the API or metrics).
fn is_page(path: &str) -> bool {
    !(path.starts_with("/api/") || path == "/metrics" || path.starts_with("/assets/"))
}

/// Checks Host and Origin, identifies the principal, and for actions the session's token;
/// then runs the request with the [`Principal`] as an extension.
pub(crate) async fn authenticate(
    State(access): State<Arc<Access>>,
    mut request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if !access.host_allowed(&host) {
        return error_response(
            StatusCode::FORBIDDEN,
            format!("host {host:?} is not this dashboard's (loopback names only)"),
        );
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        // https too: behind a proxy that ends TLS, the page's origin is https.
        let same = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .is_some_and(|rest| rest == host);
        if !same {
            return error_response(
                StatusCode::FORBIDDEN,
                format!(
                    "cross-site request refused: origin {origin:?} is not this dashboard's ({host})"
                ),
            );
        }
    }
    let path = request.uri().path().to_owned();
    let assets = path.starts_with("/assets/") || path == "/login";
    let mut new_session = None;
    let principal = if let Some(secret) = bearer(headers) {
        match access.token(secret) {
            Some(token) => Some(Principal {
                name: token.name.clone(),
                permission: token.permission,
                csrf: None,
            }),
            None => return error_response(StatusCode::UNAUTHORIZED, "invalid bearer token"),
        }
    } else if let Some(principal) = cookie(headers, COOKIE).and_then(|id| access.session(id)) {
        Some(principal)
    } else if access.open() && !assets {
        let id = access.start_session("owner", Permission::Anchor);
        let principal = access.session(&id);
        new_session = Some(id);
        principal
    } else {
        None
    };
    match &principal {
        Some(principal) => {
            let action = request.method() != Method::GET && request.method() != Method::HEAD;
            if action
                && path != "/login"
                && let Some(expected) = &principal.csrf
            {
                let presented = request
                    .headers()
                    .get(CSRF_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                if !constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
                    return error_response(
                        StatusCode::FORBIDDEN,
                        "missing or wrong session token (X-CSRF-Token): reload the page",
                    );
                }
            }
            request.extensions_mut().insert(principal.clone());
        }
        None if assets => {}
        None if is_page(&path) => return Redirect::to("/login").into_response(),
        None => {
            return error_response(
                StatusCode::UNAUTHORIZED,
                "sign in at /login, or send `Authorization: Bearer <secret>` with a secret from [web.tokens] in brain.toml",
            );
        }
    }
    let mut response = next.run(request).await;
    if let Some(id) = new_session {
        response
            .headers_mut()
            .append(header::SET_COOKIE, session_cookie(&id));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_servers_answer_to_loopback_names_only() {
        let access = Access::new(Vec::new(), "127.0.0.1:7332".parse().unwrap());
        assert!(access.host_allowed("127.0.0.1:7332"));
        assert!(access.host_allowed("localhost:7332"));
        assert!(access.host_allowed("[::1]:7332"));
        assert!(!access.host_allowed("evil.example:7332"));
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; brain_session=abc; b=2"),
        );
        assert_eq!(cookie(&headers, COOKIE), Some("abc"));
        assert_eq!(cookie(&headers, "c"), None);
    }
}
