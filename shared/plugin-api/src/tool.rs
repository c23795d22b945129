//! Tools: what interfaces list and callers run. A tool has a name valid in MCP, a
//! description, JSON schemas generated from its Rust input and output types, a visibility,
//! and an async handler that returns structured JSON plus text for people.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::permission::{Caller, Permission};
use crate::response::AsyncToolResponse;

/// Why a tool call did not produce a result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ToolError {
    /// The input does not fit the tool's schema; `field` is a path like `route` or
    /// `sections[2].id` (empty for the whole input).
    #[error("invalid input{}: {message}", if field.is_empty() { String::new() } else { format!(" at `{field}`") })]
    InvalidInput { field: String, message: String },
    #[error("no tool named {name:?}")]
    NotFound { name: String },
    #[error("permission denied: {tool} needs {required} permission, the caller has {caller}")]
    PermissionDenied {
        tool: String,
        required: Permission,
        caller: Permission,
    },
    #[error("{0}")]
    Failed(String),
    #[error("cancelled")]
    Cancelled,
}

impl ToolError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ToolError::InvalidInput {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn failed(message: impl Into<String>) -> Self {
        ToolError::Failed(message.into())
    }
}

/// A tool's answer: JSON for programs and text for people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolResult {
    pub structured: Value,
    pub text: String,
    /// The handle of the job or batch a slow tool started (also `structured`, as JSON):
    /// what an interface follows, without parsing the JSON back.
    #[serde(skip)]
    pub started: Option<AsyncToolResponse>,
}

impl ToolResult {
    pub fn new(structured: impl Serialize, text: impl Into<String>) -> Self {
        Self {
            // Serializing plain data types cannot fail; a map with non-string keys would.
            structured: serde_json::to_value(structured)
                .unwrap_or_else(|e| Value::String(e.to_string())),
            text: text.into(),
            started: None,
        }
    }

    /// The answer of a slow tool that started a job or batch.
    pub fn started(response: AsyncToolResponse) -> Self {
        let text = response.human_text();
        let mut result = Self::new(&response, text);
        result.started = Some(response);
        result
    }
}

impl AsyncToolResponse {
    /// The estimated duration as said after a comma or a dash: "about 10-30 seconds",
    /// "about 30 seconds" (a range whose ends read the same already says "about").
    pub fn about_duration(&self) -> Option<String> {
        let duration = self.estimated_duration.as_deref()?;
        Some(if duration.starts_with("about ") {
            duration.to_owned()
        } else {
            format!("about {duration}")
        })
    }

    /// "Started batch batch_…: generating 10 sections, about 30-60 seconds. Check status in
    /// 30 seconds with the status tool."
    pub fn human_text(&self) -> String {
        let mut text = self.started_text();
        if let Some(check) = &self.check_status_in {
            text.push_str(&format!(" Check status in {check} with the status tool."));
        }
        text
    }

    /// "Started batch batch_…: generating 10 sections, about 30-60 seconds.": what started,
    /// for an interface that says itself how to follow it.
    pub fn started_text(&self) -> String {
        let verb = match self.status {
            crate::response::StartStatus::Started => "Started",
            crate::response::StartStatus::Queued => "Queued",
        };
        let kind = match self.kind {
            crate::response::JobKind::Job => "job",
            crate::response::JobKind::Batch => "batch",
        };
        let mut text = format!(
            "{verb} {kind} {}: {}",
            self.job_id,
            lowercase_first(&self.message)
        );
        if let Some(about) = self.about_duration() {
            text.push_str(&format!(", {about}"));
        }
        text.push('.');
        text
    }
}

fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) if chars.clone().next().is_some_and(char::is_lowercase) => {
            first.to_lowercase().chain(chars).collect()
        }
        _ => s.to_owned(),
    }
}

/// Receives (current, total, message) progress reports.
type ReportFn = dyn Fn(u64, u64, &str) + Send + Sync;

/// Progress of a tool that works while its call is open (no job).
#[derive(Clone, Default)]
pub struct ProgressSink(Option<Arc<ReportFn>>);

impl std::fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "ProgressSink(..)"
        } else {
            "ProgressSink(none)"
        })
    }
}

