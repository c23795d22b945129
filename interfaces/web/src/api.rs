//! The dashboard's JSON: the overview, history pages, an operation's whole record, the
//! learned durations, the tools a caller may run, the live event stream, and the actions
//! (cancel, retry, start a tool) — each through the shell, as the signed-in caller.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use brain_plugin_api::{
    HistoryQuery, JobStatus, ListedJob, OperationDetail, ShellHandle, ToolContext, ToolError,
    ToolInfo,
};
use chrono::{DateTime, Utc};
use futures_util::Stream;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::hub::Hub;

/// What every handler shares.
pub(crate) struct App {
    pub(crate) shell: Arc<dyn ShellHandle>,
    pub(crate) hub: Arc<Hub>,
    pub(crate) access: Arc<crate::auth::Access>,
    pub(crate) hide_inputs: bool,
}

pub(crate) type Shared = State<Arc<App>>;

/// `{"error": message}` with `status`.
pub(crate) fn error_response(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// A request refused before the shell is asked: its status and why.
pub(crate) struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        error_response(self.0, self.1)
    }
}

/// A tool's refusal as HTTP: bad input 400, not allowed 403, unknown 404. The shell says
/// an unknown job or batch as invalid input at `id` (`ToolError` has no variant for it), so
/// that one is told apart by its words.
fn tool_error(error: ToolError) -> Response {
    let status = match &error {
        ToolError::InvalidInput { field, message }
            if field == "id" && message.starts_with("no job or batch with id") =>
        {
            StatusCode::NOT_FOUND
        }
        ToolError::InvalidInput { .. } => StatusCode::BAD_REQUEST,
        ToolError::PermissionDenied { .. } => StatusCode::FORBIDDEN,
        ToolError::NotFound { .. } => StatusCode::NOT_FOUND,
        _ => StatusCode::CONFLICT,
    };
    error_response(status, error.to_string())
}

/// Reading jobs needs what the shell's job listing needs (trusted, unless configured
/// otherwise): a public caller sees only the tools it may run.
fn may_read(app: &App, principal: &Principal) -> Result<(), Refusal> {
    readable(&app.shell.tools(&principal.caller()), principal)
}

/// [`may_read`] for a caller who may run `tools`.
fn readable(tools: &[ToolInfo], principal: &Principal) -> Result<(), Refusal> {
    if tools.iter().any(|t| t.name == "jobs_list") {
        Ok(())
    } else {
        Err(Refusal(
            StatusCode::FORBIDDEN,
            format!(
                "{} ({}) may not see the queue's work",
                principal.name, principal.permission
            ),
        ))
    }
}

pub(crate) async fn overview(
    State(app): Shared,
    Extension(principal): Extension<Principal>,
) -> Response {
    let tools = app.shell.tools(&principal.caller());
    if let Err(refusal) = readable(&tools, &principal) {
        return refusal.into_response();
    }
    let may = |tool: &str| tools.iter().any(|t| t.name == tool);
    let (active, mut recent, stats) = app.hub.overview();
    recent.truncate(20);
    // The types the live workers run, and those of the work shown: from what the hub
    // already holds, without a read per page.
    let mut types: BTreeSet<String> = active
        .iter()
        .chain(&recent)
        .filter_map(|op| op.job_type.clone())
        .collect();
    let (workers, minutes) = match &stats {
        Some(stats) => {
            types.extend(stats.workers.iter().flat_map(|w| w.job_types.clone()));
            types.extend(stats.active.iter().map(|c| c.job_type.clone()));
            (json!(stats.workers), json!(stats.minutes))
        }
        None => (json!([]), json!([])),
    };
    Json(json!({
        "active": active,
        "recent": recent,
        "workers": workers,
        "minutes": minutes,
        "jobTypes": types,
        "me": {"name": principal.name, "permission": principal.permission},
        "can": {
            "cancel": may("jobs_cancel"),
            "retry": may("jobs_retry"),
            "start": tools.iter().any(|t| t.starts_work),
        },
    }))
    .into_response()
}

/// The history page's query, as the browser sends it.
#[derive(Debug, Deserialize, Default)]
pub(crate) struct OpsQuery {
    status: Option<String>,
    #[serde(rename = "type")]
    job_type: Option<String>,
    source: Option<String>,
    since: Option<String>,
    until: Option<String>,
    q: Option<String>,
    before: Option<String>,
    limit: Option<String>,
}

