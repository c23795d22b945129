//! The MCP server: one [`BrainServer`] per connection (the stdio process, an HTTP session or
//! one stateless 2026-07-28 request). It lists the shell's tools for the caller, runs them,
//! and turns a started job into one of three answers: the job handle at once, a call that
//! stays open streaming progress (with a progress token), or a SEP-2663 task (when the
//! request declares the tasks extension). It also serves the job resources, their
//! subscriptions, and job-lifecycle log messages for clients that ask.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use brain_plugin_api::{
    AsyncToolResponse, Caller, JobStatus, JobStatusEntry, Permission, ShellHandle, Source,
    ToolContext, ToolError, ToolResult, either_schema, schema_of,
};
use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CallToolResult, CancelTaskParams,
    ContentBlock, CreateTaskResult, DetailedTask, ErrorData, GetTaskParams, GetTaskResult,
    Implementation, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult,
    PaginatedRequestParams, ProtocolVersion, ReadResourceRequestParams, ReadResourceResponse,
    ReadResourceResult, Resource, ResourceContents, ResourceTemplate,
    ResourceUpdatedNotificationParam, ServerCapabilities, ServerConfig, SubscribeRequestParams,
    SubscriptionFilter, Task, TaskPayload, TaskStatus, Tool, UnsubscribeRequestParams,
};
use rmcp::service::{RequestContext, SubscriptionContext};
use rmcp::{Peer, RoleServer, ServerHandler};
use serde_json::{Map, Value, json};

use crate::config::McpConfig;
use crate::follow::{self, Throttle};

/// Resource URIs.
pub(crate) const JOBS_URI: &str = "brain://jobs";
const JOB_URI_PREFIX: &str = "brain://jobs/";
/// How often a `brain://jobs` subscription reads the listing to notice changes, wherever
/// the work runs.
const LISTING_READ_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// Who is calling: the stdio connection, or the bearer token of an HTTP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    pub permission: Permission,
}

impl Principal {
    /// The identity of a stdio connection: the OS user running it, so the same person's
    /// next `brain mcp` on this brain sees the tasks an earlier one started (`stdio-uid1000`).
    pub fn stdio() -> Self {
        #[cfg(unix)]
        let user = {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata("/proc/self").map(|m| format!("uid{}", m.uid()))
        };
        #[cfg(not(unix))]
        let user: std::io::Result<String> = Err(std::io::ErrorKind::Unsupported.into());
        let user = user
            .ok()
            .or_else(|| std::env::var("USER").ok())
            .or_else(|| std::env::var("USERNAME").ok())
            .unwrap_or_else(|| "owner".to_owned());
        Self {
            name: format!("stdio-{user}"),
            permission: Permission::Anchor,
        }
    }

    /// HTTP on loopback without configured tokens: the machine's owner.
    pub fn local() -> Self {
        Self {
            name: "local".into(),
            permission: Permission::Anchor,
        }
    }

    pub fn source(&self) -> Source {
        Source::with_detail("mcp", &self.name).unwrap_or_else(|_| Source::system())
    }

    pub fn caller(&self) -> Caller {
        Caller::new(self.source(), self.permission)
    }
}

/// What every connection shares.
pub(crate) struct Shared {
    pub(crate) shell: Arc<dyn ShellHandle>,
    pub(crate) config: McpConfig,
    /// Fired just before the transport closes: calls still waiting on a job answer with
    /// its handle, so the client learns how to find the work after a restart.
    pub(crate) stopping: tokio_util::sync::CancellationToken,
}

/// What one connection remembers between requests.
#[derive(Default)]
struct Connection {
    /// Legacy `resources/subscribe` URIs.
    subscriptions: Arc<Mutex<HashSet<String>>>,
    forwarder: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// The level a legacy client set with `logging/setLevel`.
    #[allow(deprecated)]
    log_level: Arc<Mutex<Option<rmcp::model::LoggingLevel>>>,
    /// One task per job this connection started, logging its lifecycle.
    loggers: Mutex<tokio::task::JoinSet<()>>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(handle) = self
            .forwarder
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            handle.abort();
        }
        // Dropping the set aborts its tasks.
    }
}