impl ProgressSink {
    pub fn new(report: impl Fn(u64, u64, &str) + Send + Sync + 'static) -> Self {
        Self(Some(Arc::new(report)))
    }

    /// A sink nobody listens to.
    pub fn none() -> Self {
        Self(None)
    }

    pub fn report(&self, current: u64, total: u64, message: &str) {
        if let Some(report) = &self.0 {
            report(current, total, message);
        }
    }
}

/// What a tool handler knows about its call.
#[derive(Debug, Clone)]
pub struct ToolContext {
    pub caller: Caller,
    pub progress: ProgressSink,
    pub cancel: CancellationToken,
}

impl ToolContext {
    pub fn new(caller: Caller) -> Self {
        Self {
            caller,
            progress: ProgressSink::none(),
            cancel: CancellationToken::new(),
        }
    }
}

/// The handler of a tool, with its input as JSON.
#[async_trait]
pub trait ToolHandler: Send + Sync + 'static {
    async fn call(&self, input: Value, ctx: ToolContext) -> Result<ToolResult, ToolError>;
}

/// A tool as a plugin declares it.
#[derive(Clone)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub input_schema: Value,
    pub output_schema: Option<Value>,
    /// Who may see and run it; anchor unless said otherwise.
    pub visibility: Permission,
    /// Whether it starts background work (answers with a job handle when it does).
    pub starts_work: bool,
    pub handler: Arc<dyn ToolHandler>,
}

impl std::fmt::Debug for ToolSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolSpec")
            .field("name", &self.name)
            .field("visibility", &self.visibility)
            .finish_non_exhaustive()
    }
}

/// What an interface lists: a tool without its handler.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ToolInfo {
    pub name: String,
    pub description: String,
    pub input_schema: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
    pub visibility: Permission,
    /// It starts background work: interfaces offer to follow it (MCP's `wait`).
    #[serde(default)]
    pub starts_work: bool,
    /// The plugin that registered it (`shell` for the shell's own), as the shell lists it;
    /// empty in a bare [`ToolSpec::info`].
    #[serde(default)]
    pub plugin: String,
}

