//! The shell's notes: the full-text index kept fresh before each search, the
//! `shell:index-notes` job (a whole folder, with progress), and the `search`, `query` and
//! `notes_index` tools.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use brain_job_queue::Queue;
use brain_notes::{IndexReport, NotesIndex};
use brain_plugin_api::{
    Answer, ContentGenerator, JobContext, JobError, JobHandler, NewJob, NoteHit, NoteText,
    Permission, ToolError, ToolResult, ToolSpec, Wording,
};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::builtin::queue_error;

/// The job type that indexes the whole notes folder.
pub const INDEX_JOB: &str = "shell:index-notes";

/// Searches refresh the index first unless it was refreshed this recently: an unchanged
/// folder costs only a `stat` per file, but not on every keystroke.
const FRESH_FOR: Duration = Duration::from_secs(2);

/// The notes index shared by tools, jobs and plugin contexts.
#[derive(Clone)]
pub(crate) struct Notes {
    index: NotesIndex,
    refreshed: Arc<Mutex<Option<Instant>>>,
    /// The last refresh's links to files outside the notes folder (not indexed), which a
    /// search names so its caller knows what it did not look at.
    links_outside: Arc<Mutex<Vec<String>>>,
}

impl Notes {
    pub(crate) fn new(index: NotesIndex) -> Self {
        Self {
            index,
            refreshed: Arc::new(Mutex::new(None)),
            links_outside: Arc::default(),
        }
    }

    /// Notes what a refresh found.
    fn refreshed(&self, report: &IndexReport) {
        for skipped in &report.skipped {
            tracing::warn!(note = %skipped.path, error = %skipped.error, "note skipped");
        }
        *self.links_outside.lock().unwrap_or_else(|e| e.into_inner()) =
            report.links_outside.clone();
        *self.refreshed.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }

    /// Brings the index up to date if it may be stale, then runs `f` on it.
    async fn fresh<T: Send + 'static>(
        &self,
        f: impl FnOnce(&NotesIndex) -> Result<T, brain_notes::NotesError> + Send + 'static,
    ) -> Result<T, ToolError> {
        self.within(FRESH_FOR, f).await
    }

    /// Refreshes the index unless that was done less than `fresh_for` ago, then runs `f`.
    async fn within<T: Send + 'static>(
        &self,
        fresh_for: Duration,
        f: impl FnOnce(&NotesIndex) -> Result<T, brain_notes::NotesError> + Send + 'static,
    ) -> Result<T, ToolError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let stale = this
                .refreshed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_none_or(|at| at.elapsed() >= fresh_for);
            // A read-only index (a read-only brain) is searched as it is.
            if stale && !this.index.is_read_only() {
                let report = this
                    .index
                    .reindex(&mut |_, _, _| {}, &|| false)
                    .map_err(notes_error)?;
                this.refreshed(&report);
            }
            f(&this.index).map_err(notes_error)
        })
        .await
        .map_err(|e| ToolError::failed(format!("the notes index task failed: {e}")))?
    }

    pub(crate) async fn search(
        &self,
        query: &str,
        limit: usize,
    ) -> Result<Vec<NoteHit>, ToolError> {
        let query = query.to_owned();
        self.fresh(move |index| index.search(&query, limit)).await
    }

    /// The public notes, whole. Always from a refreshed index: a build right after a note
    /// was saved must show it.
    pub(crate) async fn published(
        &self,
        publish_tags: &[String],
    ) -> Result<Vec<NoteText>, ToolError> {
        let tags = publish_tags.to_vec();
        self.within(Duration::ZERO, move |index| index.published(&tags))
            .await
    }

    /// Links to files outside the notes folder, which searches do not look at.
    fn links_outside(&self) -> Vec<String> {
        self.links_outside
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) async fn tagged(&self, tag: &str, limit: usize) -> Result<Vec<NoteHit>, ToolError> {
        let tag = tag.to_owned();
        self.fresh(move |index| index.tagged(&tag, limit)).await
    }
}

fn notes_error(error: brain_notes::NotesError) -> ToolError {
    ToolError::failed(format!("notes index: {error}"))
}

/// Indexes the whole notes folder as a job, with progress.
pub(crate) struct IndexNotes(pub(crate) Notes);

#[async_trait]
impl JobHandler for IndexNotes {
    type Input = serde_json::Value;
    type Output = IndexReport;