/// The MCP server of one connection.
#[derive(Clone)]
pub struct BrainServer {
    shared: Arc<Shared>,
    /// Set for stdio; HTTP reads the principal the auth layer put on each request.
    fixed: Option<Principal>,
    conn: Arc<Connection>,
}

impl BrainServer {
    pub(crate) fn new(shared: Arc<Shared>, fixed: Option<Principal>) -> Self {
        Self {
            shared,
            fixed,
            conn: Arc::new(Connection::default()),
        }
    }

    fn shell(&self) -> &dyn ShellHandle {
        self.shared.shell.as_ref()
    }

    fn principal(&self, ctx: &RequestContext<RoleServer>) -> Result<Principal, ErrorData> {
        if let Some(p) = &self.fixed {
            return Ok(p.clone());
        }
        ctx.extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Principal>())
            .cloned()
            .ok_or_else(|| {
                ErrorData::internal_error("request has no authenticated principal", None)
            })
    }

    /// Whether `principal` may see job `id`: its own work always; everything for trusted
    /// and anchor callers except SEP-2663 tasks, which stay with their creator.
    async fn owns(&self, principal: &Principal, id: &str) -> bool {
        matches!(self.shell().job_source(id).await, Ok(source) if source == principal.source())
    }

    async fn may_read(&self, principal: &Principal, id: &str) -> bool {
        principal.permission >= Permission::Trusted || self.owns(principal, id).await
    }

    fn task_ttl_ms(&self) -> u64 {
        self.shared.config.retention.as_millis() as u64
    }

    async fn create_task(
        &self,
        started: &AsyncToolResponse,
    ) -> Result<CallToolResponse, ErrorData> {
        // The job row is already in SQLite (the tool enqueued it), so tasks/get resolves
        // before this answer leaves: "durably created".
        let entry = self
            .shell()
            .job_status(&started.job_id)
            .await
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        let created = entry.created_at.to_rfc3339();
        let task = Task::new(
            started.job_id.clone(),
            TaskStatus::Working,
            created.clone(),
            created,
        )
        .with_status_message(started.human_text())
        .with_poll_interval_ms(poll_interval_ms(started.check_status_in_ms))
        .with_ttl_ms(self.task_ttl_ms());
        Ok(CallToolResponse::Task(CreateTaskResult::new(task)))
    }

    #[allow(deprecated)]
    /// The level a 2026-07-28 request asked for in its `_meta`: messages for that request.
    /// (A legacy `logging/setLevel` is served by the connection's logger instead.)
    fn log_level(&self, ctx: &RequestContext<RoleServer>) -> Option<rmcp::model::LoggingLevel> {
        ctx.meta.log_level()
    }

    /// Logs each change of status of job `id`, whoever runs it, as a log message at the
    /// level set with `logging/setLevel` (nothing while none is set), until it ends.
    fn log_lifecycle_of(&self, peer: Peer<RoleServer>, id: String) {
        let level = self.conn.log_level.clone();
        let shell = self.shared.shell.clone();
        let mut loggers = self.conn.loggers.lock().unwrap_or_else(|e| e.into_inner());
        while loggers.try_join_next().is_some() {}
        loggers.spawn(async move {
            let Ok(mut follow) = shell.follow(&id).await else {
                return;
            };
            let mut last = None;
            while let Some(e) = follow.next().await {
                if last == Some(e.status) {
                    continue;
                }
                last = Some(e.status);
                let current = *level.lock().unwrap_or_else(|e| e.into_inner());
                let entry = e.status_entry(chrono::Utc::now(), !e.waiting_for_worker);
                follow::log_lifecycle(&peer, current, &id, &entry).await;
                if peer.is_transport_closed() {
                    return;
                }
            }
        });
    }

    /// Starts (once per connection) the task that turns changes of `brain://jobs` into
    /// `notifications/resources/updated` for the legacy subscriptions.
    fn ensure_forwarder(&self, peer: Peer<RoleServer>, principal: Principal) {
        let mut slot = self
            .conn
            .forwarder
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if slot.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        let subscriptions = self.conn.subscriptions.clone();
        let shell = self.shared.shell.clone();
        *slot = Some(tokio::spawn(async move {
            let wanted = move |uri: &str| {
                subscriptions
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .contains(uri)
            };
            let send = |uri: String| {
                let peer = peer.clone();
                async move {
                    peer.notify_resource_updated(ResourceUpdatedNotificationParam::new(uri))
                        .await
                        .is_ok()
                }
            };
            forward_updates(shell, principal, wanted, send).await;
        }));
    }
}

