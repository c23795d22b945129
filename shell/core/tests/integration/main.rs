//! Integration tests of the shell on real brain directories: plugin registration, tool
//! permissions and validation, configuration errors, plugin start-up failures.

// clippy.toml allows unwrap in #[test] functions only; the shared helpers here are tests too.
#![allow(clippy::unwrap_used)]

mod support;

mod config;
mod notes;
mod permissions;
mod plugins;
mod tools;