impl ToolSpec {
    /// A tool whose input type `I` gives its schema; the input is deserialized before
    /// `handler` runs, and a mismatch is an [`ToolError::InvalidInput`] naming the field.
    pub fn new<I, F, Fut>(
        name: impl Into<String>,
        description: impl Into<String>,
        handler: F,
    ) -> Self
    where
        I: DeserializeOwned + JsonSchema + Send + 'static,
        F: Fn(I, ToolContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<ToolResult, ToolError>> + Send + 'static,
    {
        Self {
            name: name.into(),
            description: description.into(),
            input_schema: schema_of::<I>(),
            output_schema: None,
            visibility: Permission::Anchor,
            starts_work: false,
            handler: Arc::new(Typed {
                handler,
                input: PhantomData,
            }),
        }
    }

    pub fn visibility(mut self, visibility: Permission) -> Self {
        self.visibility = visibility;
        self
    }

    /// Declares the structured result's schema from its Rust type.
    pub fn output<O: JsonSchema>(mut self) -> Self {
        self.output_schema = Some(schema_of::<O>());
        self
    }

    /// Declares that it starts background work: when it does, its structured result is the
    /// job handle ([`crate::AsyncToolResponse`], through [`ToolResult::started`]); any
    /// `output` declared is what it answers when it starts nothing (a dry run, say). The
    /// published output schema covers both.
    pub fn starts_work(mut self) -> Self {
        self.starts_work = true;
        self
    }

    pub fn info(&self) -> ToolInfo {
        let output_schema = if self.starts_work {
            let handle = schema_of::<crate::AsyncToolResponse>();
            Some(match &self.output_schema {
                Some(otherwise) => either_schema(handle, otherwise.clone()),
                None => handle,
            })
        } else {
            self.output_schema.clone()
        };
        ToolInfo {
            name: self.name.clone(),
            description: self.description.clone(),
            input_schema: self.input_schema.clone(),
            output_schema,
            visibility: self.visibility,
            starts_work: self.starts_work,
            plugin: String::new(),
        }
    }
}

/// An object schema accepting what either schema accepts, their definitions merged at the
/// root (where both refer to them).
pub fn either_schema(a: Value, b: Value) -> Value {
    let mut defs = serde_json::Map::new();
    let mut branch = |schema: Value| -> Value {
        let Value::Object(mut map) = schema else {
            return schema;
        };
        map.remove("$schema");
        if let Some(Value::Object(found)) = map.remove("$defs") {
            defs.extend(found);
        }
        Value::Object(map)
    };
    let (a, b) = (branch(a), branch(b));
    let mut root = serde_json::json!({"type": "object", "anyOf": [a, b]});
    if !defs.is_empty() {
        root["$defs"] = Value::Object(defs);
    }
    root
}

/// The JSON schema of `T`, as an object schema MCP clients accept.
pub fn schema_of<T: JsonSchema>() -> Value {
    let schema = schemars::schema_for!(T);
    serde_json::to_value(schema).unwrap_or_else(|_| serde_json::json!({"type": "object"}))
}

struct Typed<I, F> {
    handler: F,
    input: PhantomData<fn(I)>,
}

#[async_trait]
impl<I, F, Fut> ToolHandler for Typed<I, F>
where
    I: DeserializeOwned + Send + 'static,
    F: Fn(I, ToolContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<ToolResult, ToolError>> + Send + 'static,
{
    async fn call(&self, input: Value, ctx: ToolContext) -> Result<ToolResult, ToolError> {
        let input = parse_input::<I>(input)?;
        (self.handler)(input, ctx).await
    }
}

/// Deserializes a tool input, naming the field at fault.
pub fn parse_input<I: DeserializeOwned>(input: Value) -> Result<I, ToolError> {
    // A missing `arguments` object arrives as null; tools with all-optional fields accept it.
    let input = match input {
        Value::Null => Value::Object(Default::default()),
        Value::Object(_) => input,
        // serde would read an array as a struct's fields in order: `[]` would pass as `{}`.
        other => {
            let kind = match other {
                Value::Array(_) => "an array",
                Value::String(_) => "a string",
                Value::Number(_) => "a number",
                _ => "a boolean",
            };
            return Err(ToolError::InvalidInput {
                field: String::new(),
                message: format!("the input must be a JSON object, got {kind}"),
            });
        }
    };
    serde_path_to_error::deserialize(input).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { String::new() } else { path };
        ToolError::InvalidInput {
            field,
            message: e.into_inner().to_string(),
        }
    })
}

