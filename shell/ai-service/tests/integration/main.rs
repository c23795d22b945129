//! Integration tests of the content generators: the OpenAI-compatible client against a
//! loopback HTTP server the tests script (support.rs), the local composer's output shapes,
//! and building either from the `[ai]` section.

// Helpers outside `#[test]` functions unwrap too: any failure there should fail the test.
#![allow(clippy::unwrap_used)]

mod support;

mod config;
mod local;
mod openai;
