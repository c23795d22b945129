//! Integration tests of the job queue on real SQLite files: one binary, a module per area.
//! The crash and two-process tests re-execute this binary as worker processes. The modules
//! that do not touch the file itself run on PostgreSQL too (`tests/postgres`).

// Helpers outside `#[test]` functions unwrap too: any failure there should fail the test.
#![allow(clippy::unwrap_used)]

mod support;

/// The driver this binary tests.
const DRIVER: support::Driver = support::Driver::Sqlite;

mod bad_input;
mod cancel;
mod concurrent;
mod crash;
mod delayed;
mod dependencies;
mod disk_full;
mod history;
mod invalid;
mod lease;
mod lifecycle;
mod liveness;
mod monitor;
mod priorities;
mod prune;
mod retries;
mod shutdown;
mod smoke;
mod status;
mod two_processes;
mod unique;
mod wal;
mod wording;
