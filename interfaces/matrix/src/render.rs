//! What the bot says, as pure functions: the one-line progress message of an operation
//! (edited in place as it advances), its final line, a `!status` answer, and Markdown
//! rendered to the HTML `formatted_body` that goes with a plain-text `body`.

use std::time::Duration;

use brain_plugin_api::{
    AsyncToolResponse, ItemError, JobProgressEvent, JobStatus, JobStatusEntry, JobStatusResponse,
    WAITING_FOR_WORKER, format_short,
};

/// Whether a state is the last one of its operation.
pub fn is_final(event: &JobProgressEvent) -> bool {
    event.status.is_finished()
}

/// The operation's progress message for `event`, e.g.
/// "⏳ Generating content — 3/10 · landing:features · ~25 s left"; once finished, the final
/// line ([`final_line`]).
pub fn progress_line(event: &JobProgressEvent) -> String {
    if is_final(event) {
        return final_line(event);
    }
    let mut parts = Vec::new();
    match event.progress.filter(|p| p.total > 0) {
        Some(p) => parts.push(format!("{}/{}", p.current.min(p.total), p.total)),
        None if event.status == JobStatus::Pending => {}
        None => parts.push("working".to_owned()),
    }
    match (
        event.waiting_line(),
        event.status,
        event.current_operation(),
    ) {
        (Some(waiting), _, _) => parts.push(waiting),
        (None, JobStatus::Pending, _) => parts.push("queued".to_owned()),
        (None, _, Some(op)) if !op.is_empty() => parts.push(op.to_owned()),
        _ => {}
    }
    if let Some(ms) = event.timing.estimated_completion_ms {
        parts.push(format!("~{} left", format_short(Duration::from_millis(ms))));
    }
    format!("⏳ {} — {}", name(event), parts.join(" · "))
}

/// The progress message before any event arrived: what the tool said it started.
pub fn started_line(started: &AsyncToolResponse) -> String {
    let mut line = format!("⏳ {}", started.message);
    if let Some(about) = started.about_duration() {
        line.push_str(&format!(" — {about}"));
    }
    // The id, for `!status <id>` and `!cancel <id>`.
    line.push_str(&format!(" · `{}`", started.job_id));
    line
}

/// The last edit of a progress message when the bot stops before the operation ends.
pub fn stopped_line(id: &str, prefix: &str) -> String {
    format!(
        "⏸ No more updates here: the bot stopped. Unfinished work goes on when the brain \
         runs again; `{prefix}status {id}` tells where it is."
    )
}

fn name(event: &JobProgressEvent) -> String {
    event.label.clone().unwrap_or_else(|| event.id.clone())
}

/// How an operation ended: "✅ Generated 10 sections in 42 s", "❌ 2 of 10 sections failed:
/// landing:hero: boom; …", "❌ Cancelled: 3 of 10 sections done", "✅ Built preview in 2 s".
pub fn final_line(event: &JobProgressEvent) -> String {
    match event.outcome(&took(event.timing.elapsed_ms)) {
        Some(outcome) if outcome.ok => {
            let mut line = format!("✅ {}", outcome.text);
            // What the work left out, under the line: "⚠️ landing:hero has no content".
            for warning in event.warnings() {
                line.push_str(&format!("\n⚠️ {warning}"));
            }
            line
        }
        Some(outcome) if event.status == JobStatus::Failed => {
            format!("❌ {}{}", outcome.text, reasons(&event.errors()))
        }
        Some(outcome) => format!("❌ {}", outcome.text),
        None => format!(
            "⏳ {}: {}",
            event.label.as_deref().unwrap_or(&event.id),
            event.status
        ),
    }
}

/// ": landing:hero: boom; landing:cta: boom", at most three, then "and N more".
fn reasons(errors: &[ItemError]) -> String {
    if errors.is_empty() {
        return String::new();
    }
    let shown: Vec<String> = errors
        .iter()
        .take(3)
        .map(|e| format!("{}: {}", e.label.as_deref().unwrap_or(&e.job_id), e.error))
        .collect();
    let mut text = format!(": {}", shown.join("; "));
    if errors.len() > 3 {
        text.push_str(&format!("; and {} more", errors.len() - 3));
    }
    text
}

