//! An example plugin, complete and small: what the README's "Write a plugin" guide walks
//! through. It shows the three things a plugin does:
//!
//! - a slow tool, `example_count`, that validates its input, enqueues a job through the
//!   [`PluginContext`] and answers at once with the job's id and estimates;
//! - a quick tool, `example_hello`, that answers synchronously;
//! - the job's handler, `example:count`, that reports progress each step, honours
//!   cancellation and returns a result the status tool shows.
//!
//! It depends on `brain-plugin-api` (plus serde and tokio's timer) only; the binary in
//! `src/main.rs` puts it into a brain.

use std::time::Duration;

use async_trait::async_trait;
use brain_plugin_api::{
    ArgSpec, CommandSpec, CompleteRequest, JobContext, JobError, JobHandler, JsonSchema, NewJob,
    Permission, Plugin, PluginContext, PluginError, Registrar, ToolContext, ToolError, ToolResult,
    ToolSpec, Wording,
};
use serde::{Deserialize, Serialize};

/// The largest count `example_count` accepts.
pub const MAX_COUNT: u32 = 1000;

/// The longest pause between steps, so a typo cannot park a worker for days.
pub const MAX_DELAY_MS: u64 = 10_000;

/// The plugin. It holds no state: everything it needs at run time comes through the
/// context the shell hands to [`Plugin::register`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ExamplePlugin;

/// `example_count`'s input, which is also the job's input (stored as JSON in the queue).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "brain_plugin_api::schemars")]
#[serde(deny_unknown_fields)]
pub struct CountInput {
    /// Count from 1 to this number (1-1000).
    #[schemars(range(min = 1, max = 1000))]
    pub to: u32,
    /// Milliseconds to wait between steps (at most 10000), so progress can be watched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
}

impl CountInput {
    /// The checks the schema alone cannot enforce, each naming its field.
    pub fn validate(&self) -> Result<(), ToolError> {
        if !(1..=MAX_COUNT).contains(&self.to) {
            return Err(ToolError::invalid(
                "to",
                format!("must be between 1 and {MAX_COUNT}, got {}", self.to),
            ));
        }
        if let Some(delay) = self.delay_ms.filter(|d| *d > MAX_DELAY_MS) {
            return Err(ToolError::invalid(
                "delay_ms",
                format!("must be at most {MAX_DELAY_MS}, got {delay}"),
            ));
        }
        Ok(())
    }
}

/// The result of an `example:count` job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "brain_plugin_api::schemars")]
pub struct CountOutput {
    /// 1 + 2 + … + to.
    pub sum: u64,
}

/// `example_hello`'s input.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(crate = "brain_plugin_api::schemars")]
#[serde(deny_unknown_fields)]
pub struct HelloInput {
    /// Who to greet; "world" when absent.
    #[serde(default)]
    pub name: Option<String>,
}

/// `example_hello`'s result.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(crate = "brain_plugin_api::schemars")]
pub struct HelloOutput {
    pub greeting: String,
}

#[async_trait]
impl Plugin for ExamplePlugin {
    fn id(&self) -> &str {
        "example"
    }

    fn version(&self) -> &str {
        env!("CARGO_PKG_VERSION")
    }

    fn description(&self) -> &str {
        "Counts in the background, to show how a plugin starts and reports on a job"
    }

    /// How a person types the tools: `brain example count 50` (or `--to 50`) in the CLI,
    /// `/count 50` in the chat, `!count 50` in Matrix; help and Tab completion come with
    /// it, in every interface.
    fn commands(&self) -> Vec<CommandSpec> {
        vec![
            CommandSpec::new(
                "example",
                "count",
                "example_count",
                "Count to a number in the background",
            )
            .arg(
                ArgSpec::number("to", "Count from 1 to this (1-1000)")
                    .positional()
                    .required(),
            )
            .arg(ArgSpec::number(
                "delay_ms",
                "Milliseconds between steps (at most 10000)",
            )),
            CommandSpec::new("example", "hello", "example_hello", "Greet someone").arg(
                ArgSpec::text("name", "Who to greet")
                    .positional()
                    .completes(),
            ),
        ]
    }

    /// Tab after `/hello` offers the names in `[example] friends` (a list of strings), and
    /// "world": a completion source the plugin provides, read from its configuration.
    fn complete(&self, request: &CompleteRequest<'_>) -> Vec<String> {
        if request.field != "name" {
            return Vec::new();
        }
        let friends = request.config["friends"].as_array().into_iter().flatten();
        std::iter::once("world".to_owned())
            .chain(friends.filter_map(|f| f.as_str().map(str::to_owned)))
            .collect()
    }