/// `brain://jobs` as `principal` sees it: the newest jobs and batches, only its own
/// unless it is trusted.
async fn jobs_listing(shell: &dyn ShellHandle, principal: &Principal) -> Result<Value, ToolError> {
    let mut input = json!({"limit": 50});
    if principal.permission < Permission::Trusted {
        input["source"] = Value::String(principal.source().to_string());
    }
    // Run as the owner: the listing is already scoped to what this caller may see.
    Ok(shell
        .execute("jobs_list", input, ToolContext::new(Caller::cli()))
        .await?
        .structured)
}

/// What counts as a change of `brain://jobs`: each entry's id, state, count and whether it
/// waits for a worker (its times change on every read).
fn listing_digest(listing: &Value) -> Vec<Value> {
    listing["jobs"]
        .as_array()
        .map(|jobs| {
            jobs.iter()
                .map(|j| json!([j["id"], j["status"], j["progress"], j["waitingForWorker"]]))
                .collect()
        })
        .unwrap_or_default()
}

/// Sends `brain://jobs` as updated when the listing `principal` sees changes — whichever
/// process runs the work: it is read every second, and the newest change goes out, at most
/// two a second, while `wanted` accepts the URI, until `send` fails. (One job's URI follows
/// that job's stream instead: [`follow_updates`].)
async fn forward_updates<W, S, F>(
    shell: Arc<dyn ShellHandle>,
    principal: Principal,
    wanted: W,
    send: S,
) where
    W: Fn(&str) -> bool,
    S: Fn(String) -> F,
    F: std::future::Future<Output = bool>,
{
    let mut throttle = Throttle::per_second_2();
    let mut last: Option<Vec<Value>> = None;
    let mut reads = tokio::time::interval(LISTING_READ_INTERVAL);
    reads.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = reads.tick() => {
                if let Ok(listing) = jobs_listing(&*shell, &principal).await {
                    let digest = listing_digest(&listing);
                    if last.as_ref().is_some_and(|l| *l != digest) && wanted(JOBS_URI) {
                        throttle.mark();
                    }
                    last = Some(digest);
                }
            }
            () = follow::sleep_until_opt(throttle.due()) => {}
        }
        if throttle.take_if_ready(tokio::time::Instant::now()) && !send(JOBS_URI.to_owned()).await {
            return;
        }
    }
}

/// Sends `uri` as updated on every change of job `id` — whichever process runs it — at
/// most twice a second, the final change included, while `wanted` still accepts the URI
/// and `send` succeeds.
async fn follow_updates<W, S, F>(
    shell: Arc<dyn ShellHandle>,
    id: String,
    uri: String,
    wanted: W,
    send: S,
) where
    W: Fn(&str) -> bool,
    S: Fn(String) -> F,
    F: std::future::Future<Output = bool>,
{
    let Ok(mut changes) = shell.follow(&id).await else {
        return;
    };
    // The stream starts with the state as it is, which is no change.
    if changes.next().await.is_none() {
        return;
    }
    let mut throttle = Throttle::per_second_2();
    let mut ended = false;
    loop {
        if !ended {
            tokio::select! {
                change = changes.next() => match change {
                    Some(change) => {
                        ended = change.status.is_finished();
                        throttle.mark();
                    }
                    None => ended = true,
                },
                () = follow::sleep_until_opt(throttle.due()) => {}
            }
        } else {
            follow::sleep_until_opt(throttle.due()).await;
        }
        if !wanted(&uri) {
            return;
        }
        if throttle.take_if_ready(tokio::time::Instant::now()) && !send(uri.clone()).await {
            return;
        }
        if ended && throttle.due().is_none() {
            return;
        }
    }
}