/// Whole seconds, as the examples say it ("42 s"); "<1 s" for a quick job.
fn took(ms: u64) -> String {
    format_short(Duration::from_millis(ms))
}

/// `!status <id>`'s answer in Markdown: the status fields of the plan.
pub fn status_markdown(id: &str, entry: &JobStatusEntry) -> String {
    let label = entry.label.as_deref().unwrap_or(id);
    let status = if entry.waiting_for_worker {
        WAITING_FOR_WORKER.to_owned()
    } else {
        entry.status.to_string()
    };
    let mut lines = vec![format!("**{label}** (`{id}`): {status}")];
    if let Some(p) = entry.shown_progress() {
        lines.push(format!(
            "- Progress: {}/{} ({}%)",
            p.current, p.total, p.percentage
        ));
    }
    if let Some(op) = &entry.current_operation {
        lines.push(format!("- Current operation: {op}"));
    }
    if !entry.waiting_for.is_empty() {
        let line = brain_plugin_api::waiting_for_line(&entry.waiting_for);
        lines.push(format!("- {}{}", line[..1].to_uppercase(), &line[1..]));
    }
    if entry.rescued > 0 {
        lines.push(format!(
            "- Rescued: {}",
            brain_plugin_api::rescued_line(entry.rescued)
        ));
    }
    if let Some(eta) = &entry.estimated_completion {
        lines.push(format!("- Estimated completion: {eta}"));
    }
    if let Some(check) = &entry.check_again_in {
        lines.push(format!("- Check again in: {check}"));
    }
    for error in entry.errors.iter().take(5) {
        lines.push(format!(
            "- Failed: {}: {}",
            error.label.as_deref().unwrap_or(&error.job_id),
            error.error
        ));
    }
    if entry.status.is_finished() && !entry.message.is_empty() {
        lines.push(format!("- {}", entry.message));
    }
    lines.join("\n")
}

/// `!status`'s answer: every entry's fields, unfinished work first, at most
/// [`STATUS_SHOWN`] entries.
pub fn status_list_markdown(status: &JobStatusResponse) -> String {
    let mut entries: Vec<(&String, &JobStatusEntry)> = status.0.iter().collect();
    if entries.is_empty() {
        return "No active or recent jobs.".to_owned();
    }
    // Unfinished first, then newest first.
    entries.sort_by_key(|(_, e)| (e.status.is_finished(), std::cmp::Reverse(e.created_at)));
    let mut parts: Vec<String> = entries
        .iter()
        .take(STATUS_SHOWN)
        .map(|(id, entry)| status_markdown(id, entry))
        .collect();
    if entries.len() > STATUS_SHOWN {
        parts.push(format!("… and {} more", entries.len() - STATUS_SHOWN));
    }
    parts.join("\n\n")
}

/// How many entries `!status` without an id shows.
pub const STATUS_SHOWN: usize = 5;

/// Markdown to the HTML of `formatted_body`. Raw HTML in the source is escaped: the text
/// may quote notes or tool output, which must not inject markup.
pub fn markdown_to_html(markdown: &str) -> String {
    use pulldown_cmark::{Event, Options, Parser, html};
    let parser =
        Parser::new_ext(markdown, Options::ENABLE_STRIKETHROUGH).map(|event| match event {
            Event::Html(text) | Event::InlineHtml(text) => Event::Text(text),
            other => other,
        });
    let mut out = String::new();
    html::push_html(&mut out, parser);
    out.trim_end().to_owned()
}