    async fn run(
        &self,
        _input: serde_json::Value,
        ctx: JobContext,
    ) -> Result<IndexReport, JobError> {
        let notes = self.0.clone();
        tokio::task::spawn_blocking(move || {
            let progress = ctx.clone();
            let report = notes
                .index
                .reindex(
                    &mut |current, total, message| {
                        progress.report_progress(current, total, message)
                    },
                    &|| ctx.is_cancelled(),
                )
                .map_err(|e| match e {
                    brain_notes::NotesError::Cancelled => JobError::Cancelled,
                    other => JobError::retryable(other.to_string()),
                })?;
            notes.refreshed(&report);
            Ok(report)
        })
        .await
        .map_err(|e| JobError::permanent(format!("the indexing task failed: {e}")))?
    }

    fn default_duration(&self) -> Duration {
        Duration::from_secs(2)
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SearchInput {
    /// Words to look for in the notes' titles, tags and text.
    query: String,
    /// At most this many notes (1-50, default 10).
    #[serde(default)]
    limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct QueryInput {
    /// A question to answer from the notes.
    question: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct IndexInput {}

#[derive(Debug, serde::Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct SearchOutput {
    notes: Vec<NoteHit>,
    /// Links in the notes folder to files outside it: never indexed, so never searched.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    links_not_searched: Vec<String>,
}

pub(crate) fn tools(
    notes: &Notes,
    generator: &Arc<dyn ContentGenerator>,
    queue: &Queue,
) -> Vec<ToolSpec> {
    let n = notes.clone();
    let search = ToolSpec::new(
        "search",
        "Full-text search of the notes: the best matches, ranked, with a snippet of each. \
         Links to files outside the notes folder are not indexed, and the answer lists them.",
        move |input: SearchInput, _ctx| {
            let n = n.clone();
            async move {
                let limit = input.limit.unwrap_or(10);
                if !(1..=50).contains(&limit) {
                    return Err(ToolError::invalid(
                        "limit",
                        format!("must be between 1 and 50, got {limit}"),
                    ));
                }
                let hits = n.search(&input.query, limit as usize).await?;
                let mut text = if hits.is_empty() {
                    format!("No note matches {:?}.", input.query)
                } else {
                    hits.iter()
                        .map(|h| format!("{} ({}): {}", h.title, h.path, h.snippet))
                        .collect::<Vec<_>>()
                        .join("\n")
                };
                let links = n.links_outside();
                if !links.is_empty() {
                    text.push_str(&format!(
                        "\nNot searched: {} (links to files outside the notes folder are not indexed).",
                        links.join(", ")
                    ));
                }
                let output = SearchOutput {
                    notes: hits,
                    links_not_searched: links,
                };
                Ok(ToolResult::new(output, text))
            }
        },
    )
    .visibility(Permission::Public)
    .output::<SearchOutput>();

    let n = notes.clone();
    let g = generator.clone();
    let query = ToolSpec::new(
        "query",
        "Answers a question from the notes most relevant to it, citing them.",
        move |input: QueryInput, ctx| {
            let (n, g) = (n.clone(), g.clone());
            async move {
                if input.question.trim().is_empty() {
                    return Err(ToolError::invalid("question", "must not be empty"));
                }
                let hits = n.search(&input.question, 5).await?;
                let answer: Answer = g
                    .answer(&input.question, &hits, &ctx.cancel)
                    .await
                    .map_err(|e| {
                        ToolError::failed(format!("the {} generator failed: {e}", g.name()))
                    })?;
                let text = answer.text.clone();
                Ok(ToolResult::new(answer, text))
            }
        },
    )
    .visibility(Permission::Trusted)
    .output::<Answer>();

    let q = queue.clone();
    let index = ToolSpec::new(
        "notes_index",
        "Re-indexes the notes folder in the background (only changed files are read).",
        move |_input: IndexInput, ctx| {
            let q = q.clone();
            async move {
                let job = NewJob::new(INDEX_JOB, serde_json::json!({}))
                    .source(ctx.caller.source.clone())
                    .label("notes")
                    .wording(Wording::job("Indexed the notes"));
                let enqueued = q.enqueue(job).await.map_err(queue_error)?;
                Ok(ToolResult::started(enqueued.response("Indexing the notes")))
            }
        },
    )
    .starts_work();
    vec![search, query, index]
}