/// SEP-2663 pollIntervalMs: the job's checkStatusIn (aimed just after the expected end
/// when the estimate is confident), at least a second and at most an hour.
fn poll_interval_ms(check_status_in_ms: Option<u64>) -> u64 {
    check_status_in_ms.unwrap_or(5_000).clamp(1_000, 3_600_000)
}

fn text_result(structured: Value, text: String, is_error: bool) -> CallToolResult {
    let mut result = if is_error {
        CallToolResult::error(vec![ContentBlock::text(text)])
    } else {
        CallToolResult::success(vec![ContentBlock::text(text)])
    };
    result.structured_content = Some(structured);
    result
}

fn tool_error(message: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message)])
}

/// The answer of a job that finished while a call waited, and a completed task's result:
/// the status entry with its id, and a line a person or a model reads.
pub(crate) fn finished_result(id: &str, entry: &JobStatusEntry) -> CallToolResult {
    let mut structured = match serde_json::to_value(entry) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    structured.insert("jobId".into(), Value::String(id.to_owned()));
    let is_error = matches!(entry.status, JobStatus::Failed | JobStatus::Cancelled);
    text_result(Value::Object(structured), entry.describe(id), is_error)
}

fn object(value: &Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    }
}

/// Drops schemars' numeric `format`s (`uint64`, `int32`, …): they are not JSON Schema
/// formats, and validating clients (Ajv in the TypeScript SDK) warn about each one.
fn strip_numeric_formats(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("format").and_then(Value::as_str).is_some_and(|f| {
                f.starts_with("int") || f.starts_with("uint") || f == "float" || f == "double"
            }) {
                map.remove("format");
            }
            map.values_mut().for_each(strip_numeric_formats);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_numeric_formats),
        _ => {}
    }
}

/// Replaces boolean `true` subschemas (what schemars gives a free-form JSON value) with
/// `{}`, which means the same: strict validators (the MCP Inspector's) refuse booleans.
fn no_boolean_schemas(value: &mut Value) {
    let Value::Object(map) = value else { return };
    for (key, child) in map.iter_mut() {
        match key.as_str() {
            "properties" | "$defs" | "definitions" | "patternProperties" => {
                if let Value::Object(schemas) = child {
                    schemas.values_mut().for_each(subschema);
                }
            }
            "items" | "additionalProperties" | "not" | "contains" => subschema(child),
            "anyOf" | "oneOf" | "allOf" | "prefixItems" => {
                if let Value::Array(schemas) = child {
                    schemas.iter_mut().for_each(subschema);
                }
            }
            _ => {}
        }
    }
}

fn subschema(schema: &mut Value) {
    if *schema == Value::Bool(true) {
        *schema = json!({});
    }
    no_boolean_schemas(schema);
}

/// A schema as published: an object, without numeric formats or boolean subschemas.
fn published(schema: &Value) -> Map<String, Value> {
    let mut schema = schema.clone();
    strip_numeric_formats(&mut schema);
    no_boolean_schemas(&mut schema);
    object(&schema)
}

/// Adds the MCP-only `wait` argument to a tool's input schema.
fn with_wait(schema: &Value) -> Map<String, Value> {
    let mut schema = published(schema);
    // A tool without arguments has no `properties` yet.
    let props = schema
        .entry("properties")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(props) = props
        && !props.contains_key("wait")
    {
        props.insert(
            "wait".into(),
            json!({
                "type": "boolean",
                "description": "For tools that start a job: false answers at once with the job id \
                                instead of keeping the call open while progress is reported."
            }),
        );
    }
    schema
}

fn declares_wait(schema: &Value) -> bool {
    schema
        .get("properties")
        .and_then(|p| p.get("wait"))
        .is_some()
}

fn tasks_declared(ctx: &RequestContext<RoleServer>) -> bool {
    ctx.client_capabilities()
        .is_some_and(|caps| caps.supports_tasks())
        && ctx
            .protocol_version()
            .is_some_and(|v| v.as_str() >= ProtocolVersion::V_2026_07_28.as_str())
}

fn job_uri_id(uri: &str) -> Option<&str> {
    uri.strip_prefix(JOB_URI_PREFIX)
        .filter(|id| !id.is_empty() && !id.contains('/'))
}