fn time(field: &str, text: &str) -> Result<i64, Refusal> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc).timestamp_millis())
        .map_err(|_| {
            Refusal(
                StatusCode::BAD_REQUEST,
                format!(
                    "`{field}`: {text:?} is not a time; write ISO 8601, e.g. 2026-12-07T10:00:00Z"
                ),
            )
        })
}

impl OpsQuery {
    fn history(self) -> Result<HistoryQuery, Refusal> {
        let given = |v: Option<String>| v.filter(|t| !t.trim().is_empty());
        let bad = |message: String| Refusal(StatusCode::BAD_REQUEST, message);
        let status = match given(self.status) {
            Some(text) => Some(JobStatus::parse(&text).ok_or_else(|| {
                bad(format!(
                    "`status`: {text:?} is not a state; one of pending, processing, completed, failed, cancelled"
                ))
            })?),
            None => None,
        };
        let limit = match given(self.limit) {
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=500).contains(n))
                .ok_or_else(|| bad(format!("`limit`: {text:?} is not a number from 1 to 500")))?,
            None => 50,
        };
        Ok(HistoryQuery {
            status,
            job_type: given(self.job_type),
            source: given(self.source),
            since: given(self.since).map(|t| time("since", &t)).transpose()?,
            until: given(self.until).map(|t| time("until", &t)).transpose()?,
            search: given(self.q),
            before: given(self.before),
            limit,
        })
    }
}

pub(crate) async fn ops(
    State(app): Shared,
    Extension(principal): Extension<Principal>,
    Query(query): Query<OpsQuery>,
) -> Response {
    if let Err(refusal) = may_read(&app, &principal) {
        return refusal.into_response();
    }
    let query = match query.history() {
        Ok(query) => query,
        Err(refusal) => return refusal.into_response(),
    };
    match app.shell.history(query).await {
        Ok(page) => Json(json!({ "ops": page.ops, "next": page.next })).into_response(),
        Err(error) => tool_error(error),
    }
}

/// Key names whose values are masked in a job's input.
const SECRET_KEYS: [&str; 7] = [
    "secret",
    "token",
    "password",
    "api_key",
    "apikey",
    "authorization",
    "credential",
];

