//! How a finished operation is said in one line — "Generated 5 sections in 1.2s", "2 of 10
//! sections failed", "Cancelled: 3 of 10 sections done", "Built preview in 0.4s" — so every
//! interface words the end of the same work the same way and only adds its own marks (✔ in
//! a terminal, ✅ in a chat room) and its own way of saying the time taken. The words are the
//! plugin's: it declares a [`Wording`] when it enqueues, the queue stores it with the job or
//! batch, and every process reads it back — nothing here guesses from a label.

use serde::{Deserialize, Serialize};

use crate::event::JobProgressEvent;
use crate::response::{JobKind, JobStatus};

/// The end of an operation: whether it succeeded, and the words without a mark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub ok: bool,
    pub text: String,
}

/// How the plugin that starts an operation words its end: stored with the job or batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Wording {
    /// A job: what it did ("Built preview"). A batch: the verb ("Generated").
    pub done: String,
    /// A batch's items, one and many ("section", "sections").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<(String, String)>,
    /// A job's words after `done` once its result is known, with `{took}` for the time
    /// taken, `{field}` for a field of the result and `{field:one:many}` for a count of
    /// things: "{pages:page:pages} in {took} → {output}/" reads "Built preview: 43 pages in
    /// 0.3s → dist/preview/". Without a result that has every field, "Built preview in 0.3s".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Wording {
    /// A job's: "Built preview" reads "Built preview in 0.4s".
    pub fn job(done: impl Into<String>) -> Self {
        Self {
            done: done.into(),
            items: None,
            detail: None,
        }
    }

    /// What follows `done` once the job's result is known (see [`Wording::detail`]).
    pub fn detail(mut self, template: impl Into<String>) -> Self {
        self.detail = Some(template.into());
        self
    }

    /// A batch's: ("Generated", "section", "sections") reads "Generated 5 sections in 1.2s",
    /// "2 of 10 sections failed", "Cancelled: 3 of 10 sections done".
    pub fn batch(done: impl Into<String>, one: impl Into<String>, many: impl Into<String>) -> Self {
        Self {
            done: done.into(),
            items: Some((one.into(), many.into())),
            detail: None,
        }
    }
}

impl JobProgressEvent {
    /// How this operation ended, with `took` saying its elapsed time ("1.2s", "42 s");
    /// `None` while it is still pending or running.
    pub fn outcome(&self, took: &str) -> Option<Outcome> {
        if !self.status.is_finished() {
            return None;
        }
        let label = self.label.as_deref().unwrap_or(&self.id);
        let wording = self.wording.as_ref();
        let text = if self.kind == JobKind::Batch || self.batch.is_some() {
            let batch = self.batch.clone().unwrap_or_default();
            let (verb, one, many) = match wording {
                Some(Wording {
                    done,
                    items: Some((one, many)),
                    ..
                }) => (done.as_str(), one.as_str(), many.as_str()),
                Some(Wording {
                    done, items: None, ..
                }) => (done.as_str(), "item", "items"),
                None => ("Completed", "job", "jobs"),
            };
            let nouns = |n: u64| if n == 1 { one } else { many };
            match self.status {
                JobStatus::Completed => {
                    let done = batch.completed;
                    format!("{verb} {done} {} in {took}", nouns(done))
                }
                JobStatus::Failed => {
                    let (failed, total) = (batch.failed, batch.total);
                    format!("{failed} of {total} {} failed", nouns(total))
                }
                _ => {
                    let (done, total) = (batch.completed, batch.total);
                    format!("Cancelled: {done} of {total} {} done", nouns(total))
                }
            }
        } else {
            match self.status {
                JobStatus::Completed => match wording {
                    Some(w) => match w
                        .detail
                        .as_deref()
                        .and_then(|d| filled(d, self.result.as_ref(), took))
                    {
                        Some(detail) => format!("{}: {detail}", w.done),
                        None => format!("{} in {took}", w.done),
                    },
                    None => format!("Done: {label} in {took}"),
                },
                JobStatus::Failed => format!("{} failed", capitalized(label)),
                _ => format!("Cancelled: {label}"),
            }
        };
        Some(Outcome {
            ok: self.status == JobStatus::Completed,
            text,
        })
    }
}

impl JobProgressEvent {
    /// What a finished job's result lists as `"warnings": ["…"]` — things it left out that
    /// the person should know (a section without content) — which every interface shows
    /// after the outcome line.
    pub fn warnings(&self) -> Vec<String> {
        self.result
            .as_ref()
            .and_then(|r| r.get("warnings"))
            .and_then(|w| w.as_array())
            .map(|w| {
                w.iter()
                    .filter_map(|w| w.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// `template` with `{took}`, `{field}` and `{field:one:many}` filled from `result`; `None`
/// when a field is missing.
fn filled(template: &str, result: Option<&serde_json::Value>, took: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}')? + open;
        let mut parts = rest[open + 1..close].split(':');
        let field = parts.next().unwrap_or_default();
        let value = if field == "took" {
            took.to_owned()
        } else {
            match result?.get(field)? {
                serde_json::Value::String(text) => text.clone(),
                serde_json::Value::Number(n) => {
                    let count = n.as_u64()?;
                    match (parts.next(), parts.next()) {
                        (Some(one), Some(many)) => {
                            format!(
                                "{} {}",
                                thousands(count),
                                if count == 1 { one } else { many }
                            )
                        }
                        _ => thousands(count),
                    }
                }
                _ => return None,
            }
        };
        out.push_str(&value);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// 1043 → "1,043".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_detail_is_filled_from_the_result() {
        let result = json!({"pages": 1043, "output": "dist/preview", "one": 1, "warnings": 2});
        let fill = |t: &str| filled(t, Some(&result), "0.3s");
        assert_eq!(
            fill("{pages:page:pages} in {took} → {output}/").as_deref(),
            Some("1,043 pages in 0.3s → dist/preview/")
        );
        assert_eq!(fill("{one:page:pages}").as_deref(), Some("1 page"));
        assert_eq!(fill("{pages}").as_deref(), Some("1,043"));
        assert_eq!(fill("{missing} pages"), None);
        assert_eq!(filled("{pages}", None, "1s"), None);
        assert_eq!(fill("{unclosed"), None);
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
