//! The web dashboard, a fourth interface over the same shell: live pages (overview,
//! operations, an operation's record, estimates, a form to start any tool the caller may
//! run) kept current by Server-Sent Events from one shared follower of the queue, actions
//! through the shell as the signed-in caller, and `GET /metrics` for Prometheus.
//! Served by `brain web`, and by `brain start` when `[web] http` is set.

mod api;
mod auth;
mod config;
mod hub;
mod metrics;
mod pages;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::routing::{get, post};
use brain_plugin_api::{Interface, PluginError, ShellHandle};
use tokio_util::sync::CancellationToken;

pub use config::{WebConfig, WebError};

/// A running dashboard server.
pub struct WebServer {
    addr: SocketAddr,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl WebServer {
    /// The address it listens on (the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Ends the event streams, stops accepting, and waits for the server task.
    pub async fn stop(self) {
        self.stop.cancel();
        if tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .is_err()
        {
            tracing::warn!("the web server did not stop within 5 s");
        }
    }
}

/// Starts serving `shell` on `addr`: the dashboard, or only `/metrics` when
/// `config.metrics_only`.
pub async fn serve_web(
    shell: Arc<dyn ShellHandle>,
    config: WebConfig,
    addr: SocketAddr,
) -> Result<WebServer, WebError> {
    config.check_open(addr)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| WebError::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| WebError::Bind { addr, source })?;
    let stop = CancellationToken::new();
    let access = Arc::new(auth::Access::new(config.tokens.clone(), addr));
    let hub = hub::Hub::start(shell.clone(), stop.child_token(), !config.metrics_only);
    let app = Arc::new(api::App {
        shell,
        hub,
        access: access.clone(),
        hide_inputs: config.hide_inputs,
    });
    let mut router = Router::new().route("/metrics", get(metrics::metrics));
    if !config.metrics_only {
        router = router
            .route("/", get(pages::overview))
            .route("/ops", get(pages::ops))
            .route("/ops/{id}", get(pages::op))
            .route("/estimates", get(pages::estimates))
            .route("/start", get(pages::start))
            .route("/login", get(pages::login_page).post(pages::login))
            .route("/assets/app.js", get(pages::app_js))
            .route("/assets/app.css", get(pages::app_css))
            .route("/api/overview", get(api::overview))
            .route("/api/events", get(api::events))
            .route("/api/ops", get(api::ops))
            .route("/api/ops/{id}", get(api::op))
            .route("/api/ops/{id}/cancel", post(api::cancel))
            .route("/api/ops/{id}/retry", post(api::retry))
            .route("/api/estimates", get(api::estimates))
            .route("/api/tools", get(api::tools))
            .route("/api/tools/{name}", post(api::start));
    }
    let router = router
        .layer(axum::middleware::from_fn_with_state(
            access,
            auth::authenticate,
        ))
        .with_state(app);
    let shutdown = stop.clone();
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(error) = served {
            tracing::error!(%error, "the web server stopped");
        }
    });
    tracing::info!(%addr, "serving the web dashboard");
    Ok(WebServer { addr, stop, task })
}

/// The dashboard `brain start` runs when `[web] http` is set.
pub struct WebInterface {
    config: WebConfig,
    server: tokio::sync::Mutex<Option<WebServer>>,
    addr: Mutex<Option<SocketAddr>>,
}

impl WebInterface {
    /// `None` when `[web]` asks for no server.
    pub fn from_config(config: WebConfig) -> Option<Self> {
        config.http.map(|_| Self {
            config,
            server: tokio::sync::Mutex::new(None),
            addr: Mutex::new(None),
        })
    }

    /// Where it listens, once started.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        *self.addr.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl Interface for WebInterface {
    fn name(&self) -> &str {
        "web"
    }

    async fn start(&self, shell: Arc<dyn ShellHandle>) -> Result<(), PluginError> {
        let Some(addr) = self.config.http else {
            return Ok(());
        };
        let server = serve_web(shell, self.config.clone(), addr)
            .await
            .map_err(|e| PluginError::new(e.to_string()))?;
        let addr = server.local_addr();
        *self.addr.lock().unwrap_or_else(|e| e.into_inner()) = Some(addr);
        // Said on stderr so a person (or a test asking for port 0) knows where to look.
        let (what, path) = if self.config.metrics_only {
            ("brain metrics at", "metrics")
        } else {
            ("brain dashboard at", "")
        };
        eprintln!("{what} http://{addr}/{path}");
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