impl ServerHandler for BrainServer {
    #[allow(deprecated)]
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_logging()
            .enable_resources()
            .enable_tools()
            .enable_resources_subscribe()
            .enable_tasks()
            .build();
        ServerConfig::new(capabilities)
            .with_server_info(
                Implementation::new("brain", env!("CARGO_PKG_VERSION")).with_title("Brain"),
            )
            .with_instructions(
                "Tools that start background work (their input takes `wait`) answer with a job id at once; \
                 with a progress token the call stays open and reports progress for up to the \
                 configured bound. Check a job with the status tool or read brain://jobs/{id}.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let principal = self.principal(&ctx)?;
        let tools = self
            .shell()
            .tools(&principal.caller())
            .into_iter()
            .map(|info| {
                // `wait` only where there is work to wait for.
                let input = if info.starts_work {
                    with_wait(&info.input_schema)
                } else {
                    published(&info.input_schema)
                };
                let mut tool = Tool::new(
                    Cow::Owned(info.name),
                    Cow::Owned(info.description),
                    Arc::new(input),
                );
                // A call that waits answers with the final status entry (and its jobId).
                let output = match (info.output_schema, info.starts_work) {
                    (Some(output), true) => {
                        Some(either_schema(output, schema_of::<JobStatusEntry>()))
                    }
                    (output, _) => output,
                };
                if let Some(output) = &output
                    && output.get("type").and_then(Value::as_str) == Some("object")
                {
                    tool = tool.with_raw_output_schema(Arc::new(published(output)));
                }
                tool
            })
            .collect();
        // What a caller sees depends on its token: no shared caches.
        Ok(ListToolsResult::with_all_items(tools).with_cache_scope(CacheScope::Private))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let principal = self.principal(&ctx)?;
        let caller = principal.caller();
        let name = request.name.to_string();
        let mut args = request.arguments.unwrap_or_default();
        // The tool's own `wait` field, if it has one, is its; ours is only on tools that
        // start work. Anywhere else a `wait` goes to the tool, which names it as unknown.
        let ours = self
            .shell()
            .tools(&caller)
            .iter()
            .find(|t| t.name == name)
            .is_some_and(|t| t.starts_work && !declares_wait(&t.input_schema));
        let wait = if !ours {
            true
        } else {
            match args.remove("wait") {
                None => true,
                Some(Value::Bool(b)) => b,
                Some(other) => {
                    return Ok(tool_error(format!(
                        "invalid input at `wait`: expected true or false, got {other}"
                    ))
                    .into());
                }
            }
        };
        let mut tool_ctx = ToolContext::new(caller);
        tool_ctx.cancel = ctx.ct.child_token();
        let result: ToolResult = match self
            .shell()
            .execute(&name, Value::Object(args), tool_ctx)
            .await
        {
            Ok(result) => result,
            // The shell's error quotes at most the first few hundred characters of the name.
            Err(ToolError::NotFound { name }) => {
                return Err(ErrorData::invalid_params(
                    format!("Unknown tool: {name}"),
                    Some(json!({"tool": name})),
                ));
            }
            Err(error) => return Ok(tool_error(error.to_string()).into()),
        };
        let Some(started) = result.started.clone() else {
            return Ok(text_result(result.structured, result.text, false).into());
        };
        self.log_lifecycle_of(ctx.peer.clone(), started.job_id.clone());
        if tasks_declared(&ctx) {
            return self.create_task(&started).await;
        }
        match ctx.meta.get_progress_token() {
            Some(token) if wait => {
                let log_level = self.log_level(&ctx);
                Ok(follow::follow(
                    self.shared.clone(),
                    &ctx,
                    token,
                    &started,
                    result,
                    log_level,
                )
                .await
                .into())
            }
            // Without a token: work that ends within the answer time answers with its
            // result, longer work with its handle.
            None if wait => {
                let id = &started.job_id;
                let ended = match self.shell().settle(id).await {
                    Some(_) => self.shell().job_status(id).await.ok(),
                    None => None,
                };
                Ok(match ended {
                    Some(entry) => finished_result(id, &entry),
                    None => text_result(result.structured, result.text, false),
                }
                .into())
            }
            // `wait: false` asks for the handle at once.
            _ => Ok(text_result(result.structured, result.text, false).into()),
        }
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, ErrorData> {
        let principal = self.principal(&ctx)?;
        let id = request.task_id;
        if !self.owns(&principal, &id).await {
            return Err(unknown_task(&id));
        }
        let entry = self
            .shell()
            .job_status(&id)
            .await
            .map_err(|_| unknown_task(&id))?;
        let updated = entry
            .finished_at
            .or(entry.started_at)
            .unwrap_or(entry.created_at)
            .to_rfc3339();
        let mut task = Task::new(
            id.clone(),
            TaskStatus::Working,
            entry.created_at.to_rfc3339(),
            updated,
        )
        .with_status_message(follow::status_text(&entry))
        .with_ttl_ms(self.task_ttl_ms());
        if let Some(ms) = entry.check_again_in_ms {
            task = task.with_poll_interval_ms(poll_interval_ms(Some(ms)));
        }
        let payload = match entry.status {
            JobStatus::Pending | JobStatus::Processing => TaskPayload::Working,
            JobStatus::Completed => {
                let result = serde_json::to_value(finished_result(&id, &entry))
                    .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
                TaskPayload::Completed {
                    result: object(&result),
                }
            }
            JobStatus::Failed => TaskPayload::Failed {
                error: object(&json!({
                    "code": -32603,
                    "message": entry.describe(&id),
                    "data": {"jobId": id, "errors": entry.errors},
                })),
            },
            JobStatus::Cancelled => TaskPayload::Cancelled,
        };
        Ok(GetTaskResult::new(DetailedTask::new(task, payload)))
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let principal = self.principal(&ctx)?;
        let id = request.task_id;
        if !self.owns(&principal, &id).await {
            return Err(unknown_task(&id));
        }
        self.shell()
            .cancel_job(&id)
            .await
            .map_err(|e| ErrorData::invalid_params(e.to_string(), None))
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(ListResourcesResult::with_all_items(vec![
            Resource::new(JOBS_URI, "jobs")
                .with_title("Active and recent jobs")
                .with_description(
                    "Status of active and recently finished jobs and batches (yours only for \
                     public callers). Subscribe to be told when they change.",
                )
                .with_mime_type("application/json"),
        ]))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(vec![
            ResourceTemplate::new("brain://jobs/{id}", "job")
                .with_title("A job or batch")
                .with_description(
                    "The status of one job or batch (the status tool's answer). Subscribe to \
                     follow its progress.",
                )
                .with_mime_type("application/json"),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let principal = self.principal(&ctx)?;
        let uri = request.uri;
        let body = if uri == JOBS_URI {
            jobs_listing(self.shell(), &principal)
                .await
                .map_err(|e| ErrorData::internal_error(e.to_string(), None))?
        } else if let Some(id) = job_uri_id(&uri) {
            if !self.may_read(&principal, id).await {
                return Err(ErrorData::resource_not_found(
                    format!("no job or batch at {uri}"),
                    Some(json!({"uri": uri})),
                ));
            }
            let entry = self.shell().job_status(id).await.map_err(|_| {
                ErrorData::resource_not_found(
                    format!("no job or batch at {uri}"),
                    Some(json!({"uri": uri})),
                )
            })?;
            let mut value = serde_json::to_value(&entry)
                .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
            value["jobId"] = Value::String(id.to_owned());
            value
        } else {
            return Err(ErrorData::resource_not_found(
                format!(
                    "unknown resource {uri}: this server has brain://jobs and brain://jobs/{{id}}"
                ),
                Some(json!({"uri": uri})),
            ));
        };
        let text = serde_json::to_string_pretty(&body)
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        Ok(ReadResourceResult::new(vec![
            ResourceContents::text(text, uri).with_mime_type("application/json"),
        ])
        .into())
    }

    #[allow(deprecated)]
    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let principal = self.principal(&ctx)?;
        let uri = request.uri;
        let job = match job_uri_id(&uri) {
            Some(id) if self.may_read(&principal, id).await => Some(id.to_owned()),
            None if uri == JOBS_URI => None,
            _ => {
                return Err(ErrorData::resource_not_found(
                    format!("cannot subscribe to {uri}: no such job, or not yours"),
                    Some(json!({"uri": uri})),
                ));
            }
        };
        self.conn
            .subscriptions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(uri.clone());
        match job {
            Some(id) => {
                let subscriptions = self.conn.subscriptions.clone();
                let peer = ctx.peer.clone();
                tokio::spawn(follow_updates(
                    self.shared.shell.clone(),
                    id,
                    uri,
                    move |uri: &str| {
                        subscriptions
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .contains(uri)
                    },
                    move |uri: String| {
                        let peer = peer.clone();
                        async move {
                            peer.notify_resource_updated(ResourceUpdatedNotificationParam::new(uri))
                                .await
                                .is_ok()
                        }
                    },
                ));
            }
            None => self.ensure_forwarder(ctx.peer.clone(), principal),
        }
        Ok(())
    }

    #[allow(deprecated)]
    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.conn
            .subscriptions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&request.uri);
        Ok(())
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        let mut accepted = SubscriptionFilter::new();
        accepted.resource_subscriptions = requested.resource_subscriptions.as_ref().map(|uris| {
            uris.iter()
                .filter(|u| *u == JOBS_URI || job_uri_id(u).is_some())
                .cloned()
                .collect()
        });
        Some(accepted)
    }

