//! The Shell: loads the configuration, opens the job queue in `.brain/`, registers the
//! built-in tools and every plugin (explicitly, in code), and executes tools as a caller —
//! permission first, then the tool, every call traced.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use brain_job_queue::{Queue, QueueConfig, QueueError, WorkerConfig, WorkerPool};
use brain_plugin_api::engine::{Bus, validate_tool_name};
use brain_plugin_api::{
    BrainDirs, Caller, CommandSpec, CompleteRequest, Event, JobStatusEntry, PLUGIN_API_VERSION,
    Permission, Plugin, PluginError, Registrar, ResourceContent, ResourceInfo, ResourceSpec,
    ShellHandle, Subscription, ToolContext, ToolError, ToolInfo, ToolResult, ToolSpec,
};
use serde_json::Value;
use tracing::Instrument;

use crate::builtin;
use crate::config::{Config, ConfigError};
use crate::context::{ConfigSource, PluginCtx};
use crate::notes::{self, IndexNotes, Notes};

/// The plugin id under which the shell's own tools are registered.
pub const SHELL_PLUGIN_ID: &str = "shell";

/// Top-level `brain.toml` sections the shell and its interfaces read besides the known
/// ones: `[ai]` (the content generator), `[notes]` (where the notes are), `[mcp]`, `[matrix]`,
/// `[web]`.
pub const SHELL_SECTIONS: &[&str] = &["ai", "notes", "mcp", "matrix", "web"];

/// Why the shell could not be built or started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShellError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("job queue: {0}")]
    Queue(QueueError),
    #[error("could not create {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid plugin id {id:?}: use 1-64 of a-z, 0-9, '-' (e.g. `site-builder`)")]
    InvalidPluginId { id: String },
    #[error("two plugins have the id {id:?}; plugin ids must be unique")]
    DuplicatePlugin { id: String },
    #[error(
        "plugin {plugin:?} was built for plugin API version {found}, this shell has version {expected}; \
         rebuild the plugin against this brains"
    )]
    ApiVersion {
        plugin: String,
        found: u32,
        expected: u32,
    },
    #[error("plugin {plugin:?}: {message}")]
    InvalidToolName { plugin: String, message: String },
    #[error(
        "tool {name:?} is registered twice: by {first:?} and by {second:?}; tool names must be unique"
    )]
    DuplicateTool {
        name: String,
        first: String,
        second: String,
    },
    #[error("plugin {plugin:?} failed to register: {message}")]
    Register { plugin: String, message: String },
    #[error("plugin {plugin:?} declares a command wrongly: {message}")]
    Command { plugin: String, message: String },
    #[error("invalid configuration for plugin {plugin:?}: {message}")]
    PluginConfig { plugin: String, message: String },
    #[error("notes index: {0}")]
    Notes(brain_notes::NotesError),
    #[error("{0}")]
    Ai(String),
}

// Not `#[from]`: the messages carry the inner error, and a source too would print it twice
// in an error chain.
impl From<QueueError> for ShellError {
    fn from(error: QueueError) -> Self {
        ShellError::Queue(error)
    }
}

impl From<brain_notes::NotesError> for ShellError {
    fn from(error: brain_notes::NotesError) -> Self {
        ShellError::Notes(error)
    }
}

pub(crate) struct RegisteredTool {
    pub(crate) spec: ToolSpec,
    pub(crate) plugin: String,
}

pub(crate) struct ShellInner {
    pub(crate) config: Config,
    pub(crate) dirs: BrainDirs,
    pub(crate) bus: Bus<Event>,
    pub(crate) queue: Queue,
    pub(crate) tools: BTreeMap<String, RegisteredTool>,
    pub(crate) resources: Vec<(ResourceSpec, String)>,
    /// The plugins' commands, then the shell's own.
    commands: Vec<CommandSpec>,
    plugins: Vec<Arc<dyn Plugin>>,
    contexts: BTreeMap<String, Arc<PluginCtx>>,
    workers: tokio::sync::Mutex<Option<WorkerPool>>,
    started: Mutex<Vec<String>>,
    generator: Arc<dyn brain_plugin_api::ContentGenerator>,
}

