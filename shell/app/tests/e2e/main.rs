//! End-to-end tests of the `brain` binary with real peers that are installed on first use:
//! the Python and TypeScript MCP SDKs (PyPI, npm), Synapse (PyPI) and Debian's Chromium;
//! and PostgreSQL 15 with hosts in network namespaces (`hosts`, as root).
//! Built only with the `e2e` feature; `scripts/test.sh` runs this tier after the hermetic
//! one (`cargo test -p brain --features e2e --test e2e`).

// clippy.toml allows unwrap in #[test] functions only; the shared helpers here are tests too.
#![allow(clippy::unwrap_used)]

mod browser;
mod hosts;
mod matrix;
mod mcp;
mod web;
// Shared with the hermetic tier, which uses all of it; this tier uses a part.
#[allow(dead_code, unused_imports)]
#[path = "../support/mod.rs"]
mod support;
