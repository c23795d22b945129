//! What a plugin asks the queue to run: a job, or a batch of jobs whose status derives
//! from theirs.

use std::time::Duration;

use serde_json::Value;

use crate::outcome::Wording;
use crate::source::Source;

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub job_type: String,
    pub input: Value,
    pub source: Source,
    /// What a person calls this job, e.g. "landing:hero".
    pub label: Option<String>,
    /// Higher runs first.
    pub priority: i32,
    pub max_attempts: Option<u32>,
    /// Run no earlier than this long after enqueueing.
    pub delay: Duration,
    pub metadata: Option<Value>,
    /// Jobs or batches (by id) this job waits for: it starts only when all have ended.
    pub after: Vec<String>,
    /// What happens when one of them fails or is cancelled.
    pub after_failure: AfterFailure,
    /// At most one pending or running job per job type and key: enqueueing another while
    /// one is under way shares that one instead (the caller gets its handle).
    pub unique_key: Option<String>,
    /// How its end is worded ("Built preview in 0.4s"); stored with it.
    pub wording: Option<Wording>,
}

/// What a job does when work it waits for (`after`) failed or was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AfterFailure {
    /// It ends `cancelled` without running, its error naming the dependency.
    #[default]
    Cancel,
    /// It runs anyway.
    Run,
}

impl NewJob {
    pub fn new(job_type: impl Into<String>, input: Value) -> Self {
        Self {
            job_type: job_type.into(),
            input,
            source: Source::system(),
            label: None,
            priority: 0,
            max_attempts: None,
            delay: Duration::ZERO,
            metadata: None,
            after: Vec::new(),
            after_failure: AfterFailure::Cancel,
            unique_key: None,
            wording: None,
        }
    }

    /// How its end is worded, for every interface and process: `Wording::job("Built
    /// preview")`.
    pub fn wording(mut self, wording: Wording) -> Self {
        self.wording = Some(wording);
        self
    }

    /// Shares the work with a pending or running job of the same type and key, if any.
    pub fn unique(mut self, key: impl Into<String>) -> Self {
        self.unique_key = Some(key.into());
        self
    }

    /// Waits for `id` (a job or batch) to end before starting.
    pub fn after(mut self, id: impl Into<String>) -> Self {
        self.after.push(id.into());
        self
    }

    pub fn after_failure(mut self, policy: AfterFailure) -> Self {
        self.after_failure = policy;
        self
    }

    pub fn source(mut self, source: Source) -> Self {
        self.source = source;
        self
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts);
        self
    }

    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    pub fn metadata(mut self, metadata: Value) -> Self {
        self.metadata = Some(metadata);
        self
    }
}

/// A batch of jobs to enqueue together; its status derives from its jobs.
#[derive(Debug, Clone, PartialEq)]
pub struct NewBatch {
    pub source: Source,
    /// What the batch does, e.g. "Generating content".
    pub label: Option<String>,
    pub metadata: Option<Value>,
    pub jobs: Vec<NewJob>,
    /// Jobs or batches every job of this batch waits for (added to each job's own `after`).
    pub after: Vec<String>,
    /// How its end is worded: `Wording::batch("Generated", "section", "sections")`.
    pub wording: Option<Wording>,
}

impl NewBatch {
    pub fn new(source: Source) -> Self {
        Self {
            source,
            label: None,
            metadata: None,
            jobs: Vec::new(),
            after: Vec::new(),
            wording: None,
        }
    }

    /// How its end is worded ("Generated 5 sections in 1.2s"), for every interface and
    /// process.
    pub fn wording(mut self, wording: Wording) -> Self {
        self.wording = Some(wording);
        self
    }

    /// Every job of the batch waits for `id` (a job or batch) to end before starting.
    pub fn after(mut self, id: impl Into<String>) -> Self {
        self.after.push(id.into());
        self
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn job(mut self, job: NewJob) -> Self {
        self.jobs.push(job);
        self
    }
}
