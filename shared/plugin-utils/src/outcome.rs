//! How a finished operation is said in one line — "Generated 5 sections in 1.2s", "2 of 10
//! sections failed", "Cancelled: 3 of 10 sections done", "Built preview in 0.4s" — so every
//! interface words the end of the same work the same way and only adds its own marks (✔ in
//! a terminal, ✅ in a chat room) and its own way of saying the time taken.

use crate::event::JobProgressEvent;
use crate::response::{JobKind, JobStatus};

/// The end of an operation: whether it succeeded, and the words without a mark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub ok: bool,
    pub text: String,
}

impl JobProgressEvent {
    /// How this operation ended, with `took` saying its elapsed time ("1.2s", "42 s");
    /// `None` while it is still pending or running.
    pub fn outcome(&self, took: &str) -> Option<Outcome> {
        if !self.status.is_finished() {
            return None;
        }
        let label = self.label.as_deref().unwrap_or(&self.id);
        let text = if self.kind == JobKind::Batch || self.batch.is_some() {
            let batch = self.batch.clone().unwrap_or_default();
            let (verb, noun) = batch_words(label);
            let nouns = |n: u64| {
                if n == 1 {
                    noun.to_owned()
                } else {
                    format!("{noun}s")
                }
            };
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
                JobStatus::Completed => format!("{} in {took}", job_done(label)),
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

/// The past-tense verb and the item noun for a batch label of the site tools.
fn batch_words(label: &str) -> (&'static str, &'static str) {
    let lower = label.to_ascii_lowercase();
    if lower.starts_with("generating") {
        ("Generated", "section")
    } else if lower.starts_with("promoting") {
        ("Promoted", "section")
    } else if lower.starts_with("rolling back") {
        ("Rolled back", "section")
    } else {
        ("Completed", "job")
    }
}

/// What a finished single job did: "Built preview" for the site build's "build preview".
fn job_done(label: &str) -> String {
    match label.strip_prefix("build ") {
        Some(env) => format!("Built {env}"),
        None => format!("Done: {label}"),
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
