//! Helpers for testing a plugin without a shell: a [`RecordingContext`] that records what
//! the plugin enqueues, [`job_context`] to run a job handler directly, and
//! [`capture_warnings`] to wait for what the code under test logs.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::event::{Event, PluginEvent};
use crate::generate::{Answer, ContentGenerator, GenerateError, GenerationRequest, NoteHit};
use crate::job::{JobContext, JobInfo};
use crate::notes::{NoteText, is_published};
use crate::plugin::{BrainDirs, PluginContext, Registrar, Registration};
use crate::request::{NewBatch, NewJob};
use crate::response::{AsyncToolResponse, JobKind, JobStatusEntry, StartStatus};
use crate::source::{Source, Target};
use crate::tool::ToolError;
use crate::{Plugin, PluginError};
use brain_messaging::{Bus, Subscription};

pub use crate::capture::{Logged, capture_warnings};
// What [`job_context`] hands back: the progress a handler under test reported.
pub use crate::job::ProgressCell;

/// A [`PluginContext`] that records enqueued jobs and published events instead of running
/// anything.
pub struct RecordingContext {
    plugin_id: String,
    dirs: BrainDirs,
    config: Value,
    bus: Bus<Event>,
    jobs: Mutex<Vec<NewJob>>,
    batches: Mutex<Vec<NewBatch>>,
    notes: Vec<NoteHit>,
    /// The whole notes behind `notes`, for `published_notes`.
    texts: Vec<NoteText>,
    generator: Arc<dyn ContentGenerator>,
}

/// A generator for tests that cannot generate anything.
struct NoGenerator;

#[async_trait]
impl ContentGenerator for NoGenerator {
    fn name(&self) -> &str {
        "none"
    }

    async fn generate(
        &self,
        request: &GenerationRequest,
        _: &CancellationToken,
    ) -> Result<Value, GenerateError> {
        Err(GenerateError::Unsupported {
            provider: "none".into(),
            kind: request.kind.clone(),
        })
    }

    async fn answer(
        &self,
        _: &str,
        passages: &[NoteHit],
        _: &CancellationToken,
    ) -> Result<Answer, GenerateError> {
        Ok(Answer {
            text: String::new(),
            sources: passages.to_vec(),
        })
    }
}

impl RecordingContext {
    pub fn new(plugin_id: &str) -> Arc<Self> {
        Self::with_config(plugin_id, Value::Null)
    }

    /// A context whose [`PluginContext::config`] returns `config`.
    pub fn with_config(plugin_id: &str, config: Value) -> Arc<Self> {
        Arc::new(Self {
            plugin_id: plugin_id.to_owned(),
            dirs: BrainDirs::new(std::env::temp_dir().join(format!("brain-test-{plugin_id}"))),
            config,
            bus: Bus::new(),
            jobs: Mutex::new(Vec::new()),
            batches: Mutex::new(Vec::new()),
            notes: Vec::new(),
            texts: Vec::new(),
            generator: Arc::new(NoGenerator),
        })
    }

    /// A context with these notes to search and this generator. The notes count as
    /// published (`publish: true`), with their summary as their text.
    pub fn with_content(
        plugin_id: &str,
        config: Value,
        notes: Vec<NoteHit>,
        generator: Arc<dyn ContentGenerator>,
    ) -> Arc<Self> {
        let texts = notes
            .iter()
            .map(|hit| NoteText {
                path: hit.path.clone(),
                title: hit.title.clone(),
                tags: hit.tags.clone(),
                date: None,
                summary: hit.summary.clone(),
                body: hit.summary.clone(),
                frontmatter: serde_json::json!({ "publish": true }),
                hash: hit.hash.clone(),
            })
            .collect();
        Self::with_parts(plugin_id, config, notes, texts, generator)
    }

    /// A context with these whole notes, public and private (their frontmatter says which),
    /// to search and publish, and this generator.
    pub fn with_notes(
        plugin_id: &str,
        config: Value,
        texts: Vec<NoteText>,
        generator: Arc<dyn ContentGenerator>,
    ) -> Arc<Self> {
        let hits = texts
            .iter()
            .map(|note| NoteHit {
                path: note.path.clone(),
                title: note.title.clone(),
                tags: note.tags.clone(),
                summary: note.summary.clone(),
                snippet: note.summary.clone(),
                score: 0.0,
                hash: note.hash.clone(),
            })
            .collect();
        Self::with_parts(plugin_id, config, hits, texts, generator)
    }

    fn with_parts(
        plugin_id: &str,
        config: Value,
        notes: Vec<NoteHit>,
        texts: Vec<NoteText>,
        generator: Arc<dyn ContentGenerator>,
    ) -> Arc<Self> {
        let mut ctx = Self::with_config(plugin_id, config);
        if let Some(inner) = Arc::get_mut(&mut ctx) {
            inner.notes = notes;
            inner.texts = texts;
            inner.generator = generator;
        }
        ctx
    }

    /// A fresh context like this one (plugin id, config, notes, generator), nothing
    /// recorded, whose brain directory is `root` — the default folder is shared by every
    /// context of the same plugin id, so tests that write files give each its own.
    pub fn in_dir(&self, root: impl Into<std::path::PathBuf>) -> Arc<Self> {
        Arc::new(Self {
            plugin_id: self.plugin_id.clone(),
            dirs: BrainDirs::new(root),
            config: self.config.clone(),
            bus: Bus::new(),
            jobs: Mutex::new(Vec::new()),
            batches: Mutex::new(Vec::new()),
            notes: self.notes.clone(),
            texts: self.texts.clone(),
            generator: self.generator.clone(),
        })
    }