/// `input` with the value of every secret-named key (any depth) replaced.
fn masked(mut input: Value) -> Value {
    fn walk(value: &mut Value) {
        match value {
            Value::Object(map) => {
                for (key, v) in map.iter_mut() {
                    let key = key.to_lowercase().replace('-', "_");
                    if SECRET_KEYS.iter().any(|s| key.contains(s)) {
                        *v = Value::String("********".into());
                    } else {
                        walk(v);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut input);
    input
}

pub(crate) async fn op(
    State(app): Shared,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    if let Err(refusal) = may_read(&app, &principal) {
        return refusal.into_response();
    }
    let OperationDetail {
        job,
        items,
        items_truncated,
        log,
    } = match app.shell.operation_detail(&id).await {
        Ok(detail) => detail,
        Err(error) => return tool_error(error),
    };
    let entry = match app.shell.job_status(&id).await {
        Ok(entry) => entry,
        Err(error) => return tool_error(error),
    };
    // A batch's jobs carry its source (and, mostly, its type).
    let record = job
        .as_ref()
        .or_else(|| items.as_ref().and_then(|i| i.first()));
    let op = ListedJob {
        id: id.clone(),
        job_type: record.map(|r| r.job_type.clone()),
        source: record.map(|r| r.source.clone()).unwrap_or_default(),
        entry,
    };
    let job = job.map(|j| {
        let took = took_ms(j.started_at, j.finished_at);
        let wait = j
            .started_at
            .map(|s| (s - j.created_at).num_milliseconds().max(0));
        let mut view = json!(j);
        view["input"] = if app.hide_inputs {
            Value::Null
        } else {
            masked(j.input)
        };
        view["inputHidden"] = json!(app.hide_inputs);
        view["durationMs"] = json!(took);
        view["queueWaitMs"] = json!(wait);
        view
    });
    let items = items.map(|items| {
        items
            .into_iter()
            .map(|i| {
                let took = took_ms(i.started_at, i.finished_at);
                json!({
                    "id": i.id, "label": i.label, "status": i.status, "attempt": i.attempt,
                    "maxAttempts": i.max_attempts, "startedAt": i.started_at,
                    "finishedAt": i.finished_at, "durationMs": took, "error": i.error,
                })
            })
            .collect::<Vec<_>>()
    });
    Json(json!({
        "op": op, "job": job, "items": items, "itemsTruncated": items_truncated, "log": log,
    }))
    .into_response()
}

/// How long a run took, once it has ended.
fn took_ms(started: Option<DateTime<Utc>>, finished: Option<DateTime<Utc>>) -> Option<i64> {
    started
        .zip(finished)
        .map(|(s, f)| (f - s).num_milliseconds().max(0))
}

pub(crate) async fn estimates(
    State(app): Shared,
    Extension(principal): Extension<Principal>,
) -> Response {
    if let Err(refusal) = may_read(&app, &principal) {
        return refusal.into_response();
    }
    match app.shell.estimates().await {
        Ok(types) => Json(json!({ "types": types })).into_response(),
        Err(error) => tool_error(error),
    }
}

pub(crate) async fn tools(
    State(app): Shared,
    Extension(principal): Extension<Principal>,
) -> Response {
    Json(json!({ "tools": app.shell.tools(&principal.caller()) })).into_response()
}

/// Runs `tool` with `input` as the principal; the answer's text and the id of the work it
/// started, if any.
async fn run(app: &App, principal: &Principal, tool: &str, input: Value) -> Response {
    let ctx = ToolContext::new(principal.caller());
    match app.shell.execute(tool, input, ctx).await {
        Ok(result) => {
            let job_id = result
                .started
                .as_ref()
                .map(|s| s.job_id.clone())
                .or_else(|| {
                    result
                        .structured
                        .get("jobId")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                });
            Json(json!({ "ok": true, "text": result.text, "jobId": job_id })).into_response()
        }
        Err(error) => tool_error(error),
    }
}

pub(crate) async fn cancel(
    State(app): Shared,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    run(&app, &principal, "jobs_cancel", json!({ "id": id })).await
}

pub(crate) async fn retry(
    State(app): Shared,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    run(&app, &principal, "jobs_retry", json!({ "id": id })).await
}

pub(crate) async fn start(
    State(app): Shared,
    Extension(principal): Extension<Principal>,
    Path(tool): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let input: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(input) => input,
            Err(error) => {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    format!("the body is not JSON: {error}"),
                );
            }
        }
    };
    run(&app, &principal, &tool, input).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct EventsQuery {
    id: Option<String>,
}

/// How often an idle stream sends a comment, so proxies and browsers keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The live stream: first every known state, then whatever changes, newest state only.
pub(crate) async fn events(
    State(app): Shared,
    Extension(principal): Extension<Principal>,
    Query(query): Query<EventsQuery>,
) -> Response {
    if let Err(refusal) = may_read(&app, &principal) {
        return refusal.into_response();
    }
    Sse::new(stream(app.hub.clone(), query.id))
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response()
}

fn stream(hub: Arc<Hub>, id: Option<String>) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    let cursor = hub.cursor(id);
    futures_util::stream::unfold(
        (hub, cursor, Vec::<SseEvent>::new()),
        |(hub, mut cursor, mut pending)| async move {
            if pending.is_empty() {
                let changes = hub.next(&mut cursor).await?;
                if !changes.ops.is_empty() {
                    let data = json!({ "ops": changes.ops });
                    pending.push(SseEvent::default().event("ops").data(data.to_string()));
                }
                if let Some(stats) = changes.stats {
                    let data = json!({ "workers": stats.workers, "minutes": stats.minutes });
                    pending.push(SseEvent::default().event("stats").data(data.to_string()));
                }
            }
            let event = pending.pop()?;
            Some((Ok(event), (hub, cursor, pending)))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_at_any_depth() {
        let input = json!({"route": "/", "api_key": "k", "nested": [{"Auth-Token": "t", "n": 1}]});
        assert_eq!(
            masked(input),
            json!({"route": "/", "api_key": "********", "nested": [{"Auth-Token": "********", "n": 1}]})
        );
    }

    #[test]
    fn bad_history_queries_name_the_field() {
        let refused = |query: OpsQuery| query.history().err().map(|r| r.0);
        assert_eq!(
            refused(OpsQuery {
                status: Some("done".into()),
                ..OpsQuery::default()
            }),
            Some(StatusCode::BAD_REQUEST)
        );
        assert!(
            OpsQuery {
                since: Some("yesterday".into()),
                ..OpsQuery::default()
            }
            .history()
            .is_err()
        );
        let ok = OpsQuery {
            since: Some("2026-12-07T10:00:00Z".into()),
            limit: Some("10".into()),
            ..OpsQuery::default()
        }
        .history()
        .ok();
        assert_eq!(
            ok.map(|q| (q.limit, q.since)),
            Some((10, Some(1_796_637_600_000)))
        );
    }
}