/// The plain-text `body` for Markdown: the source with emphasis markers and code ticks
/// dropped (clients that cannot render HTML show this).
pub fn markdown_to_plain(markdown: &str) -> String {
    markdown.replace("**", "").replace('`', "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use brain_plugin_api::{BatchDetails, JobKind, Progress, Source, Timing, Update, Wording};

    fn batch(status: JobStatus, done: (u64, u64, u64)) -> JobProgressEvent {
        let (total, completed, failed) = done;
        JobProgressEvent {
            id: "batch_1".into(),
            kind: JobKind::Batch,
            status,
            update: Update::Progress,
            observed_at: chrono::DateTime::default(),
            source: Source::cli(),
            label: Some("Generating content".into()),
            progress: Some(Progress::new(completed + failed, total)),
            message: None,
            timing: Timing {
                elapsed_ms: 42_000,
                estimated_completion_ms: Some(25_000),
                ..Timing::default()
            },
            batch: Some(BatchDetails {
                total,
                completed,
                failed,
                cancelled: 0,
                current_operation: Some("landing:features".into()),
                errors: (0..failed)
                    .map(|i| ItemError {
                        job_id: format!("job_{i}"),
                        label: Some(format!("landing:s{i}")),
                        error: "boom".into(),
                    })
                    .collect(),
            }),
            job: None,
            result: None,
            error: None,
            wording: Some(Wording::batch("Generated", "section", "sections")),
            waiting_for_worker: false,
            waiting_for: Vec::new(),
        }
    }

    #[test]
    fn progress_lines() {
        assert_eq!(
            progress_line(&batch(JobStatus::Processing, (10, 3, 0))),
            "⏳ Generating content — 3/10 · landing:features · ~25 s left"
        );
        // Pending with a worker: queued. Without one (as a follow stream marks it), or
        // processing left by a process that ended: waiting for a worker, with no ETA.
        let mut pending = batch(JobStatus::Pending, (10, 0, 0));
        pending.timing.estimated_completion_ms = None;
        assert_eq!(
            progress_line(&pending),
            "⏳ Generating content — 0/10 · queued"
        );
        pending.mark_waiting(false, Vec::new());
        assert_eq!(
            progress_line(&pending),
            "⏳ Generating content — 0/10 · waiting for a worker"
        );
        let mut orphaned = batch(JobStatus::Processing, (10, 4, 0));
        orphaned.mark_waiting(false, Vec::new());
        assert_eq!(
            progress_line(&orphaned),
            "⏳ Generating content — 4/10 · waiting for a worker"
        );
        // Waiting for other work: what it waits for, and how far that is.
        let mut build = batch(JobStatus::Pending, (0, 0, 0));
        build.kind = JobKind::Job;
        build.batch = None;
        build.progress = None;
        build.label = Some("build preview".into());
        build.mark_waiting(
            true,
            vec![brain_plugin_api::Dependency {
                id: "batch_9".into(),
                kind: JobKind::Batch,
                status: JobStatus::Processing,
                label: Some("Generating content".into()),
                progress: Some(Progress::new(3, 6)),
            }],
        );
        assert_eq!(
            progress_line(&build),
            "⏳ build preview — waiting for batch_9 (Generating content, 3/6) · ~25 s left"
        );
        assert_eq!(
            progress_line(&batch(JobStatus::Completed, (10, 10, 0))),
            "✅ Generated 10 sections in 42 s"
        );
    }

    #[test]
    fn final_lines() {
        assert_eq!(
            final_line(&batch(JobStatus::Failed, (10, 8, 2))),
            "❌ 2 of 10 sections failed: landing:s0: boom; landing:s1: boom"
        );
        assert_eq!(
            final_line(&batch(JobStatus::Failed, (10, 5, 5))),
            "❌ 5 of 10 sections failed: landing:s0: boom; landing:s1: boom; landing:s2: boom; and 2 more"
        );
        let mut cancelled = batch(JobStatus::Cancelled, (10, 3, 0));
        cancelled.batch.as_mut().unwrap().cancelled = 7;
        assert_eq!(
            final_line(&cancelled),
            "❌ Cancelled: 3 of 10 sections done"
        );
        let mut build = batch(JobStatus::Completed, (0, 0, 0));
        build.kind = JobKind::Job;
        build.batch = None;
        build.label = Some("build preview".into());
        build.wording = Some(Wording::job("Built preview"));
        build.timing.elapsed_ms = 2_000;
        assert_eq!(final_line(&build), "✅ Built preview in 2 s");
        let mut detailed = build.clone();
        detailed.wording =
            Some(Wording::job("Built preview").detail("{pages:page:pages} in {took} → {output}/"));
        detailed.result = Some(serde_json::json!({
            "pages": 2, "output": "dist/preview", "warnings": ["landing:hero has no content"]
        }));
        assert_eq!(
            final_line(&detailed),
            "✅ Built preview: 2 pages in 2 s → dist/preview/\n⚠️ landing:hero has no content"
        );
        build.status = JobStatus::Failed;
        build.error = Some("template missing".into());
        assert_eq!(
            final_line(&build),
            "❌ Build preview failed: build preview: template missing"
        );
    }

    #[test]
    fn status_lists_the_plan_fields() {
        let entry = JobStatusEntry {
            status: JobStatus::Processing,
            kind: JobKind::Batch,
            label: Some("Generating content".into()),
            progress: Some(Progress::new(3, 10)),
            created_at: Default::default(),
            started_at: None,
            finished_at: None,
            elapsed_ms: Some(1000),
            estimated_completion: Some("30 seconds".into()),
            estimated_completion_ms: Some(30_000),
            current_operation: Some("landing:features".into()),
            check_again_in: Some("10 seconds".into()),
            check_again_in_ms: Some(10_000),
            message: String::new(),
            worker_running: true,
            waiting_for_worker: false,
            waiting_for: Vec::new(),
            result: None,
            errors: vec![],
            rescued: 0,
        };
        let text = status_markdown("batch_1", &entry);
        for needle in [
            "**Generating content** (`batch_1`): processing",
            "Progress: 3/10 (30%)",
            "Current operation: landing:features",
            "Estimated completion: 30 seconds",
            "Check again in: 10 seconds",
        ] {
            assert!(text.contains(needle), "{needle} in {text}");
        }

        // Nothing runs it: said so, with no estimate and no countdown.
        let waiting = JobStatusEntry {
            waiting_for_worker: true,
            waiting_for: vec![brain_plugin_api::Dependency {
                id: "batch_0".into(),
                kind: JobKind::Batch,
                status: JobStatus::Processing,
                label: Some("Generating content".into()),
                progress: Some(Progress::new(3, 6)),
            }],
            worker_running: false,
            estimated_completion: None,
            estimated_completion_ms: None,
            check_again_in: Some(brain_plugin_api::START_A_WORKER.into()),
            check_again_in_ms: None,
            ..entry.clone()
        };
        let text = status_markdown("batch_1", &waiting);
        assert!(text.contains("(`batch_1`): waiting for a worker"), "{text}");
        assert!(!text.contains("Estimated completion"), "{text}");
        assert!(text.contains("brain start"), "{text}");
        assert!(
            text.contains("- Waiting for batch_0 (Generating content, 3/6)"),
            "{text}"
        );

        // A batch cancelled before anything ran: no "10/10".
        let cancelled = JobStatusEntry {
            status: JobStatus::Cancelled,
            progress: Some(Progress::new(10, 10)),
            message: "Generating content: cancelled — 0 of 10 done".into(),
            ..entry
        };
        let text = status_markdown("batch_1", &cancelled);
        assert!(!text.contains("10/10"), "{text}");
        assert!(text.contains("0 of 10 done"), "{text}");
    }

    #[test]
    fn the_started_line_says_about_once() {
        let started = AsyncToolResponse {
            success: true,
            job_id: "batch_1".into(),
            kind: JobKind::Batch,
            status: brain_plugin_api::StartStatus::Started,
            estimated_duration: Some("about 16 seconds".into()),
            check_status_in: None,
            message: "Generating 5 sections".into(),
            estimated_duration_ms: None,
            check_status_in_ms: None,
        };
        assert_eq!(
            started_line(&started),
            "⏳ Generating 5 sections — about 16 seconds · `batch_1`"
        );
        let range = AsyncToolResponse {
            estimated_duration: Some("10-30 seconds".into()),
            ..started
        };
        assert!(started_line(&range).contains(" — about 10-30 seconds · "));
    }

    #[test]
    fn markdown() {
        assert_eq!(
            markdown_to_html("**hi** `x` <b>no</b>"),
            "<p><strong>hi</strong> <code>x</code> &lt;b&gt;no&lt;/b&gt;</p>"
        );
        assert_eq!(markdown_to_plain("**hi** `x`"), "hi x");
    }
}
