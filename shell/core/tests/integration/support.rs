//! A test plugin and a brain directory in a temp folder.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use brain_core::Shell;
use brain_plugin_api::{
    CommandSpec, CompleteRequest, JobContext, JobError, JobHandler, JsonSchema, NewJob, Permission,
    Plugin, PluginContext, PluginError, Registrar, ToolResult, ToolSpec,
};
use serde::Deserialize;
use serde_json::{Value, json};

/// A brain directory with a minimal `brain.toml`.
pub(crate) struct Brain {
    pub(crate) dir: tempfile::TempDir,
}

impl Brain {
    pub(crate) fn new(toml: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("brain.toml"), toml).unwrap();
        Self { dir }
    }

    pub(crate) async fn shell(
        &self,
        plugins: Vec<Arc<dyn Plugin>>,
    ) -> Result<Shell, brain_core::ShellError> {
        let mut builder = Shell::builder(self.dir.path()).env(Vec::new());
        for p in plugins {
            builder = builder.plugin_arc(p);
        }
        builder.build().await
    }
}

#[derive(Deserialize, JsonSchema)]
pub(crate) struct WorkInput {
    /// How many steps.
    pub(crate) steps: u32,
    #[serde(default)]
    pub(crate) label: Option<String>,
}

/// Doubles its input.
pub(crate) struct Double;

#[async_trait]
impl JobHandler for Double {
    type Input = u32;
    type Output = u32;
    async fn run(&self, input: u32, ctx: JobContext) -> Result<u32, JobError> {
        ctx.report_progress(1, 1, "doubling");
        Ok(input * 2)
    }
}

/// A configurable plugin: its id, the tool names it registers, its API version, whether
/// its start fails.
pub(crate) struct TestPlugin {
    pub(crate) id: String,
    pub(crate) tools: Vec<String>,
    pub(crate) api_version: u32,
    pub(crate) fail_start: bool,
    pub(crate) started: Arc<AtomicBool>,
    pub(crate) section: Option<String>,
    /// What `commands()` declares.
    pub(crate) commands: Vec<CommandSpec>,
}

impl TestPlugin {
    pub(crate) fn new(id: &str, tools: &[&str]) -> Self {
        Self {
            id: id.into(),
            tools: tools.iter().map(|t| (*t).to_owned()).collect(),
            api_version: brain_plugin_api::PLUGIN_API_VERSION,
            fail_start: false,
            started: Arc::new(AtomicBool::new(false)),
            section: None,
            commands: Vec::new(),
        }
    }

    pub(crate) fn with_commands(mut self, commands: Vec<CommandSpec>) -> Self {
        self.commands = commands;
        self
    }
}

#[async_trait]
impl Plugin for TestPlugin {
    fn id(&self) -> &str {
        &self.id
    }
    fn version(&self) -> &str {
        "0.1.0"
    }
    fn description(&self) -> &str {
        "a test plugin"
    }
    fn api_version(&self) -> u32 {
        self.api_version
    }
    fn config_section(&self) -> &str {
        self.section.as_deref().unwrap_or(&self.id)
    }
    fn commands(&self) -> Vec<CommandSpec> {
        self.commands.clone()
    }
    /// Completes `label` with the plugin's id and what was typed for `steps`.
    fn complete(&self, request: &CompleteRequest<'_>) -> Vec<String> {
        match request.field {
            "label" => vec![format!("{}-{}", self.id, request.typed["steps"])],
            _ => Vec::new(),
        }
    }
    fn register(&self, registrar: &mut Registrar) -> Result<(), PluginError> {
        registrar.job_handler("double", Double);
        for name in &self.tools {
            let ctx = registrar.context();
            let job_type = format!("{}:double", self.id);
            registrar.tool(
                ToolSpec::new(
                    name.clone(),
                    "Enqueues a doubling job",
                    move |input: WorkInput, tool_ctx| {
                        let ctx: Arc<dyn PluginContext> = ctx.clone();
                        let job_type = job_type.clone();
                        async move {
                            let mut job = NewJob::new(job_type, json!(input.steps))
                                .source(tool_ctx.caller.source.clone());
                            if let Some(label) = input.label {
                                job = job.label(label);
                            }
                            let response = ctx.enqueue(job, "Doubling").await?;
                            Ok(ToolResult::started(response))
                        }
                    },
                )
                .starts_work()
                .visibility(if name.starts_with("public_") {
                    Permission::Public
                } else {
                    Permission::Anchor
                }),
            );
        }
        Ok(())
    }
    async fn start(&self, _context: Arc<dyn PluginContext>) -> Result<(), PluginError> {
        if self.fail_start {
            return Err(PluginError::new("the test asked this plugin to fail"));
        }
        self.started.store(true, Ordering::SeqCst);
        Ok(())
    }
}

pub(crate) fn plugin(p: TestPlugin) -> Arc<dyn Plugin> {
    Arc::new(p)
}

/// The JSON of a tool result's structured part.
pub(crate) fn structured(result: &ToolResult) -> &Value {
    &result.structured
}