    fn register(&self, registrar: &mut Registrar) -> Result<(), PluginError> {
        let context = registrar.context();
        registrar.tool(
            ToolSpec::new(
                "example_count",
                "Counts from 1 to `to` in a background job, reporting progress each step; \
                 answers at once with the job id. Follow it with the status tool.",
                move |input: CountInput, tool_ctx: ToolContext| {
                    let context = context.clone();
                    async move { start_count(context.as_ref(), input, &tool_ctx).await }
                },
            )
            // Anchor is the default; said here because it is the point: only the owner may
            // start work.
            .visibility(Permission::Anchor)
            // It answers with a job handle: interfaces offer to follow it.
            .starts_work(),
        );
        registrar.tool(
            ToolSpec::new(
                "example_hello",
                "Greets someone, at once.",
                |input: HelloInput, _ctx: ToolContext| async move {
                    let greeting = format!("Hello, {}!", input.name.as_deref().unwrap_or("world"));
                    Ok(ToolResult::new(
                        HelloOutput {
                            greeting: greeting.clone(),
                        },
                        greeting,
                    ))
                },
            )
            .visibility(Permission::Public)
            .output::<HelloOutput>(),
        );
        // Job type `example:count`: the shell prefixes the plugin id.
        registrar.job_handler("count", CountJob);
        Ok(())
    }
}

/// `example_count`: validate, enqueue, answer with the job's id and estimates.
async fn start_count(
    context: &dyn PluginContext,
    input: CountInput,
    tool_ctx: &ToolContext,
) -> Result<ToolResult, ToolError> {
    input.validate()?;
    let to = input.to;
    let job = NewJob::new("example:count", serde_json::json!(input))
        // Progress events go back to whoever asked (this CLI, that MCP session).
        .source(tool_ctx.caller.source.clone())
        .label(format!("count to {to}"))
        // How its end reads in every interface: "Counted to 50 in 5.1s".
        .wording(Wording::job(format!("Counted to {to}")));
    let response = context.enqueue(job, &format!("Counting to {to}")).await?;
    Ok(ToolResult::started(response))
}

/// Runs `example:count` jobs.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountJob;

#[async_trait]
impl JobHandler for CountJob {
    type Input = CountInput;
    type Output = CountOutput;

    async fn run(&self, input: CountInput, ctx: JobContext) -> Result<CountOutput, JobError> {
        // The tool validated already; a job enqueued some other way is checked again, and
        // bad input is permanent (retrying would not fix it).
        input
            .validate()
            .map_err(|e| JobError::permanent(e.to_string()))?;
        let to = u64::from(input.to);
        let delay = Duration::from_millis(input.delay_ms.unwrap_or(0));
        let mut sum = 0;
        for i in 1..=to {
            if ctx.is_cancelled() {
                return Err(JobError::Cancelled);
            }
            sum += i;
            ctx.report_progress(i, to, &format!("Counting {i}"));
            if !delay.is_zero() && i < to {
                // Wakes early when cancelled, so a long pause does not delay the stop.
                if ctx
                    .cancellation()
                    .run_until_cancelled(tokio::time::sleep(delay))
                    .await
                    .is_none()
                {
                    return Err(JobError::Cancelled);
                }
            }
        }
        Ok(CountOutput { sum })
    }

    fn default_duration(&self) -> Duration {
        // The first estimate, before any count has been timed.
        Duration::from_secs(2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    // A job context without a shell; its progress cell shows what the handler reported.
    use brain_plugin_api::testing;
    #[tokio::test]
    async fn counts_and_reports_progress() {
        let (ctx, progress) = testing::job_context("example:count");
        let input = CountInput {
            to: 5,
            delay_ms: None,
        };
        assert_eq!(CountJob.run(input, ctx).await, Ok(CountOutput { sum: 15 }));
        let last = progress.peek();
        assert_eq!((last.current, last.total), (5, 5));
        assert_eq!(last.message, "Counting 5");
    }

    #[tokio::test]
    async fn stops_when_cancelled() {
        let (ctx, _) = testing::job_context("example:count");
        ctx.cancellation().cancel();
        let input = CountInput {
            to: 3,
            delay_ms: Some(10_000),
        };
        assert_eq!(CountJob.run(input, ctx).await, Err(JobError::Cancelled));
    }

    #[test]
    fn validation_names_the_field() {
        for (input, field) in [
            (
                CountInput {
                    to: 0,
                    delay_ms: None,
                },
                "to",
            ),
            (
                CountInput {
                    to: 1001,
                    delay_ms: None,
                },
                "to",
            ),
            (
                CountInput {
                    to: 1,
                    delay_ms: Some(MAX_DELAY_MS + 1),
                },
                "delay_ms",
            ),
        ] {
            match input.validate() {
                Err(ToolError::InvalidInput { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{input:?}: {other:?}"),
            }
        }
        assert!(
            CountInput {
                to: 1000,
                delay_ms: Some(MAX_DELAY_MS)
            }
            .validate()
            .is_ok()
        );
    }
}
