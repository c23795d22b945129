//! Integration tests of the notes index on real temporary folders and database files: one
//! binary, a module per area.

// Helpers outside `#[test]` functions unwrap too: any failure there should fail the test.
#![allow(clippy::unwrap_used)]

mod support;

mod cancel;
mod crash;
mod open;
mod reindex;
mod search;
mod tagged;
