//! Streamable HTTP at `/mcp`: rmcp's service (Host and Origin validation against DNS
//! rebinding, the body limit, SSE keep-alive, sessions for initialize-era clients) behind
//! a bearer-token layer that maps each token to a principal and permission level.
//! Refuses to bind a non-loopback address without tokens.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use crate::config::{McpConfig, McpError};
use crate::server::{BrainServer, Principal, Shared};

/// A running HTTP server.
pub struct HttpServer {
    addr: SocketAddr,
    stopping: CancellationToken,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl HttpServer {
    /// The address it listens on (the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, ends open streams, and waits for the server task.
    pub async fn stop(self) {
        // Waiting calls answer first (with their job handle); then the streams close.
        self.stopping.cancel();
        tokio::time::sleep(crate::ANSWER_GRACE).await;
        self.cancel.cancel();
        if tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .is_err()
        {
            tracing::warn!("the MCP HTTP server did not stop within 5 s");
        }
    }
}

/// Starts serving `shell` over streamable HTTP on `addr` (path `/mcp`).
pub async fn serve_http(
    shell: Arc<dyn brain_plugin_api::ShellHandle>,
    config: McpConfig,
    addr: SocketAddr,
) -> Result<HttpServer, McpError> {
    if !addr.ip().is_loopback() && config.tokens.is_empty() {
        return Err(McpError::OpenWithoutTokens { addr });
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| McpError::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| McpError::Bind { addr, source })?;
    let cancel = CancellationToken::new();
    let mut hosts: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    if !addr.ip().is_loopback() && !addr.ip().is_unspecified() {
        hosts.push(addr.ip().to_string());
    }
    hosts.extend(config.allowed_hosts.iter().cloned());
    let rmcp_config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts)
        .with_allowed_origins(config.allowed_origins.clone())
        .enforce_origin_validation()
        .with_sse_keep_alive(Some(config.keep_alive))
        .with_max_request_body_bytes(config.max_body_bytes)
        .with_legacy_session_mode(true)
        .with_cancellation_token(cancel.child_token());
    let stopping = CancellationToken::new();
    let shared = Arc::new(Shared {
        shell,
        config: config.clone(),
        stopping: stopping.clone(),
    });
    let service = StreamableHttpService::new(
        move || Ok(BrainServer::new(shared.clone(), None)),
        LocalSessionManager::default().into(),
        rmcp_config,
    );
    let router = axum::Router::new().route_service("/mcp", service).layer(
        axum::middleware::from_fn_with_state(Arc::new(config), authenticate),
    );
    let shutdown = cancel.clone();
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(error) = served {
            tracing::error!(%error, "the MCP HTTP server stopped");
        }
    });
    tracing::info!(%addr, "serving MCP over HTTP at /mcp");
    Ok(HttpServer {
        addr,
        stopping,
        cancel,
        task,
    })
}

/// Reads the whole body first (up to the body limit), then maps `Authorization: Bearer
/// <secret>` to a principal; 401 without a valid one when tokens are configured. Without
/// tokens (loopback only) callers are the owner.
///
/// Why the body first: a refusal sent before the body was read leaves it unread on the
/// socket, and hyper then closes the connection after answering — without a `Connection:
/// close` header, so a client reusing the pooled connection for its next request sees
/// "server disconnected without sending a response". Read first, every refusal (ours, or
/// rmcp's 403 for a foreign Host or Origin) leaves the connection usable; a body over the
/// limit is read to its end and dropped (within bounds), then refused with `Connection:
/// close` — so the client, done sending, reads the 413 rather than a reset.
async fn authenticate(
    State(config): State<Arc<McpConfig>>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = match read_body(body, config.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(refusal) => return refusal,
    };
    let mut request = Request::from_parts(parts, Body::from(body));
    let principal = if config.tokens.is_empty() {
        Principal::local()
    } else {
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim);
        match presented.map(|secret| config.token(secret)) {
            Some(Some(token)) => Principal {
                name: token.name.clone(),
                permission: token.permission,
            },
            Some(None) => return unauthorized("invalid bearer token"),
            None => {
                return unauthorized(
                    "missing bearer token: send `Authorization: Bearer <secret>` with a secret from [mcp.tokens] in brain.toml",
                );
            }
        }
    };
    request.extensions_mut().insert(principal);
    next.run(request).await
}

/// How much of a body over the limit is read and dropped before the refusal, and for how
/// long: a client still sending when the connection closes gets a reset instead of the
/// 413. Beyond either bound the connection closes anyway.
const DRAIN_BYTES: usize = 16 << 20;
const DRAIN_TIME: Duration = Duration::from_secs(5);

/// The whole body, if it is at most `limit` bytes; else the refusal — 413 once the rest of
/// an oversized body has been read (within [`DRAIN_BYTES`] and [`DRAIN_TIME`]), 400 for a
/// body that could not be read.
async fn read_body(mut body: Body, limit: usize) -> Result<axum::body::Bytes, Response> {
    use http_body_util::BodyExt;
    let mut kept = Vec::new();
    let mut over = 0usize;
    let reading = async {
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|error| unreadable_body(&error.to_string(), false, limit))?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if over > 0 || kept.len() + data.len() > limit {
                over += data.len();
                kept = Vec::new();
                if over > DRAIN_BYTES {
                    break;
                }
                continue;
            }
            kept.extend_from_slice(&data);
        }
        Ok(())
    };
    match tokio::time::timeout(DRAIN_TIME, reading).await {
        Ok(Err(refusal)) => return Err(refusal),
        Err(_) if over == 0 => {
            return Err(unreadable_body("it took too long to arrive", false, limit));
        }
        _ => {}
    }
    if over > 0 {
        return Err(unreadable_body("", true, limit));
    }
    Ok(kept.into())
}

/// 413 for a body over the limit, 400 for one that could not be read; both close the
/// connection (what may be left of the body is still on it).
fn unreadable_body(error: &str, too_large: bool, limit: usize) -> Response {
    let (status, message) = if too_large {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body larger than {limit} bytes ([mcp] max_body_bytes)"),
        )
    } else {
        (
            StatusCode::BAD_REQUEST,
            format!("cannot read the request body: {error}"),
        )
    };
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": -32600, "message": message},
    });
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn unauthorized(message: &str) -> Response {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": -32001, "message": message},
    });
    let mut response = (StatusCode::UNAUTHORIZED, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"brain\""),
    );
    response
}
