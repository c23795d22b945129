//! The example plugin in a real brain: `brain-example` (the stock binary plus this plugin)
//! scaffolds a brain, runs it in the background, starts a count through the CLI and follows
//! it to its result — exactly what the plugin guide shows a person doing — and types the
//! plugin's declared commands in the CLI and the chat, which no interface names.

// clippy.toml allows unwrap in #[test] functions only; the shared helpers here are tests too.
#![allow(clippy::unwrap_used)]

mod commands;
mod count;
mod support;
// The stock brain's chat-test terminal, shared rather than copied (not every helper is used).
#[allow(dead_code)]
#[path = "../../../../shell/app/tests/support/term.rs"]
mod term;
