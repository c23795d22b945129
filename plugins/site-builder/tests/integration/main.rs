//! The site builder's integration tests: the plugin registered against a recording
//! context in a temporary brain folder, its tools called and its job handlers run
//! directly, as the shell would (without a queue).

#![allow(clippy::unwrap_used)]

mod build;
mod config;
mod contract;
mod generate;
mod notes;
mod publish;
mod support;
mod tools;
