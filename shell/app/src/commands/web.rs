//! `brain web`: serves the web dashboard (live operations, actions, `/metrics`) at
//! `--http ADDR`, else `[web] http`, else 127.0.0.1:7332 — with the job workers unless
//! `--no-workers`. [`configured`] is the dashboard `brain start` runs when `[web] http` is
//! set. Built with the `web` feature; without it the command and `[web] http` are refused
//! (exit 2).

use clap::Args;

#[cfg(feature = "web")]
pub(crate) use with_web::{configured, run};
#[cfg(not(feature = "web"))]
pub(crate) use without_web::{configured, run};

/// `brain web`'s options.
#[derive(Debug, Args)]
#[cfg_attr(not(feature = "web"), allow(dead_code))]
pub(crate) struct WebArgs {
    /// Serve at this address (default: [web] http, else 127.0.0.1:7332; port 0: any free
    /// port). A non-loopback address needs [web.tokens] in brain.toml.
    #[arg(long, value_name = "ADDR")]
    http: Option<String>,
    /// Serve only GET /metrics (Prometheus), no pages or actions
    #[arg(long)]
    metrics_only: bool,
    /// Run no job workers here, only the dashboard: a `brain start` beside it runs the work
    #[arg(long)]
    no_workers: bool,
}

#[cfg(feature = "web")]
mod with_web {
    use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
    use std::sync::Arc;

    use brain_core::Shell;
    use brain_plugin_api::Interface;
    use brain_web::{WebConfig, WebInterface};

    use super::WebArgs;
    use crate::commands::Brain;
    use crate::commands::start::{self, Workers};
    use crate::exit;

    /// Where `brain web` serves when neither the command line nor [web] says.
    const DEFAULT_ADDR: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 7332));

    pub(crate) async fn run(brain: &Brain, args: WebArgs) -> anyhow::Result<()> {
        let addr = args
            .http
            .as_deref()
            .map(|text| {
                brain_plugin_api::parse_listen_addr(text)
                    .map_err(|message| exit::usage(format!("invalid --http {text:?}: {message}")))
            })
            .transpose()?;
        start::serve(brain, Workers::from_flag(args.no_workers), |shell| {
            let mut config = web_config(shell)?;
            config.metrics_only |= args.metrics_only;
            config.http = Some(addr.or(config.http).unwrap_or(DEFAULT_ADDR));
            checked(&config)?;
            Ok(WebInterface::from_config(config)
                .map(|web| Arc::new(web) as Arc<dyn Interface>)
                .into_iter()
                .collect())
        })
        .await
    }

    /// The dashboard `brain start` runs, when `[web] http` asks for one.
    pub(crate) fn configured(shell: &Shell) -> anyhow::Result<Option<Arc<dyn Interface>>> {
        let config = web_config(shell)?;
        checked(&config)?;
        Ok(WebInterface::from_config(config).map(|web| Arc::new(web) as Arc<dyn Interface>))
    }

    /// `[web]` from the shell's configuration; every mistake in it is a configuration error
    /// (exit 2), checked before anything starts.
    fn web_config(shell: &Shell) -> anyhow::Result<WebConfig> {
        WebConfig::parse(&shell.config().section_json("web"))
            .map_err(|error| exit::usage(format!("invalid configuration: {error}")))
    }

    /// An open address without tokens is refused before anything starts.
    fn checked(config: &WebConfig) -> anyhow::Result<()> {
        if let Some(addr) = config.http {
            config
                .check_open(addr)
                .map_err(|error| exit::usage(error.to_string()))?;
        }
        Ok(())
    }
}

#[cfg(not(feature = "web"))]
mod without_web {
    use std::sync::Arc;

    use brain_core::Shell;
    use brain_plugin_api::Interface;

    use super::WebArgs;
    use crate::commands::Brain;
    use crate::exit;

    pub(crate) async fn run(_brain: &Brain, _args: WebArgs) -> anyhow::Result<()> {
        Err(without())
    }

    /// The dashboard `brain start` runs, when `[web] http` asks for one.
    pub(crate) fn configured(shell: &Shell) -> anyhow::Result<Option<Arc<dyn Interface>>> {
        match shell.config().section("web") {
            Some(section) if section.get("http").is_some() => Err(without()),
            _ => Ok(None),
        }
    }

    fn without() -> anyhow::Error {
        exit::usage(
            "this brain was built without the web dashboard: `brain web` and [web] http need \
             the `web` cargo feature of the `brain` crate (on by default)",
        )
    }
}