    async fn listen(&self, cx: SubscriptionContext) -> Result<(), ErrorData> {
        let principal = self.principal(cx.request_context())?;
        let uris: HashSet<String> = cx
            .accepted()
            .resource_subscriptions
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let sink = cx.sink().clone();
        let send = move |uri: String| {
            let sink = sink.clone();
            async move { sink.notify_resource_updated(uri).await.is_ok() }
        };
        let mut jobs = tokio::task::JoinSet::new();
        for uri in &uris {
            if let Some(id) = job_uri_id(uri)
                && self.may_read(&principal, id).await
            {
                jobs.spawn(follow_updates(
                    self.shared.shell.clone(),
                    id.to_owned(),
                    uri.clone(),
                    |_: &str| true,
                    send.clone(),
                ));
            }
        }
        let all_jobs = uris.contains(JOBS_URI);
        let forward = async {
            if all_jobs {
                forward_updates(self.shared.shell.clone(), principal, |_| true, send).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            () = forward => {}
            () = cx.cancelled() => {}
        }
        jobs.abort_all();
        Ok(())
    }

    #[allow(deprecated)]
    async fn set_level(
        &self,
        request: rmcp::model::SetLevelRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.principal(&ctx)?;
        *self
            .conn
            .log_level
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(request.level);
        Ok(())
    }
}

fn unknown_task(id: &str) -> ErrorData {
    ErrorData::invalid_params(format!("unknown task {id:?}"), Some(json!({"taskId": id})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_get_wait_and_lose_numeric_formats() {
        let schema = json!({
            "type": "object",
            "properties": {"to": {"type": "integer", "format": "uint32"}, "at": {"type": "string", "format": "date-time"}}
        });
        let published = Value::Object(with_wait(&schema));
        assert_eq!(published["properties"]["wait"]["type"], "boolean");
        assert!(published["properties"]["to"].get("format").is_none());
        assert_eq!(published["properties"]["at"]["format"], "date-time");
        assert!(declares_wait(&published));
        assert!(!declares_wait(&schema));
    }

    #[test]
    fn job_uris() {
        assert_eq!(job_uri_id("brain://jobs/batch_1"), Some("batch_1"));
        assert_eq!(job_uri_id("brain://jobs/"), None);
        assert_eq!(job_uri_id("brain://jobs/a/b"), None);
        assert_eq!(job_uri_id("brain://jobs"), None);
    }

    #[test]
    fn poll_interval_is_bounded() {
        assert_eq!(poll_interval_ms(None), 5_000);
        assert_eq!(poll_interval_ms(Some(10)), 1_000);
        assert_eq!(poll_interval_ms(Some(630_000)), 630_000);
        assert_eq!(poll_interval_ms(Some(u64::MAX)), 3_600_000);
    }
}
