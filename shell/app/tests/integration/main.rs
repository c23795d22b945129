//! End-to-end tests of the `brain` binary: each runs the real executable in a temporary
//! folder and checks its exit code, stdout and stderr — the contract scripts rely on.

// clippy.toml allows unwrap in #[test] functions only; the shared helpers here are tests too.
#![allow(clippy::unwrap_used)]

mod browser;
mod chat;
mod cli;
mod config;
mod init;
mod matrix;
mod mcp;
mod progress;
mod site;
mod start;
mod support;
mod tools;