/// Every mistake in the configuration that the shell, its content generator and its plugins
/// can see, without opening anything — `brain config check` lists them all, `Shell::build`
/// refuses the first — and the sections to warn about (nothing in this binary reads them).
pub fn config_problems(
    config: &Config,
    dir: &Path,
    plugins: &[Arc<dyn Plugin>],
) -> (Vec<ShellError>, Vec<ConfigError>) {
    let mut problems = Vec::new();
    let mut claimed: Vec<&str> = plugins.iter().map(|p| p.config_section()).collect();
    claimed.extend_from_slice(SHELL_SECTIONS);
    let warnings = config.unclaimed_sections(&claimed).unwrap_or_else(|typo| {
        problems.push(ShellError::Config(typo));
        Vec::new()
    });
    if let Err(e) = brain_ai_service::from_config(&config.section_json("ai")) {
        let message = config.with_origins("ai", e.to_string());
        problems.push(ShellError::Ai(format!(
            "invalid [ai] configuration: {message}"
        )));
    }
    if let Err(e) = notes_dir(config, dir) {
        problems.push(e);
    }
    let dirs = BrainDirs::new(dir);
    for plugin in plugins {
        let section = config.section_json(plugin.config_section());
        if let Err(e) = plugin.check_config(&section, &dirs) {
            problems.push(ShellError::PluginConfig {
                plugin: plugin.id().to_owned(),
                message: config.with_origins(plugin.config_section(), e.to_string()),
            });
        }
    }
    (problems, warnings)
}

/// The notes folder `[notes] dir` names (default `notes/`).
fn notes_dir(config: &Config, root: &Path) -> Result<PathBuf, ShellError> {
    match config.section_json("notes").get("dir") {
        None => Ok(root.join("notes")),
        Some(serde_json::Value::String(d)) if !d.is_empty() => Ok(root.join(d)),
        Some(other) => Err(ShellError::Config(ConfigError::Invalid {
            key: "notes.dir".into(),
            value: other.to_string(),
            allowed: "a folder path relative to the brain directory".into(),
        })),
    }
}

/// The strings in `value` longer than what a message may repeat.
fn long_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(text) if text.chars().count() > brain_plugin_api::ECHO_CHARS => {
            out.push(text.clone());
        }
        Value::Array(items) => items.iter().for_each(|v| long_strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| long_strings(v, out)),
        _ => {}
    }
}

/// `error` with any long piece of the input it repeats shortened.
fn clip_error(error: ToolError, long: &[String]) -> ToolError {
    if long.is_empty() {
        return error;
    }
    let inputs: Vec<&str> = long.iter().map(String::as_str).collect();
    let clip = |text: String| brain_plugin_api::clip_echoes(&text, &inputs);
    match error {
        ToolError::InvalidInput { field, message } => ToolError::InvalidInput {
            field,
            message: clip(message),
        },
        ToolError::Failed(message) => ToolError::Failed(clip(message)),
        other => other,
    }
}

/// A cheap, clonable handle to a running shell.
#[derive(Clone)]
pub struct Shell {
    pub(crate) inner: Arc<ShellInner>,
}

