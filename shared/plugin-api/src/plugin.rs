//! The plugin API: a plugin registers its tools, resources and job handlers once, through
//! a [`Registrar`]; at run time it reaches the shell through [`PluginContext`], which the
//! shell implements. The trait lives here and is implemented higher up, so plugins depend
//! on this crate alone.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::command::CommandSpec;
use crate::event::Event;
use crate::generate::{ContentGenerator, NoteHit};
use crate::job::{DynJobHandler, JobHandler, erase_handler};
use crate::notes::NoteText;
use crate::permission::{Caller, Permission};
use crate::request::{NewBatch, NewJob};
use crate::response::{AsyncToolResponse, JobStatusEntry};
use crate::source::Target;
use crate::tool::{ToolError, ToolSpec};
use brain_messaging::Subscription;

/// The plugin API version this crate defines. The shell refuses a plugin built for
/// another one, rather than calling it wrongly.
pub const PLUGIN_API_VERSION: u32 = 1;

/// Why a plugin could not register, start or stop.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PluginError(pub String);

impl PluginError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// The brain's folders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrainDirs {
    /// The brain directory (where `brain.toml` is).
    pub root: PathBuf,
    /// `.brain/` inside it: database, logs, interface state.
    pub data: PathBuf,
}

impl BrainDirs {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        Self {
            data: root.join(".brain"),
            root,
        }
    }
}

/// What a plugin may ask of the shell at run time.
#[async_trait]
pub trait PluginContext: Send + Sync {
    fn plugin_id(&self) -> &str;

    /// Enqueues one of this plugin's jobs (`job_type` `<plugin-id>:<name>`) and answers
    /// with the immediate response, estimates included. `message` says what it does.
    async fn enqueue(&self, job: NewJob, message: &str) -> Result<AsyncToolResponse, ToolError>;

    /// Enqueues a batch of this plugin's jobs.
    async fn enqueue_batch(
        &self,
        batch: NewBatch,
        message: &str,
    ) -> Result<AsyncToolResponse, ToolError>;

    /// The status of a job or batch.
    async fn job_status(&self, id: &str) -> Result<JobStatusEntry, ToolError>;

    /// Ids of this plugin's unfinished operations of `job_type` (batches of that type and
    /// jobs outside batches), oldest first: what new work that must come after them names
    /// in `after`.
    async fn active_operations(&self, job_type: &str) -> Result<Vec<String>, ToolError>;

    /// Cancels a job or batch.
    async fn cancel(&self, id: &str) -> Result<(), ToolError>;

    /// Events on the shell's bus that `filter` accepts.
    fn subscribe(&self, filter: Box<dyn Fn(&Event) -> bool + Send + Sync>) -> Subscription<Event>;

    /// Publishes a plugin event (`name` is namespaced by the plugin id).
    fn publish(&self, name: &str, target: Target, payload: Value);

    /// The content generator configured in `brain.toml` (`[ai] provider`).
    fn generator(&self) -> Arc<dyn ContentGenerator>;

    /// The notes best matching `query` (full-text, ranked), at most `limit`.
    async fn search_notes(&self, query: &str, limit: usize) -> Result<Vec<NoteHit>, ToolError>;

    /// Notes carrying `tag`, newest first, at most `limit`.
    async fn notes_tagged(&self, tag: &str, limit: usize) -> Result<Vec<NoteHit>, ToolError>;

    /// Every public note with its whole text, by path: those [`is_published`] accepts with
    /// these `publish_tags`. Private notes are never read.
    ///
    /// [`is_published`]: crate::is_published
    async fn published_notes(&self, publish_tags: &[String]) -> Result<Vec<NoteText>, ToolError>;

    /// This plugin's section of `brain.toml` (see [`Plugin::config_section`]), or null, as
    /// it was when the brain started.
    fn config(&self) -> Value;

    /// This plugin's section as `brain.toml` says now (with the same environment
    /// overrides): for a long-running job that follows edits of the file, such as a
    /// development server. An error says what is wrong with the file. The default (a test
    /// context) answers [`PluginContext::config`].
    fn reload_config(&self) -> Result<Value, ToolError> {
        Ok(self.config())
    }

    fn dirs(&self) -> &BrainDirs;
}

/// Serves a resource (e.g. `brain://jobs/{id}`).
#[async_trait]
pub trait ResourceHandler: Send + Sync + 'static {
    async fn read(&self, uri: &str, caller: &Caller) -> Result<ResourceContent, ToolError>;
}

/// The content of a resource.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceContent {
    pub uri: String,
    pub mime_type: String,
    pub text: String,
}

/// A resource or resource template a plugin offers.
#[derive(Clone)]
pub struct ResourceSpec {
    /// An exact URI, or a template with `{name}` parts.
    pub uri: String,
    pub name: String,
    pub description: String,
    pub mime_type: String,
    pub visibility: Permission,
    pub handler: Arc<dyn ResourceHandler>,
}

