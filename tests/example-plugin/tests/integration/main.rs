//! The example plugin in a real brain: `brain-example` (the stock binary plus this plugin)
//! scaffolds a brain, runs it in the background, starts a count through the CLI and follows
//! it to its result — exactly what the plugin guide shows a person doing.

// clippy.toml allows unwrap in #[test] functions only; the shared helpers here are tests too.
#![allow(clippy::unwrap_used)]

mod count;
mod support;
