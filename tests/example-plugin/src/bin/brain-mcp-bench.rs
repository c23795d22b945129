//! `brain-mcp-bench`: the stock `brain` binary plus one benchmark tool, `example_progress`,
//! whose job reports `steps` progress steps `interval_ms` apart, each message stamped with
//! the wall-clock time it was reported (`sent=<unix seconds>`), so an MCP client can measure
//! the latency from a handler's report to the notification it receives.
//! Run by interfaces/mcp/tests/clients/bench.sh; not part of the plugin guide.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use brain_plugin_api::{
    JobContext, JobError, JobHandler, JsonSchema, NewJob, Plugin, PluginError, Registrar,
    ToolContext, ToolError, ToolResult, ToolSpec,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "brain_plugin_api::schemars")]
#[serde(deny_unknown_fields)]
struct ProgressInput {
    /// Steps to report (1-1000).
    steps: u32,
    /// Milliseconds between steps (10-10000).
    interval_ms: u64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "brain_plugin_api::schemars")]
struct ProgressOutput {
    steps: u32,
}

struct BenchPlugin;

#[async_trait]
impl Plugin for BenchPlugin {
    fn id(&self) -> &str {
        "bench"
    }

    fn version(&self) -> &str {
        env!("CARGO_PKG_VERSION")
    }

    fn description(&self) -> &str {
        "Reports timestamped progress steps, for the MCP latency benchmark"
    }

    fn register(&self, registrar: &mut Registrar) -> Result<(), PluginError> {
        let context = registrar.context();
        registrar.tool(
            ToolSpec::new(
                "example_progress",
                "Reports `steps` progress steps `interval_ms` apart in a background job, each \
             message stamped with the time it was reported.",
                move |input: ProgressInput, tool_ctx: ToolContext| {
                    let context = context.clone();
                    async move {
                        if !(1..=1000).contains(&input.steps) {
                            return Err(ToolError::invalid("steps", "must be between 1 and 1000"));
                        }
                        if !(10..=10_000).contains(&input.interval_ms) {
                            return Err(ToolError::invalid(
                                "interval_ms",
                                "must be between 10 and 10000",
                            ));
                        }
                        let steps = input.steps;
                        let job = NewJob::new("bench:progress", serde_json::json!(input))
                            .source(tool_ctx.caller.source.clone())
                            .label(format!("{steps} steps"));
                        let started = context
                            .enqueue(job, &format!("Reporting {steps} steps"))
                            .await?;
                        Ok(ToolResult::started(started))
                    }
                },
            )
            .starts_work(),
        );
        registrar.job_handler("progress", ProgressJob);
        Ok(())
    }
}

struct ProgressJob;

#[async_trait]
impl JobHandler for ProgressJob {
    type Input = ProgressInput;
    type Output = ProgressOutput;

    async fn run(&self, input: ProgressInput, ctx: JobContext) -> Result<ProgressOutput, JobError> {
        let total = u64::from(input.steps);
        for i in 1..=total {
            if ctx.is_cancelled() {
                return Err(JobError::Cancelled);
            }
            tokio::time::sleep(Duration::from_millis(input.interval_ms)).await;
            let sent = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            ctx.report_progress(i, total, &format!("step {i} sent={sent:.6}"));
        }
        Ok(ProgressOutput { steps: input.steps })
    }

    fn default_duration(&self) -> Duration {
        Duration::from_secs(10)
    }
}

fn main() -> std::process::ExitCode {
    let mut plugins = brain::default_plugins();
    plugins.push(Arc::new(brain_example_plugin::ExamplePlugin));
    plugins.push(Arc::new(BenchPlugin));
    brain::main_with(plugins)
}
