//! What plugin and interface authors build against: job handlers and their context, the
//! JSON shapes an async operation answers with (`AsyncToolResponse`, `JobStatusResponse`,
//! `ProgressNotification`), the progress events the engine publishes, and where they go.
//!
//! It also holds the plugin API: the [`Plugin`] trait, [`ToolSpec`]s, the [`PluginContext`]
//! a plugin calls at run time, and the [`Interface`]/[`ShellHandle`] pair interfaces use.
//!
//! Nothing here touches SQLite, tokio runtimes or an interface library: the shell's crates
//! implement what this crate declares, so a plugin depends on this crate alone.
//!
#![doc = include_str!("../README.md")]

mod access;
mod capture;
mod command;
mod dashboard;
mod effect;
mod event;
mod generate;
mod human;
mod interface;
mod job;
mod mistake;
mod notes;
mod outcome;
mod permission;
mod plugin;
mod request;
mod response;
mod source;
pub mod testing;
mod tool;

pub use access::{
    AccessToken, TokenProblem, constant_time_eq, find_token, parse_listen_addr, parse_tokens,
};
pub use brain_messaging::Subscription;
pub use command::{
    ArgKind, ArgSpec, Call, CommandError, CommandSpec, CommandTable, Parsed, Spelling, Want,
    matching,
};
pub use dashboard::{
    EstimateEntry, EstimatedRun, HistogramCounts, HistoryPage, HistoryQuery, JobRecordView,
    MinuteCount, OperationDetail, ProcessMetrics, QueueStats, StateCount, TypeMetrics, WorkerEntry,
};
pub use effect::{SideEffect, process_tag, process_tag_for, tagged_process_gone, write_atomic};
pub use event::{
    BatchDetails, Event, ItemError, JobDetails, JobProgressEvent, PluginEvent, Timing, Update,
};
pub use generate::{Answer, ContentGenerator, GenerateError, GenerationRequest, NoteHit};
pub use human::{ECHO_CHARS, clip_echoes, format_duration, format_range, format_short, shorten};
pub use interface::{Follow, FollowStream, Interface, ResourceInfo, ShellHandle};
pub use job::{JobContext, JobError, JobHandler};
pub use mistake::{did_you_mean, unknown_key, unknown_key_here};
pub use notes::{NoteText, is_published, tag_key};
pub use outcome::{Outcome, Wording};
pub use permission::{Caller, Permission};
pub use plugin::{
    BrainDirs, CompleteRequest, PLUGIN_API_VERSION, Plugin, PluginContext, PluginError, Registrar,
    Registration, ResourceContent, ResourceHandler, ResourceSpec,
};
pub use request::{AfterFailure, NewBatch, NewJob};
pub use response::{
    AsyncToolResponse, Dependency, DurationRangeMs, JobKind, JobListing, JobLog, JobLogLine,
    JobStatus, JobStatusEntry, JobStatusResponse, ListedJob, Progress, ProgressNotification,
    START_A_WORKER, StartStatus, WAITING_FOR_WORKER, rescued_line, waiting_for_line,
};
pub use source::{InvalidSource, Source, Target};
pub use tool::{
    ProgressSink, ToolContext, ToolError, ToolHandler, ToolInfo, ToolResult, ToolSpec,
    either_schema, schema_of,
};

/// What the shell's own crates (the job queue, the shell) build on and plugin and interface
/// authors do not: the erased job handler, the progress cell a worker reads, the bus, and
/// the checks the shell applies at registration. Not part of the plugin API's promises.
pub mod engine {
    pub use crate::job::{
        DynJobHandler, JobInfo, ProgressCell, ProgressSnapshot, erase_handler, is_storage_full,
    };
    pub use crate::tool::{parse_input, validate_tool_name};
    pub use brain_messaging::{Bus, BusEvent, Delivery, TryRecvError};
}
// Re-exported so plugin authors derive schemas with the same version the shell reads.
pub use schemars;
pub use schemars::JsonSchema;