impl std::fmt::Debug for ResourceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceSpec")
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

/// What a plugin hands over in [`Plugin::register`].
pub struct Registrar {
    plugin_id: String,
    context: Arc<dyn PluginContext>,
    tools: Vec<ToolSpec>,
    resources: Vec<ResourceSpec>,
    handlers: Vec<(String, Arc<dyn DynJobHandler>)>,
}

/// Everything a plugin registered.
pub struct Registration {
    pub tools: Vec<ToolSpec>,
    pub resources: Vec<ResourceSpec>,
    /// (job type, handler); every type is `<plugin-id>:<name>`.
    pub handlers: Vec<(String, Arc<dyn DynJobHandler>)>,
}

impl Registrar {
    /// Built by the shell for one plugin.
    pub fn new(plugin_id: impl Into<String>, context: Arc<dyn PluginContext>) -> Self {
        Self {
            plugin_id: plugin_id.into(),
            context,
            tools: Vec::new(),
            resources: Vec::new(),
            handlers: Vec::new(),
        }
    }

    pub fn plugin_id(&self) -> &str {
        &self.plugin_id
    }

    /// The plugin's handle to the shell, for tool handlers to capture.
    pub fn context(&self) -> Arc<dyn PluginContext> {
        self.context.clone()
    }

    pub fn tool(&mut self, tool: ToolSpec) -> &mut Self {
        self.tools.push(tool);
        self
    }

    pub fn resource(&mut self, resource: ResourceSpec) -> &mut Self {
        self.resources.push(resource);
        self
    }

    /// Registers the handler of job type `<plugin-id>:<name>`.
    pub fn job_handler<H: JobHandler>(&mut self, name: &str, handler: H) -> &mut Self {
        self.handlers
            .push((format!("{}:{name}", self.plugin_id), erase_handler(handler)));
        self
    }

    /// What was registered; the shell validates and installs it.
    pub fn finish(self) -> Registration {
        Registration {
            tools: self.tools,
            resources: self.resources,
            handlers: self.handlers,
        }
    }
}

/// What [`Plugin::complete`] is asked.
#[derive(Debug, Clone, Copy)]
pub struct CompleteRequest<'a> {
    /// The tool the command runs.
    pub tool: &'a str,
    /// The input field whose values are wanted.
    pub field: &'a str,
    /// The arguments typed before it (a route, when sections are completed).
    pub typed: &'a serde_json::Map<String, Value>,
    /// The plugin's section of `brain.toml`, `Null` when absent.
    pub config: &'a Value,
    pub dirs: &'a BrainDirs,
}

/// A plugin: a crate that implements this and is registered explicitly in the binary.
#[async_trait]
pub trait Plugin: Send + Sync + 'static {
    /// Unique, lowercase: letters, digits, '-' (e.g. `site-builder`).
    fn id(&self) -> &str;
    fn version(&self) -> &str;
    fn description(&self) -> &str;

    /// The top-level table of `brain.toml` this plugin reads (its [`PluginContext::config`]);
    /// by default its id, e.g. `[site-builder]`.
    fn config_section(&self) -> &str {
        self.id()
    }

    /// Checks the plugin's section of `brain.toml` (as JSON, `Null` when absent) without
    /// registering anything: `brain config check` and every command call it first, so a
    /// mistake is reported the same way everywhere, as a configuration error naming the key.
    fn check_config(&self, config: &Value, dirs: &BrainDirs) -> Result<(), PluginError> {
        let _ = (config, dirs);
        Ok(())
    }

    /// The commands a person types to run this plugin's tools: `brain site generate` in the
    /// CLI, `/generate` in the chat, `!generate` in Matrix. Declared here rather than at
    /// registration so the CLI knows them before any brain is opened (`brain --help`).
    fn commands(&self) -> Vec<CommandSpec> {
        Vec::new()
    }

    /// Values for an argument declared with [`crate::ArgSpec::completes`], for Tab in
    /// every interface and the shell's completion; read from the configuration, so it
    /// works without a running brain.
    fn complete(&self, request: &CompleteRequest<'_>) -> Vec<String> {
        let _ = request;
        Vec::new()
    }

    /// The plugin API version the plugin was written for.
    fn api_version(&self) -> u32 {
        PLUGIN_API_VERSION
    }

    /// Hands over tools, resources and job handlers; called once.
    fn register(&self, registrar: &mut Registrar) -> Result<(), PluginError>;

    /// Starts long-running parts (watchers, timers); called after every plugin registered.
    async fn start(&self, _context: Arc<dyn PluginContext>) -> Result<(), PluginError> {
        Ok(())
    }

    async fn stop(&self) -> Result<(), PluginError> {
        Ok(())
    }
}