/// Whether `name` is a valid tool name: 1-128 of letters, digits, `_`, `-`, `.` — what MCP
/// clients accept (no colons, no spaces).
pub fn validate_tool_name(name: &str) -> Result<(), String> {
    let ok = (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid tool name {name:?}: use 1-128 of letters, digits, '_', '-', '.' (e.g. `site_generate`)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tool_that_starts_work_publishes_the_handle_or_its_other_answer() {
        #[derive(JsonSchema)]
        #[allow(dead_code)]
        struct Plan {
            sections: Vec<String>,
        }
        #[derive(Deserialize, JsonSchema)]
        struct Empty {}
        let noop =
            |_: Empty, _ctx: ToolContext| async { Ok(ToolResult::new(serde_json::json!({}), "")) };
        let plain = ToolSpec::new("plain", "", noop).info();
        assert!(!plain.starts_work && plain.output_schema.is_none());

        let handle = ToolSpec::new("go", "", noop).starts_work().info();
        let schema = handle.output_schema.unwrap();
        assert!(handle.starts_work);
        assert_eq!(schema["type"], "object");
        assert!(schema["properties"].get("jobId").is_some(), "{schema:#}");

        let both = ToolSpec::new("maybe", "", noop)
            .starts_work()
            .output::<Plan>()
            .info()
            .output_schema
            .unwrap();
        assert_eq!(both["type"], "object");
        let branches = both["anyOf"].as_array().unwrap();
        assert!(branches[0]["properties"].get("jobId").is_some(), "{both:#}");
        assert!(
            branches[1]["properties"].get("sections").is_some(),
            "{both:#}"
        );
        assert!(branches.iter().all(|b| b.get("$schema").is_none()));
        // Every reference resolves at the root.
        let text = both.to_string();
        for reference in text.split("\"$ref\":\"#/$defs/").skip(1) {
            let name = reference.split('"').next().unwrap();
            assert!(both["$defs"].get(name).is_some(), "{name} in {both:#}");
        }
    }

    #[test]
    fn tool_input_must_be_an_object() {
        #[derive(Debug, serde::Deserialize)]
        struct Optional {
            #[serde(default)]
            force: bool,
        }
        assert!(
            !parse_input::<Optional>(Value::Null).unwrap().force,
            "missing arguments"
        );
        for bad in [
            serde_json::json!([]),
            serde_json::json!([true]),
            serde_json::json!(5),
        ] {
            let err = parse_input::<Optional>(bad.clone()).unwrap_err();
            assert!(
                err.to_string().contains("must be a JSON object"),
                "{bad}: {err}"
            );
        }
    }

    #[derive(Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct Input {
        route: String,
        #[serde(default)]
        sections: Vec<Section>,
    }

    #[derive(Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct Section {
        id: String,
        count: u32,
    }

    #[test]
    fn invalid_input_names_the_field() {
        fn check(input: Value, field: &str) {
            match parse_input::<Input>(input.clone()) {
                Err(ToolError::InvalidInput { field: f, .. }) => assert_eq!(f, field, "{input}"),
                other => panic!(
                    "{input}: expected invalid input, got {:?}",
                    other.map(|_| ())
                ),
            }
        }
        check(serde_json::json!({"route": 3}), "route");
        check(
            serde_json::json!({"route": "a", "sections": [{"id": "x", "count": -1}]}),
            "sections[0].count",
        );
        check(serde_json::json!({}), "");
        assert!(parse_input::<Input>(serde_json::json!({"route": "/"})).is_ok());
    }

    #[test]
    fn tool_names() {
        fn check(name: &str, ok: bool) {
            assert_eq!(validate_tool_name(name).is_ok(), ok, "{name:?}");
        }
        check("site_generate", true);
        check("jobs.list-2", true);
        check("site:generate", false);
        check("", false);
        check("has space", false);
        check(&"x".repeat(129), false);
    }

    #[test]
    fn async_response_reads_well() {
        let r = AsyncToolResponse {
            success: true,
            job_id: "batch_1".into(),
            kind: crate::response::JobKind::Batch,
            status: crate::response::StartStatus::Started,
            estimated_duration: Some("30-60 seconds".into()),
            check_status_in: Some("30 seconds".into()),
            message: "Generating 10 sections".into(),
            estimated_duration_ms: None,
            check_status_in_ms: None,
        };
        assert_eq!(
            r.human_text(),
            "Started batch batch_1: generating 10 sections, about 30-60 seconds. Check status in 30 seconds with the status tool."
        );
        let one = AsyncToolResponse {
            estimated_duration: Some(crate::human::format_range(
                std::time::Duration::from_secs(1),
                std::time::Duration::from_secs(1),
            )),
            ..r
        };
        assert!(
            one.human_text().contains(", about 1 second."),
            "{}",
            one.human_text()
        );
    }

    #[tokio::test]
    async fn typed_tools_deserialize_before_running() {
        let tool = ToolSpec::new(
            "echo_route",
            "Echoes the route",
            |input: Input, _ctx| async move {
                Ok(ToolResult::new(
                    &input.route,
                    format!("route {}", input.route),
                ))
            },
        );
        assert_eq!(tool.input_schema["type"], "object");
        assert!(tool.input_schema["properties"]["route"].is_object());
        let ctx = ToolContext::new(Caller::cli());
        let ok = tool
            .handler
            .call(serde_json::json!({"route": "/about"}), ctx.clone())
            .await
            .unwrap();
        assert_eq!(ok.structured, "/about");
        let err = tool
            .handler
            .call(serde_json::json!({"route": false}), ctx)
            .await
            .unwrap_err();
        assert!(
            matches!(err, ToolError::InvalidInput { ref field, .. } if field == "route"),
            "{err}"
        );
    }
}
