//! Interfaces (CLI, MCP, Matrix) are written against [`ShellHandle`]: list and run tools as
//! a given caller, read resources, and follow targeted events.

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::command::CommandSpec;
use crate::dashboard::{
    EstimateEntry, HistoryPage, HistoryQuery, OperationDetail, ProcessMetrics, QueueStats,
};

use crate::event::{Event, JobProgressEvent};
use crate::permission::{Caller, Permission};
use crate::plugin::{PluginError, ResourceContent};
use crate::response::JobStatusEntry;
use crate::tool::{ToolContext, ToolError, ToolInfo, ToolResult};
use brain_messaging::Subscription;

/// A resource as an interface lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceInfo {
    pub uri: String,
    pub name: String,
    pub description: String,
    pub mime_type: String,
}

/// A live view of one job or batch, wherever it runs: its current state first, then every
/// change, ending with the final state (then `None`). It subscribes before it reads, so no
/// change in between is lost, and it reads the store for work another process runs.
#[async_trait]
pub trait FollowStream: Send {
    /// The next state; `None` after the final one, or if the shell stopped.
    async fn next(&mut self) -> Option<JobProgressEvent>;
}

/// What [`ShellHandle::follow`] returns.
pub type Follow = Box<dyn FollowStream>;

/// What the shell offers an interface.
#[async_trait]
pub trait ShellHandle: Send + Sync {
    /// The tools `caller` may see.
    fn tools(&self, caller: &Caller) -> Vec<ToolInfo>;

    /// The commands `caller` may type (the plugins' declared ones, then the shell's own),
    /// for the chat's and Matrix's [`crate::CommandTable`].
    fn commands(&self, caller: &Caller) -> Vec<CommandSpec>;

    /// Values for argument `field` of `tool`'s command, given the arguments `typed` before
    /// it (declared with [`crate::ArgSpec::completes`]).
    async fn complete(&self, tool: &str, field: &str, typed: &Map<String, Value>) -> Vec<String>;

    /// Runs a tool as `ctx.caller`: permission first, then input validation, then the tool.
    async fn execute(
        &self,
        tool: &str,
        input: Value,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError>;

    /// The resources `caller` may read.
    fn resources(&self, caller: &Caller) -> Vec<ResourceInfo>;

    async fn read_resource(&self, uri: &str, caller: &Caller)
    -> Result<ResourceContent, ToolError>;

    /// The status of a job or batch.
    async fn job_status(&self, id: &str) -> Result<JobStatusEntry, ToolError>;

    /// Follows a job or batch until it ends — the one way an interface watches an
    /// operation it started or was asked about, whichever process runs it.
    async fn follow(&self, id: &str) -> Result<Follow, ToolError>;

    /// Waits up to the configured answer time (`[queue] answer_within_ms`) for work an
    /// interface just started: its final state if it ended by then (the interface answers
    /// with the result), else `None` (it answers with the handle).
    async fn settle(&self, id: &str) -> Option<JobProgressEvent>;

    /// Events on the bus that `filter` accepts.
    fn subscribe(&self, filter: Box<dyn Fn(&Event) -> bool + Send + Sync>) -> Subscription<Event>;

    /// The level configured for `user_id` on `interface` (public when unknown).
    fn permission_of(&self, interface: &str, user_id: &str) -> Permission;

    /// Who started a job or batch: interfaces that show callers only their own work (MCP
    /// tasks) check it.
    async fn job_source(&self, id: &str) -> Result<crate::source::Source, ToolError>;

    /// Cancels a job or batch: jobs not started yet at once, running ones cooperatively.
    async fn cancel_job(&self, id: &str) -> Result<(), ToolError>;

    // What a dashboard reads. Each has a default that says the shell does not offer it, so
    // an interface's test double implements only what it needs.

    /// A page of the operations history, newest first.
    async fn history(&self, query: HistoryQuery) -> Result<HistoryPage, ToolError> {
        let _ = query;
        Err(not_offered("history"))
    }

    /// The queue's counts, its last hour, and its live workers.
    async fn queue_stats(&self) -> Result<QueueStats, ToolError> {
        Err(not_offered("queue_stats"))
    }

    /// Each job type's learned duration.
    async fn estimates(&self) -> Result<Vec<EstimateEntry>, ToolError> {
        Err(not_offered("estimates"))
    }

    /// This process's counters (jobs by type and outcome, durations, the bus).
    fn process_metrics(&self) -> ProcessMetrics {
        ProcessMetrics::default()
    }

    /// Everything stored about a job or batch: its record or its items, and its log.
    async fn operation_detail(&self, id: &str) -> Result<OperationDetail, ToolError> {
        let _ = id;
        Err(not_offered("operation_detail"))
    }
}

fn not_offered(what: &str) -> ToolError {
    ToolError::failed(format!("this shell does not offer {what}"))
}

/// An interface the shell starts and stops.
#[async_trait]
pub trait Interface: Send + Sync + 'static {
    fn name(&self) -> &str;

    /// Starts serving; returns once it is up (serving continues in tasks it owns).
    async fn start(&self, shell: std::sync::Arc<dyn ShellHandle>) -> Result<(), PluginError>;

    /// Stops serving and waits for its tasks.
    async fn stop(&self) -> Result<(), PluginError>;
}