impl std::fmt::Debug for Shell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shell")
            .field("dir", &self.inner.dirs.root)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Shell`] for a brain directory with an explicit list of plugins.
pub struct ShellBuilder {
    dir: PathBuf,
    plugins: Vec<Arc<dyn Plugin>>,
    env: Option<Vec<(String, String)>>,
    config: Option<Config>,
}

impl ShellBuilder {
    pub fn plugin(mut self, plugin: impl Plugin) -> Self {
        self.plugins.push(Arc::new(plugin));
        self
    }

    pub fn plugin_arc(mut self, plugin: Arc<dyn Plugin>) -> Self {
        self.plugins.push(plugin);
        self
    }

    /// Uses an already loaded configuration (the binary loads it first to set up logging):
    /// `brain.toml` in the brain's folder, with the overrides of [`ShellBuilder::env`] or of
    /// the process, which is what a plugin's `reload_config` reads again.
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// Uses these variables instead of the process environment for `BRAIN_*` overrides.
    pub fn env(mut self, env: Vec<(String, String)>) -> Self {
        self.env = Some(env);
        self
    }

    /// Loads the configuration, opens the queue and registers everything. Must run inside a
    /// tokio runtime. Nothing runs yet: see [`Shell::start_workers`] and
    /// [`Shell::start_plugins`].
    pub async fn build(self) -> Result<Shell, ShellError> {
        let config = match (self.config, &self.env) {
            (Some(config), _) => config,
            (None, Some(env)) => Config::load_with_env(&self.dir, env.clone())?,
            (None, None) => Config::load(&self.dir)?,
        };
        // What a plugin's `reload_config` reads again: `brain.toml` in `dir`, with the same
        // overrides.
        let source = ConfigSource { env: self.env };
        Self::build_with(self.dir, config, source, self.plugins).await
    }

    async fn build_with(
        dir: PathBuf,
        config: Config,
        source: ConfigSource,
        plugins: Vec<Arc<dyn Plugin>>,
    ) -> Result<Shell, ShellError> {
        // Before anything is opened: a mistake in brain.toml costs nothing.
        let (problems, warnings) = config_problems(&config, &dir, &plugins);
        if let Some(problem) = problems.into_iter().next() {
            return Err(problem);
        }
        for warning in warnings {
            // A section no compiled-in plugin reads is not fatal (the plugin may come later),
            // but it must not pass silently.
            tracing::warn!(%warning, "brain.toml has a section nothing reads");
        }
        let dirs = BrainDirs::new(&dir);
        std::fs::create_dir_all(&dirs.data).map_err(|source| ShellError::Io {
            path: dirs.data.clone(),
            source,
        })?;
        let bus = Bus::new();
        let queue_config = QueueConfig {
            retention: Duration::from_secs(u64::from(config.queue.retention_days) * 24 * 3600),
            max_events_per_second: config.queue.max_events_per_second,
            ..QueueConfig::default()
        };
        let queue = match &config.queue.url {
            Some(url) => Queue::connect(url, queue_config, bus.clone()).await?,
            None => Queue::open(dirs.data.join("brain.db"), queue_config, bus.clone())?,
        };

        let notes_dir = notes_dir(&config, &dirs.root)?;
        let notes = Notes::new(brain_notes::NotesIndex::open(
            &dirs.data.join("notes.db"),
            &notes_dir,
        )?);
        let generator = brain_ai_service::from_config(&config.section_json("ai"))
            .map_err(|e| ShellError::Ai(format!("invalid [ai] configuration: {e}")))?;
        queue.register(notes::INDEX_JOB, IndexNotes(notes.clone()))?;

        let mut tools: BTreeMap<String, RegisteredTool> = BTreeMap::new();
        let mut resources = Vec::new();
        let mut contexts = BTreeMap::new();
        let mut add_tool = |spec: ToolSpec, plugin: &str| -> Result<(), ShellError> {
            validate_tool_name(&spec.name).map_err(|message| ShellError::InvalidToolName {
                plugin: plugin.to_owned(),
                message,
            })?;
            if let Some(existing) = tools.get(&spec.name) {
                return Err(ShellError::DuplicateTool {
                    name: spec.name.clone(),
                    first: existing.plugin.clone(),
                    second: plugin.to_owned(),
                });
            }
            tools.insert(
                spec.name.clone(),
                RegisteredTool {
                    spec,
                    plugin: plugin.to_owned(),
                },
            );
            Ok(())
        };
        for spec in builtin::tools(&queue)
            .into_iter()
            .chain(notes::tools(&notes, &generator, &queue))
        {
            add_tool(spec, SHELL_PLUGIN_ID)?;
        }

        let mut seen = vec![SHELL_PLUGIN_ID.to_owned()];
        for plugin in &plugins {
            let id = plugin.id().to_owned();
            if !valid_plugin_id(&id) {
                return Err(ShellError::InvalidPluginId { id });
            }
            if seen.contains(&id) {
                return Err(ShellError::DuplicatePlugin { id });
            }
            seen.push(id.clone());
            if plugin.api_version() != PLUGIN_API_VERSION {
                return Err(ShellError::ApiVersion {
                    plugin: id,
                    found: plugin.api_version(),
                    expected: PLUGIN_API_VERSION,
                });
            }
            let context = Arc::new(PluginCtx {
                plugin_id: id.clone(),
                queue: queue.clone(),
                bus: bus.clone(),
                dirs: dirs.clone(),
                config: config.section_json(plugin.config_section()),
                section: plugin.config_section().to_owned(),
                source: source.clone(),
                notes: notes.clone(),
                generator: generator.clone(),
            });
            let mut registrar = Registrar::new(id.clone(), context.clone());
            plugin
                .register(&mut registrar)
                .map_err(|e| ShellError::Register {
                    plugin: id.clone(),
                    message: e.to_string(),
                })?;
            let registration = registrar.finish();
            for spec in registration.tools {
                add_tool(spec, &id)?;
            }
            for (job_type, handler) in registration.handlers {
                queue
                    .register_dyn(&job_type, handler)
                    .map_err(|e| ShellError::Register {
                        plugin: id.clone(),
                        message: e.to_string(),
                    })?;
            }
            resources.extend(registration.resources.into_iter().map(|r| (r, id.clone())));
            contexts.insert(id, context);
        }

        let commands = checked_commands(&plugins, &tools)?;
        tracing::debug!(dir = %dir.display(), plugins = plugins.len(), tools = tools.len(), "shell built");
        Ok(Shell {
            inner: Arc::new(ShellInner {
                config,
                dirs,
                bus,
                queue,
                tools,
                resources,
                commands,
                plugins,
                contexts,
                workers: tokio::sync::Mutex::new(None),
                started: Mutex::new(Vec::new()),
                generator,
            }),
        })
    }
}

/// The plugins' commands then the shell's own, each checked against the tool it runs: the
/// tool is the declaring plugin's, every argument sets a field of its input, and no two
/// commands share a name (the chat and Matrix type names without groups).
fn checked_commands(
    plugins: &[Arc<dyn Plugin>],
    tools: &BTreeMap<String, RegisteredTool>,
) -> Result<Vec<CommandSpec>, ShellError> {
    // The shell's first, so a plugin that takes one of their names is the one blamed.
    let own = builtin::commands();
    let shell_count = own.len();
    let declared = own
        .into_iter()
        .map(|c| (c, SHELL_PLUGIN_ID.to_owned()))
        .chain(
            plugins
                .iter()
                .flat_map(|p| p.commands().into_iter().map(|c| (c, p.id().to_owned()))),
        );
    let mut commands: Vec<CommandSpec> = Vec::new();
    for (command, plugin) in declared {
        let wrong = |message: String| ShellError::Command {
            plugin: plugin.clone(),
            message,
        };
        let shown = format!("`{} {}`", command.group, command.name);
        if let Some(problem) = command.problems().into_iter().next() {
            return Err(wrong(problem));
        }
        if plugin != SHELL_PLUGIN_ID && command.group.is_empty() {
            return Err(wrong(format!(
                "command {shown} needs a group (e.g. `site`)"
            )));
        }
        let tool = tools
            .get(&command.tool)
            .filter(|t| t.plugin == plugin)
            .ok_or_else(|| {
                wrong(format!(
                    "command {shown} runs `{}`, which is not one of its tools",
                    command.tool
                ))
            })?;
        let fields = &tool.spec.input_schema["properties"];
        for arg in &command.args {
            if fields.get(&arg.field).is_none() {
                return Err(wrong(format!(
                    "command {shown}: `{}` has no input field `{}`",
                    command.tool, arg.field
                )));
            }
        }
        if let Some(other) = commands.iter().find(|c| c.name == command.name) {
            return Err(wrong(format!(
                "command {shown}: the name `{}` is taken by `{} {}` (chat and Matrix type \
                 names without groups)",
                command.name, other.group, other.name
            )));
        }
        commands.push(command);
    }
    // Listed as help shows them: the plugins' in the order declared, then the shell's.
    commands.rotate_left(shell_count);
    Ok(commands)
}

/// Values for argument `field` of `tool`'s command, from the plugin that declared the
/// command (through [`Plugin::complete`], reading its configuration): what the CLI's shell
/// completion offers without opening the brain.
pub fn plugin_completions(
    plugins: &[Arc<dyn Plugin>],
    config: &Config,
    dirs: &BrainDirs,
    tool: &str,
    field: &str,
    typed: &serde_json::Map<String, Value>,
) -> Vec<String> {
    let Some(plugin) = plugins
        .iter()
        .find(|p| p.commands().iter().any(|c| c.tool == tool))
    else {
        return Vec::new();
    };
    let section = config.section_json(plugin.config_section());
    plugin.complete(&CompleteRequest {
        tool,
        field,
        typed,
        config: &section,
        dirs,
    })
}

fn valid_plugin_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
}

impl Shell {
    /// A builder for the brain in `dir`.
    pub fn builder(dir: impl AsRef<Path>) -> ShellBuilder {
        ShellBuilder {
            dir: dir.as_ref().to_owned(),
            plugins: Vec::new(),
            env: None,
            config: None,
        }
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn dirs(&self) -> &BrainDirs {
        &self.inner.dirs
    }

    /// Whether the content generator `[ai]` configures can work now (`brain doctor`): what
    /// it is, or what is wrong and which setting to check.
    pub async fn check_generator(&self) -> Result<String, String> {
        self.inner.generator.check().await
    }

    pub fn queue(&self) -> &Queue {
        &self.inner.queue
    }

    pub fn bus(&self) -> &Bus<Event> {
        &self.inner.bus
    }

    /// The tools `caller` may see, sorted by name.
    pub fn tools(&self, caller: &Caller) -> Vec<ToolInfo> {
        self.inner
            .tools
            .values()
            .filter(|t| caller.permission.allows(t.spec.visibility))
            .map(|t| ToolInfo {
                plugin: t.plugin.clone(),
                ..t.spec.info()
            })
            .collect()
    }

    /// The commands `caller` may run (those whose tool it may see): the plugins' in the order
    /// declared, then the shell's own (`status`, `jobs`, `cancel`).
    pub fn commands(&self, caller: &Caller) -> Vec<CommandSpec> {
        self.inner
            .commands
            .iter()
            .filter(|c| {
                self.inner
                    .tools
                    .get(&c.tool)
                    .is_some_and(|t| caller.permission.allows(t.spec.visibility))
            })
            .cloned()
            .collect()
    }

    /// Values for argument `field` of `tool`'s command, given the arguments `typed` before
    /// it: a plugin's from its [`Plugin::complete`], the shell's (job and batch ids) from the
    /// queue — active work first, then recent.
    pub async fn complete(
        &self,
        tool: &str,
        field: &str,
        typed: &serde_json::Map<String, Value>,
    ) -> Vec<String> {
        let Some(registered) = self.inner.tools.get(tool) else {
            return Vec::new();
        };
        if registered.plugin == SHELL_PLUGIN_ID {
            return builtin::complete(&self.inner.queue, field).await;
        }
        plugin_completions(
            &self.inner.plugins,
            &self.inner.config,
            &self.inner.dirs,
            tool,
            field,
            typed,
        )
    }

    /// Runs tool `name` as `ctx.caller`. The permission check comes before anything runs,
    /// so a refused call has no effect.
    pub async fn execute(
        &self,
        name: &str,
        input: Value,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        let span = tracing::info_span!("tool", tool = name, caller = %ctx.caller.source, permission = %ctx.caller.permission);
        let Some(tool) = self.inner.tools.get(name) else {
            span.in_scope(|| tracing::info!("unknown tool"));
            return Err(ToolError::NotFound {
                name: brain_plugin_api::shorten(name, brain_plugin_api::ECHO_CHARS),
            });
        };
        if !ctx.caller.permission.allows(tool.spec.visibility) {
            span.in_scope(|| tracing::warn!(required = %tool.spec.visibility, "permission denied"));
            return Err(ToolError::PermissionDenied {
                tool: name.to_owned(),
                required: tool.spec.visibility,
                caller: ctx.caller.permission,
            });
        }
        let handler = tool.spec.handler.clone();
        let started = Instant::now();
        // Errors repeat at most a few hundred characters of what was sent.
        let mut long = Vec::new();
        long_strings(&input, &mut long);
        let result = handler
            .call(input, ctx)
            .instrument(span.clone())
            .await
            .map_err(|error| clip_error(error, &long));
        span.in_scope(|| match &result {
            // Successes at debug: one-shot CLI commands would otherwise print a line each.
            Ok(_) => tracing::debug!(elapsed_ms = started.elapsed().as_millis() as u64, "tool call ok"),
            // A caller's mistake (bad input, no such tool) is answered to the caller, which
            // shows it: a log line at the default level would say it twice on a terminal.
            Err(error @ (ToolError::InvalidInput { .. } | ToolError::NotFound { .. })) => {
                tracing::debug!(elapsed_ms = started.elapsed().as_millis() as u64, %error, "tool call refused")
            }
            Err(error) => tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, %error, "tool call failed"),
        });
        result
    }

    /// Starts this process's workers for the whole brain (concurrency and lease from
    /// `[queue]`).
    pub async fn start_workers(&self) -> Result<(), ShellError> {
        self.start_pool(None).await
    }

    /// Starts workers that run only the operations named with [`Shell::run_also`] (and
    /// nothing else): a one-shot command runs its own work and leaves the rest to the
    /// brain's workers.
    pub async fn start_scoped_workers(&self) -> Result<(), ShellError> {
        self.start_pool(Some(Vec::new())).await
    }

    /// Lets scoped workers run these operations (job or batch ids) too.
    pub async fn run_also(&self, ids: &[String]) -> Result<(), ShellError> {
        if let Some(pool) = self.inner.workers.lock().await.as_ref() {
            pool.extend_scope(ids).await?;
        }
        Ok(())
    }

    async fn start_pool(&self, scope: Option<Vec<String>>) -> Result<(), ShellError> {
        let mut workers = self.inner.workers.lock().await;
        if workers.is_none() {
            let q = &self.inner.config.queue;
            let pool = self
                .inner
                .queue
                .start_workers(WorkerConfig {
                    concurrency: q.concurrency,
                    lease: Duration::from_secs(u64::from(q.lease_seconds)),
                    scope,
                    ..WorkerConfig::default()
                })
                .await?;
            // Debug: `brain site …` starts workers for one command, and a log line above
            // its progress bar is noise; `brain start` says it runs in its own words.
            tracing::debug!(
                worker = pool.worker_id(),
                concurrency = q.concurrency,
                "workers started"
            );
            *workers = Some(pool);
        }
        Ok(())
    }

    /// Enqueues a job that indexes the whole notes folder (only changed files are read), so
    /// a long-running brain has a fresh index before the first search asks for one.
    pub async fn index_notes_in_background(&self) -> Result<(), ShellError> {
        let job = brain_plugin_api::NewJob::new(notes::INDEX_JOB, serde_json::json!({}))
            .source(brain_plugin_api::Source::system())
            .label("notes");
        self.inner.queue.enqueue(job).await?;
        Ok(())
    }

    /// Starts every plugin's long-running parts. A plugin whose start fails is reported
    /// and left out; the others run.
    pub async fn start_plugins(&self) -> Vec<(String, PluginError)> {
        let mut failures = Vec::new();
        for plugin in &self.inner.plugins {
            let id = plugin.id().to_owned();
            let Some(context) = self.inner.contexts.get(&id) else {
                continue;
            };
            match plugin.start(context.clone()).await {
                Ok(()) => self
                    .inner
                    .started
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(id),
                Err(error) => {
                    tracing::error!(plugin = %id, %error, "plugin failed to start; continuing without it");
                    failures.push((id, error));
                }
            }
        }
        failures
    }

    /// Stops plugins, then the workers (waiting up to `timeout` for running jobs; the rest
    /// go back to pending for the next start).
    pub async fn shutdown(&self, timeout: Duration) {
        let started =
            std::mem::take(&mut *self.inner.started.lock().unwrap_or_else(|e| e.into_inner()));
        for plugin in self
            .inner
            .plugins
            .iter()
            .filter(|p| started.iter().any(|id| id == p.id()))
        {
            if let Err(error) = plugin.stop().await {
                tracing::warn!(plugin = plugin.id(), %error, "plugin failed to stop cleanly");
            }
        }
        if let Some(pool) = self.inner.workers.lock().await.take() {
            let report = pool.shutdown(timeout).await;
            if report.released > 0 {
                tracing::info!(
                    released = report.released,
                    "jobs still running were put back in the queue"
                );
            }
        }
        if let Err(error) = self.inner.queue.flush_estimates().await {
            tracing::warn!(%error, "could not save duration estimates");
        }
    }

    /// This shell as interfaces see it.
    pub fn handle(&self) -> Arc<dyn ShellHandle> {
        Arc::new(self.clone())
    }
}

#[async_trait]
impl ShellHandle for Shell {
    fn tools(&self, caller: &Caller) -> Vec<ToolInfo> {
        Shell::tools(self, caller)
    }

    async fn execute(
        &self,
        tool: &str,
        input: Value,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        Shell::execute(self, tool, input, ctx).await
    }

    fn resources(&self, caller: &Caller) -> Vec<ResourceInfo> {
        self.inner
            .resources
            .iter()
            .filter(|(r, _)| caller.permission.allows(r.visibility))
            .map(|(r, _)| ResourceInfo {
                uri: r.uri.clone(),
                name: r.name.clone(),
                description: r.description.clone(),
                mime_type: r.mime_type.clone(),
            })
            .collect()
    }

    async fn read_resource(
        &self,
        uri: &str,
        caller: &Caller,
    ) -> Result<ResourceContent, ToolError> {
        let found = self
            .inner
            .resources
            .iter()
            .find(|(r, _)| uri_matches(&r.uri, uri));
        let Some((resource, _)) = found else {
            return Err(ToolError::NotFound {
                name: uri.to_owned(),
            });
        };
        if !caller.permission.allows(resource.visibility) {
            return Err(ToolError::PermissionDenied {
                tool: uri.to_owned(),
                required: resource.visibility,
                caller: caller.permission,
            });
        }
        resource.handler.read(uri, caller).await
    }

    fn commands(&self, caller: &Caller) -> Vec<CommandSpec> {
        Shell::commands(self, caller)
    }

    async fn complete(
        &self,
        tool: &str,
        field: &str,
        typed: &serde_json::Map<String, Value>,
    ) -> Vec<String> {
        Shell::complete(self, tool, field, typed).await
    }

    async fn job_status(&self, id: &str) -> Result<JobStatusEntry, ToolError> {
        builtin::status_entry(&self.inner.queue, id)
            .await
            .map(|(_, entry)| entry)
    }

    async fn settle(&self, id: &str) -> Option<brain_plugin_api::JobProgressEvent> {
        let wait = Duration::from_millis(u64::from(self.inner.config.queue.answer_within_ms));
        if wait.is_zero() {
            return None;
        }
        let mut watch = self.inner.queue.watch(id).await.ok()?;
        tokio::time::timeout(wait, async {
            while let Some(event) = watch.next().await {
                if event.status.is_finished() {
                    return Some(event);
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
    }

    async fn follow(&self, id: &str) -> Result<brain_plugin_api::Follow, ToolError> {
        let watch = self
            .inner
            .queue
            .watch(id)
            .await
            .map_err(builtin::queue_error)?;
        Ok(Box::new(watch))
    }

    fn subscribe(&self, filter: Box<dyn Fn(&Event) -> bool + Send + Sync>) -> Subscription<Event> {
        self.inner.bus.subscribe(filter)
    }

    fn permission_of(&self, _interface: &str, user_id: &str) -> Permission {
        self.inner.config.permission_of(user_id)
    }

    async fn job_source(&self, id: &str) -> Result<brain_plugin_api::Source, ToolError> {
        let state = self
            .inner
            .queue
            .status(id)
            .await
            .map_err(builtin::queue_error)?;
        Ok(state.event.source)
    }

    async fn cancel_job(&self, id: &str) -> Result<(), ToolError> {
        self.inner
            .queue
            .cancel(id)
            .await
            .map(|_| ())
            .map_err(builtin::queue_error)
    }

    async fn history(
        &self,
        query: brain_plugin_api::HistoryQuery,
    ) -> Result<brain_plugin_api::HistoryPage, ToolError> {
        self.inner
            .queue
            .history(query)
            .await
            .map_err(builtin::queue_error)
    }

    fn process_metrics(&self) -> brain_plugin_api::ProcessMetrics {
        self.inner.queue.process_metrics()
    }

    async fn queue_stats(&self) -> Result<brain_plugin_api::QueueStats, ToolError> {
        self.inner.queue.stats().await.map_err(builtin::queue_error)
    }

    async fn estimates(&self) -> Result<Vec<brain_plugin_api::EstimateEntry>, ToolError> {
        self.inner
            .queue
            .estimates()
            .await
            .map_err(builtin::queue_error)
    }

    async fn operation_detail(
        &self,
        id: &str,
    ) -> Result<brain_plugin_api::OperationDetail, ToolError> {
        self.inner
            .queue
            .detail(id)
            .await
            .map_err(builtin::queue_error)
    }
}

/// Whether `uri` matches `pattern`, where `{name}` in the pattern matches one path segment.
fn uri_matches(pattern: &str, uri: &str) -> bool {
    let mut p = pattern.split('/');
    let mut u = uri.split('/');
    loop {
        match (p.next(), u.next()) {
            (None, None) => return true,
            (Some(ps), Some(us)) if ps.starts_with('{') && ps.ends_with('}') && !us.is_empty() => {}
            (Some(ps), Some(us)) if ps == us => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_templates() {
        fn check(pattern: &str, uri: &str, ok: bool) {
            assert_eq!(uri_matches(pattern, uri), ok, "{pattern} vs {uri}");
        }
        check("brain://jobs", "brain://jobs", true);
        check("brain://jobs/{id}", "brain://jobs/job_1", true);
        check("brain://jobs/{id}", "brain://jobs/", false);
        check("brain://jobs/{id}", "brain://jobs/a/b", false);
        check("brain://jobs", "brain://jobs/x", false);
    }

    #[test]
    fn plugin_ids() {
        fn check(id: &str, ok: bool) {
            assert_eq!(valid_plugin_id(id), ok, "{id:?}");
        }
        check("site-builder", true);
        check("x1", true);
        check("Site", false);
        check("-x", false);
        check("", false);
        check("a_b", false);
    }
}
