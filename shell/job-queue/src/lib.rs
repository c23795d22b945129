//! The durable job queue every slow operation of brains runs on: SQLite in WAL mode at a
//! path the caller gives, typed job handlers, a worker pool woken by enqueues, durable
//! batches, leases with heartbeats for crash recovery, and the push-based progress monitor
//! that publishes `JobProgressEvent`s with timing estimates on the bus.
//!
//! ```text
//! Queue::enqueue ──► writer thread (group commit) ──► SQLite (WAL)
//!                        │ effects after commit
//!                        ▼
//! WorkerPool ──claim/finish──►  Monitor ──► Bus<Event> ──► interfaces
//!    └─ handler.report_progress ──┘ (atomics; wakes the monitor once per publish)
//! ```
//!
//! Several processes may open one database: claims are exclusive (one writer at a time,
//! lease tokens fence late completions), and progress snapshots are persisted so a
//! process can watch work another process runs.

mod error;
mod estimate;
mod metrics;
mod monitor;
mod pool;
#[cfg(test)]
mod query_plans;
mod queue;
mod store;
mod util;
mod wake;

pub use brain_sqlite_file::WAL_SIZE_LIMIT;
pub use error::{QueueError, Result};
pub use estimate::{DurationStats, Estimate};
pub use pool::{ShutdownReport, WorkerConfig, WorkerPool};
pub use queue::{CancelOutcome, Enqueued, JobState, Queue, QueueConfig, Watch, WorkerInfo};
// The job requests are plugin-facing data; re-exported so queue users need one import.
pub use brain_plugin_api::{NewBatch, NewJob};
pub use store::{JobRecord, ListFilter};
