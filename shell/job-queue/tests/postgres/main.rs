//! The job queue's integration suite on PostgreSQL: the same test files as
//! `tests/integration` (all but those about the SQLite file itself), each test on a fresh
//! database of a real server — `DATABASE_URL`'s, or a throwaway cluster this binary starts
//! (see `support::postgres`) — plus what only PostgreSQL has (`schema.rs`, `restart.rs`, `tls.rs`).

// Helpers outside `#[test]` functions unwrap too: any failure there should fail the test.
#![allow(clippy::unwrap_used)]

#[path = "../integration/support.rs"]
mod support;

/// The driver this binary tests.
const DRIVER: support::Driver = support::Driver::Postgres;

#[path = "../integration/cancel.rs"]
mod cancel;
#[path = "../integration/concurrent.rs"]
mod concurrent;
#[path = "../integration/crash.rs"]
mod crash;
#[path = "../integration/delayed.rs"]
mod delayed;
#[path = "../integration/dependencies.rs"]
mod dependencies;
#[path = "../integration/history.rs"]
mod history;
#[path = "../integration/invalid.rs"]
mod invalid;
#[path = "../integration/lease.rs"]
mod lease;
#[path = "../integration/lifecycle.rs"]
mod lifecycle;
#[path = "../integration/monitor.rs"]
mod monitor;
#[path = "../integration/priorities.rs"]
mod priorities;
#[path = "../integration/prune.rs"]
mod prune;
#[path = "../integration/retries.rs"]
mod retries;
#[path = "../integration/shutdown.rs"]
mod shutdown;
#[path = "../integration/smoke.rs"]
mod smoke;
#[path = "../integration/status.rs"]
mod status;
#[path = "../integration/two_processes.rs"]
mod two_processes;
#[path = "../integration/unique.rs"]
mod unique;
#[path = "../integration/wording.rs"]
mod wording;

mod restart;
mod schema;
mod tls;
