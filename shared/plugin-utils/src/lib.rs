//! What plugin and interface authors build against: job handlers and their context, the
//! JSON shapes an async operation answers with (`AsyncToolResponse`, `JobStatusResponse`,
//! `ProgressNotification`), the progress events the engine publishes, and where they go.
//!
//! Nothing here touches SQLite, tokio runtimes or an interface library: the shell's crates
//! implement what this crate declares, so a plugin depends on this crate alone.

mod event;
mod human;
mod job;
mod response;
mod source;

pub use brain_messaging::{Bus, BusEvent, Delivery, Subscription, TryRecvError};
pub use event::{
    BatchDetails, Event, ItemError, JobDetails, JobProgressEvent, PluginEvent, Timing, Update,
};
pub use human::{format_duration, format_range, format_short, round_check_interval};
pub use job::{
    DynJobHandler, JobContext, JobError, JobHandler, JobInfo, ProgressCell, ProgressSnapshot,
    erase_handler,
};
pub use response::{
    AsyncToolResponse, DurationRangeMs, JobKind, JobStatus, JobStatusEntry, JobStatusResponse,
    Progress, ProgressNotification, StartStatus,
};
pub use source::{InvalidSource, Source, Target};
