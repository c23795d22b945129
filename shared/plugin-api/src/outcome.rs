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
}

impl Wording {
    /// A job's: "Built preview" reads "Built preview in 0.4s".
    pub fn job(done: impl Into<String>) -> Self {
        Self {
            done: done.into(),
            items: None,
        }
    }

    /// A batch's: ("Generated", "section", "sections") reads "Generated 5 sections in 1.2s",
    /// "2 of 10 sections failed", "Cancelled: 3 of 10 sections done".
    pub fn batch(done: impl Into<String>, one: impl Into<String>, many: impl Into<String>) -> Self {
        Self {
            done: done.into(),
            items: Some((one.into(), many.into())),
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
                }) => (done.as_str(), one.as_str(), many.as_str()),
                Some(Wording { done, items: None }) => (done.as_str(), "item", "items"),
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
                    Some(w) => format!("{} in {took}", w.done),
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

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
