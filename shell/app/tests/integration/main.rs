//! Hermetic tests of the `brain` binary: each runs the real executable in a temporary folder
//! and checks its exit code, stdout and stderr — the contract scripts rely on. Nothing here
//! needs the network, a package install or a browser (those tests are in tests/e2e).

// clippy.toml allows unwrap in #[test] functions only; the shared helpers here are tests too.
#![allow(clippy::unwrap_used)]

mod architecture;
mod chat;
mod cli;
mod config;
mod conventions;
mod faults;
mod init;
mod liveness;
mod locks;
#[cfg(feature = "mcp")]
mod mcp;
mod ownership;
mod polling;
mod progress;
mod serve;
mod site;
mod start;
// Without the MCP interface (`--no-default-features`) its helpers go unused.
#[cfg_attr(not(feature = "mcp"), allow(dead_code))]
#[path = "../support/mod.rs"]
mod support;
#[path = "../support/term.rs"]
mod term;
mod tools;
#[cfg(feature = "web")]
mod web;