    /// Jobs enqueued so far (outside batches).
    pub fn jobs(&self) -> Vec<NewJob> {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Batches enqueued so far.
    pub fn batches(&self) -> Vec<NewBatch> {
        self.batches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Registers `plugin` against this context, as the shell would.
    pub fn register(self: &Arc<Self>, plugin: &dyn Plugin) -> Result<Registration, PluginError> {
        let mut registrar = Registrar::new(plugin.id(), self.clone());
        plugin.register(&mut registrar)?;
        Ok(registrar.finish())
    }

    fn response(&self, kind: JobKind, count: usize, message: &str) -> AsyncToolResponse {
        AsyncToolResponse {
            success: true,
            job_id: format!(
                "{}_test_{count}",
                if kind == JobKind::Job { "job" } else { "batch" }
            ),
            kind,
            status: StartStatus::Queued,
            estimated_duration: None,
            check_status_in: None,
            message: message.to_owned(),
            estimated_duration_ms: None,
            check_status_in_ms: None,
        }
    }
}

#[async_trait]
impl PluginContext for RecordingContext {
    fn plugin_id(&self) -> &str {
        &self.plugin_id
    }

    async fn enqueue(&self, job: NewJob, message: &str) -> Result<AsyncToolResponse, ToolError> {
        let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        jobs.push(job);
        Ok(self.response(JobKind::Job, jobs.len(), message))
    }

    async fn enqueue_batch(
        &self,
        batch: NewBatch,
        message: &str,
    ) -> Result<AsyncToolResponse, ToolError> {
        let mut batches = self.batches.lock().unwrap_or_else(|e| e.into_inner());
        batches.push(batch);
        Ok(self.response(JobKind::Batch, batches.len(), message))
    }

    async fn job_status(&self, id: &str) -> Result<JobStatusEntry, ToolError> {
        Err(ToolError::invalid(
            "id",
            format!("the recording context runs no jobs ({id:?})"),
        ))
    }

    /// Everything recorded counts as unfinished: the ids it answered for batches of
    /// `job_type`, then for jobs of it.
    async fn active_operations(&self, job_type: &str) -> Result<Vec<String>, ToolError> {
        let batches = self.batches.lock().unwrap_or_else(|e| e.into_inner());
        let jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        let batch_ids = batches
            .iter()
            .enumerate()
            .filter(|(_, b)| b.jobs.iter().all(|j| j.job_type == job_type))
            .map(|(i, _)| format!("batch_test_{}", i + 1));
        let job_ids = jobs
            .iter()
            .enumerate()
            .filter(|(_, j)| j.job_type == job_type)
            .map(|(i, _)| format!("job_test_{}", i + 1));
        Ok(batch_ids.chain(job_ids).collect())
    }

    async fn cancel(&self, _id: &str) -> Result<(), ToolError> {
        Ok(())
    }

    fn subscribe(&self, filter: Box<dyn Fn(&Event) -> bool + Send + Sync>) -> Subscription<Event> {
        self.bus.subscribe(filter)
    }

    fn publish(&self, name: &str, target: Target, payload: Value) {
        self.bus.publish(Event::Plugin(PluginEvent {
            plugin: self.plugin_id.clone(),
            name: name.to_owned(),
            target,
            payload,
        }));
    }

    fn generator(&self) -> Arc<dyn ContentGenerator> {
        self.generator.clone()
    }

    async fn search_notes(&self, query: &str, limit: usize) -> Result<Vec<NoteHit>, ToolError> {
        // Substring matching stands in for full-text search here.
        let query = query.to_lowercase();
        Ok(self
            .notes
            .iter()
            .filter(|n| {
                query.split_whitespace().any(|w| {
                    n.title.to_lowercase().contains(w) || n.summary.to_lowercase().contains(w)
                })
            })
            .take(limit)
            .cloned()
            .collect())
    }

    async fn notes_tagged(&self, tag: &str, limit: usize) -> Result<Vec<NoteHit>, ToolError> {
        Ok(self
            .notes
            .iter()
            .filter(|n| n.tags.iter().any(|t| t == tag))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn published_notes(&self, publish_tags: &[String]) -> Result<Vec<NoteText>, ToolError> {
        let mut texts: Vec<NoteText> = self
            .texts
            .iter()
            .filter(|n| is_published(&n.frontmatter, &n.tags, publish_tags))
            .cloned()
            .collect();
        texts.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(texts)
    }

    fn config(&self) -> Value {
        self.config.clone()
    }

    fn dirs(&self) -> &BrainDirs {
        &self.dirs
    }
}

/// A context to run a job handler directly, and the cell its progress lands in.
pub fn job_context(job_type: &str) -> (JobContext, Arc<ProgressCell>) {
    let cell = Arc::new(ProgressCell::new(|| {}));
    let info = JobInfo {
        job_id: "job_test".to_owned(),
        job_type: job_type.to_owned(),
        attempt: 1,
        max_attempts: 1,
        label: None,
        batch_id: None,
        source: Source::cli(),
    };
    (
        JobContext::new(info, cell.clone(), CancellationToken::new()),
        cell,
    )
}
