//! The MCP interface: the shell's tools (with structured content, progress notifications
//! for the jobs they start, and SEP-2663 tasks backed by the durable job queue), the job
//! resources `brain://jobs` and `brain://jobs/{id}` with subscriptions, and job-lifecycle
//! log messages — over stdio ([`serve_stdio`]) and streamable HTTP ([`serve_http`]), for
//! initialize-era (2025-06-18, 2025-11-25) and 2026-07-28 clients alike.

mod config;
mod follow;
mod framing;
mod http;
mod server;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use brain_plugin_api::{Interface, PluginError, ShellHandle};
use rmcp::ServiceExt;

pub use config::{McpConfig, McpError, TokenConfig};
pub use http::{HttpServer, serve_http};
pub use server::{BrainServer, Principal};
/// Re-exported so callers can stop [`serve_stdio`] without depending on tokio-util.
pub use tokio_util::sync::CancellationToken;

/// How long a stopping server gives calls that wait on a job to send their answer.
const ANSWER_GRACE: std::time::Duration = std::time::Duration::from_millis(300);

/// Serves `shell` over stdin/stdout until the client closes stdin or `stop` fires. The
/// connection is the owner (anchor); its tasks are its own.
pub async fn serve_stdio(
    shell: Arc<dyn ShellHandle>,
    config: McpConfig,
    stop: CancellationToken,
) -> Result<(), McpError> {
    let shared = Arc::new(server::Shared {
        shell,
        config,
        stopping: stop.clone(),
    });
    let server = BrainServer::new(shared, Some(Principal::stdio()));
    let running = tokio::select! {
        running = server.serve(framing::stdio_pumps(tokio::io::stdin(), tokio::io::stdout())) => {
            running.map_err(|e| McpError::Transport(e.to_string()))?
        }
        () = stop.cancelled() => return Ok(()),
    };
    let cancel = running.cancellation_token();
    let watcher = tokio::spawn(async move {
        stop.cancelled().await;
        // Waiting calls answer first (with their job handle); then the connection closes.
        tokio::time::sleep(ANSWER_GRACE).await;
        cancel.cancel();
    });
    let quit = running.waiting().await;
    watcher.abort();
    tracing::debug!(?quit, "MCP stdio connection ended");
    Ok(())
}

/// The HTTP interface `brain start` runs when `[mcp] http` is set.
pub struct McpInterface {
    config: McpConfig,
    server: tokio::sync::Mutex<Option<HttpServer>>,
    addr: Mutex<Option<std::net::SocketAddr>>,
}

impl McpInterface {
    /// `None` when `[mcp]` asks for no HTTP server.
    pub fn from_config(config: McpConfig) -> Option<Self> {
        config.http.map(|_| Self {
            config,
            server: tokio::sync::Mutex::new(None),
            addr: Mutex::new(None),
        })
    }

    /// Where it listens, once started.
    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        *self.addr.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl Interface for McpInterface {
    fn name(&self) -> &str {
        "mcp"
    }

    async fn start(&self, shell: Arc<dyn ShellHandle>) -> Result<(), PluginError> {
        let Some(addr) = self.config.http else {
            return Ok(());
        };
        let server = serve_http(shell, self.config.clone(), addr)
            .await
            .map_err(|e| PluginError::new(e.to_string()))?;
        *self.addr.lock().unwrap_or_else(|e| e.into_inner()) = Some(server.local_addr());
        // Said on stderr so a person (or a test asking for port 0) knows where to connect.
        eprintln!("brain MCP server at http://{}/mcp", server.local_addr());
        *self.server.lock().await = Some(server);
        Ok(())
    }

    async fn stop(&self) -> Result<(), PluginError> {
        if let Some(server) = self.server.lock().await.take() {
            server.stop().await;
        }
        Ok(())
    }
}
