//! `brain mcp`: serves the brain over MCP — stdio by default (stdout carries only the
//! protocol; logs go to stderr), streamable HTTP at `/mcp` with `--http ADDR`. Like
//! `brain start` it runs the job workers, so the jobs its tools start actually run. Stops
//! gracefully on SIGINT/SIGTERM and, on stdio, when the client closes stdin; jobs still
//! running then go back to the queue for the next start.
//! [`configured`] is the HTTP interface `brain start` runs when `[mcp] http` is set.
//! Built with the `mcp` feature; without it the command and `[mcp] http` are refused (exit 2).

use clap::Args;

#[cfg(feature = "mcp")]
pub(crate) use with_mcp::{configured, run};
#[cfg(not(feature = "mcp"))]
pub(crate) use without_mcp::{configured, run};

/// `brain mcp`'s options.
#[derive(Debug, Args)]
#[cfg_attr(not(feature = "mcp"), allow(dead_code))]
pub(crate) struct McpArgs {
    /// Serve streamable HTTP at this address (path /mcp) instead of stdio, e.g.
    /// 127.0.0.1:7331 (port 0: any free port). A non-loopback address needs
    /// [mcp.tokens] in brain.toml.
    #[arg(long, value_name = "ADDR")]
    http: Option<String>,
    /// Seconds a call with a progress token stays open before it answers with the job id
    /// and the job goes on (default: [mcp] wait_seconds, else 45).
    #[arg(long, value_name = "SECONDS")]
    wait_seconds: Option<u64>,
    /// Run no job workers here, only the MCP server: a `brain start` beside it runs the
    /// work (until one does, the work waits for a worker)
    #[arg(long)]
    no_workers: bool,
}

#[cfg(feature = "mcp")]
mod with_mcp {
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::time::Duration;

    use anyhow::Context;
    use brain_core::Shell;
    use brain_mcp::{CancellationToken, McpConfig, McpError, McpInterface};
    use brain_plugin_api::Interface;

    use super::McpArgs;
    use crate::commands::Brain;
    use crate::commands::start::{self, SHUTDOWN_GRACE, Signals, Workers};
    use crate::exit;

    pub(crate) async fn run(brain: &Brain, args: McpArgs) -> anyhow::Result<()> {
        let wait = args.wait_seconds.map(Duration::from_secs);
        let workers = Workers::from_flag(args.no_workers);
        let Some(text) = &args.http else {
            return stdio(brain, wait, workers).await;
        };
        let addr = brain_plugin_api::parse_listen_addr(text)
            .map_err(|message| exit::usage(format!("invalid --http {text:?}: {message}")))?;
        start::serve(brain, workers, |shell| {
            let config = mcp_config(shell, Some(addr), wait)?;
            Ok(McpInterface::from_config(config)
                .map(|mcp| Arc::new(mcp) as Arc<dyn Interface>)
                .into_iter()
                .collect())
        })
        .await
    }

    /// The MCP interface `brain start` runs, when `[mcp] http` asks for one.
    pub(crate) fn configured(shell: &Shell) -> anyhow::Result<Option<Arc<dyn Interface>>> {
        let config = mcp_config(shell, None, None)?;
        Ok(McpInterface::from_config(config).map(|mcp| Arc::new(mcp) as Arc<dyn Interface>))
    }

    /// One MCP connection over stdin/stdout, as the owner, until the client closes stdin or a
    /// stop signal.
    async fn stdio(brain: &Brain, wait: Option<Duration>, workers: Workers) -> anyhow::Result<()> {
        let mut signals = Signals::new().context("cannot listen for stop signals")?;
        let shell = brain.open_shell().await?;
        let config = mcp_config(&shell, None, wait)?;
        start::start_work(&shell, workers).await?;
        let stop = CancellationToken::new();
        let serving = brain_mcp::serve_stdio(shell.handle(), config, stop.clone());
        tokio::pin!(serving);
        let served = tokio::select! {
            served = &mut serving => served,
            _ = signals.next() => {
                stop.cancel();
                serving.await
            }
        };
        shell.shutdown(SHUTDOWN_GRACE).await;
        served.context("MCP over stdio failed")
    }

    /// `[mcp]` from the shell's configuration with the command line's overrides and the task
    /// ttl from `[queue]`. Every mistake in it is a configuration error (exit 2), checked
    /// before anything starts — an open address without tokens included.
    fn mcp_config(
        shell: &Shell,
        http: Option<SocketAddr>,
        wait: Option<Duration>,
    ) -> anyhow::Result<McpConfig> {
        let mut config = McpConfig::parse(&shell.config().section_json("mcp"))
            .map_err(|error| exit::usage(format!("invalid configuration: {error}")))?;
        config.retention =
            Duration::from_secs(u64::from(shell.config().queue.retention_days) * 86_400);
        if let Some(http) = http {
            config.http = Some(http);
        }
        if let Some(wait) = wait {
            config.wait = wait;
        }
        if let Some(addr) = config.http
            && !addr.ip().is_loopback()
            && config.tokens.is_empty()
        {
            return Err(exit::usage(
                McpError::OpenWithoutTokens { addr }.to_string(),
            ));
        }
        Ok(config)
    }
}

#[cfg(not(feature = "mcp"))]
mod without_mcp {
    use std::sync::Arc;

    use brain_core::Shell;
    use brain_plugin_api::Interface;

    use super::McpArgs;
    use crate::commands::Brain;
    use crate::exit;

    pub(crate) async fn run(_brain: &Brain, _args: McpArgs) -> anyhow::Result<()> {
        Err(without())
    }

    /// The MCP interface `brain start` runs, when `[mcp] http` asks for one.
    pub(crate) fn configured(shell: &Shell) -> anyhow::Result<Option<Arc<dyn Interface>>> {
        match shell.config().section("mcp") {
            Some(section) if section.get("http").is_some() => Err(without()),
            _ => Ok(None),
        }
    }

    /// A binary built with `--no-default-features` (or a plugin's binary without `mcp`).
    fn without() -> anyhow::Error {
        exit::usage(
            "this brain was built without the MCP interface: `brain mcp` and [mcp] http need \
             the `mcp` cargo feature of the `brain` crate (on by default)",
        )
    }
}
