//! The pure half of rendering: what a bar, a progress line and the final summary say for a
//! `JobProgressEvent`. No terminal, no clock — every function here is a table-tested
//! mapping from an event (plus what was seen before) to text, so the three renderers
//! (bars, plain lines, JSON lines) word the same state the same way.

use std::time::Duration;

use brain_plugin_api::{ItemError, JobProgressEvent, JobStatus, JobStatusEntry, format_short};

/// What a bar shows for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BarState {
    /// Items (batch) or steps (job) done.
    pub(crate) position: u64,
    /// `None` when the work reports no total: a spinner, not a bar.
    pub(crate) length: Option<u64>,
    /// The operation's name: the batch or job label, else its id.
    pub(crate) prefix: String,
    /// "ETA 3 s · Generating landing:features".
    pub(crate) message: String,
}

/// The bar for `event`. The ETA is the progress monitor's (`estimated_completion_ms`), never
/// a guess from the bar's own rate: the monitor knows the duration history of the job type.
pub(crate) fn bar_state(event: &JobProgressEvent) -> BarState {
    let (position, length) = match event.progress {
        Some(p) if p.total > 0 => (p.current.min(p.total), Some(p.total)),
        Some(p) => (p.current, None),
        None => (0, None),
    };
    let mut parts = Vec::new();
    if let Some(eta) = eta(event) {
        parts.push(format!("ETA {eta}"));
    }
    parts.push(operation(event));
    BarState {
        position,
        length,
        prefix: name(event),
        message: parts.join(" · "),
    }
}

/// The time left as a progress line says it ("25 s"), while the work is unfinished.
pub(crate) fn eta(event: &JobProgressEvent) -> Option<String> {
    if event.status.is_finished() {
        return None;
    }
    event
        .timing
        .estimated_completion_ms
        .map(|ms| format_short(Duration::from_millis(ms)))
}

/// What happens now: what holds it up, the current operation, or what the status implies.
fn operation(event: &JobProgressEvent) -> String {
    if let Some(waiting) = event.waiting_line() {
        return waiting;
    }
    match (event.status, event.current_operation()) {
        (JobStatus::Pending, _) => "queued".to_owned(),
        (_, Some(op)) if !op.is_empty() => op.to_owned(),
        (status, _) => status.to_string(),
    }
}

/// The operation's name: its label, else its id.
pub(crate) fn name(event: &JobProgressEvent) -> String {
    event.label.clone().unwrap_or_else(|| event.id.clone())
}

/// One line for a change of state: "batch_1: processing — Generating content", or what
/// holds it up ("batch_1: waiting for a worker — Generating content").
pub(crate) fn status_line(event: &JobProgressEvent) -> String {
    let state = event
        .waiting_line()
        .unwrap_or_else(|| event.status.to_string());
    match &event.label {
        Some(label) => format!("{}: {state} — {label}", event.id),
        None => format!("{}: {state}", event.id),
    }
}

/// One progress line: "Generating content: 2/5 (40%), ETA 3 s — Generating landing:hero".
pub(crate) fn progress_line(event: &JobProgressEvent) -> String {
    let mut details = Vec::new();
    if let Some(p) = event.progress.filter(|p| p.total > 0) {
        details.push(format!("{}/{} ({}%)", p.current, p.total, p.percentage));
    }
    if let Some(eta) = eta(event) {
        details.push(format!("ETA {eta}"));
    }
    let mut line = name(event);
    if !details.is_empty() {
        line.push_str(": ");
        line.push_str(&details.join(", "));
    }
    let now = event
        .waiting_line()
        .or_else(|| event.current_operation().map(str::to_owned));
    if let Some(now) = now.filter(|now| !now.is_empty()) {
        line.push_str(&format!(" — {now}"));
    }
    line
}

/// An item's failure as printed above the bar or in the summary: "landing:hero: boom".
pub(crate) fn failure_line(error: &ItemError) -> String {
    format!(
        "{}: {}",
        error.label.as_deref().unwrap_or(&error.job_id),
        error.error
    )
}

/// Failures in `event` that are not in `seen` (by job id), in order; `seen` is updated.
pub(crate) fn new_failures(event: &JobProgressEvent, seen: &mut Vec<String>) -> Vec<ItemError> {
    let Some(batch) = &event.batch else {
        return Vec::new();
    };
    let mut fresh = Vec::new();
    for error in &batch.errors {
        if !seen.contains(&error.job_id) {
            seen.push(error.job_id.clone());
            fresh.push(error.clone());
        }
    }
    fresh
}

/// The summary's reasons without the items already shown as they failed (`seen`, by job
/// id): each error is printed once.
pub(crate) fn unseen_reasons(event: &JobProgressEvent, seen: &[String]) -> Vec<String> {
    event
        .errors()
        .iter()
        .filter(|e| !seen.contains(&e.job_id))
        .map(failure_line)
        .collect()
}

/// How an operation ended, in one line, plus the reasons when it did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Summary {
    pub(crate) ok: bool,
    pub(crate) line: String,
    pub(crate) reasons: Vec<String>,
    /// What the finished work's result warns about ("warning: landing:hero has no
    /// content"), shown after the line.
    pub(crate) warnings: Vec<String>,
}

/// The summary of a finished operation: "✔ Generated 5 sections in 1.2s", "✔ Built preview
/// in 0.4s", "✘ 2 of 10 sections failed" (reasons listed), "✘ Cancelled: 3 of 10 sections
/// done". The words are the plugin's, stored with the work, so a watcher in another process
/// words it like the process that started it.
pub(crate) fn summary(event: &JobProgressEvent) -> Summary {
    let reasons: Vec<String> = event.errors().iter().map(failure_line).collect();
    let warnings = event
        .warnings()
        .into_iter()
        .map(|w| format!("warning: {w}"))
        .collect();
    match event.outcome(&seconds(event.timing.elapsed_ms)) {
        Some(outcome) => Summary {
            ok: outcome.ok,
            line: format!("{} {}", if outcome.ok { "✔" } else { "✘" }, outcome.text),
            reasons,
            warnings,
        },
        None => Summary {
            ok: false,
            line: format!(
                "{}: {}",
                event.label.as_deref().unwrap_or(&event.id),
                event.status
            ),
            reasons,
            warnings,
        },
    }
}

/// The time an operation spent queued before it started (waiting for what it depends on,
/// or for a worker), when over a second: the summary's duration is its own run only, so
/// this is said apart — "waited 5.2s before it started".
pub(crate) fn waited(entry: &JobStatusEntry) -> Option<String> {
    let started = entry.started_at?;
    let ms = (started - entry.created_at).num_milliseconds();
    (ms > 1000).then(|| format!("waited {} before it started", seconds(ms as u64)))
}

/// Elapsed time in a summary: tenths of seconds below a minute ("1.2s"), where a person
/// compares runs; the compact human form beyond ("3 min").
pub(crate) fn seconds(ms: u64) -> String {
    if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        format_short(Duration::from_millis(ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brain_plugin_api::{BatchDetails, JobKind, Progress, Source, Timing, Update, Wording};

    fn event(kind: JobKind, status: JobStatus, label: &str) -> JobProgressEvent {
        JobProgressEvent {
            id: "batch_1".into(),
            kind,
            status,
            update: Update::Lifecycle,
            observed_at: chrono::DateTime::default(),
            source: Source::cli(),
            label: Some(label.into()),
            progress: None,
            message: None,
            timing: Timing::default(),
            batch: None,
            job: None,
            result: None,
            error: None,
            // What the site builder declares for these operations.
            wording: match (kind, label) {
                (JobKind::Batch, "Generating content") => {
                    Some(Wording::batch("Generated", "section", "sections"))
                }
                (JobKind::Batch, "Promoting content") => {
                    Some(Wording::batch("Promoted", "section", "sections"))
                }
                (JobKind::Batch, "Rolling back content") => {
                    Some(Wording::batch("Rolled back", "section", "sections"))
                }
                (JobKind::Job, build) => build
                    .strip_prefix("build ")
                    .map(|env| Wording::job(format!("Built {env}"))),
                _ => None,
            },
            waiting_for_worker: false,
            waiting_for: Vec::new(),
        }
    }

    fn batch(status: JobStatus, label: &str, done: (u64, u64, u64, u64)) -> JobProgressEvent {
        let (total, completed, failed, cancelled) = done;
        let mut e = event(JobKind::Batch, status, label);
        e.progress = Some(Progress::new(completed + failed + cancelled, total));
        e.batch = Some(BatchDetails {
            total,
            completed,
            failed,
            cancelled,
            current_operation: Some("Generating landing:features".into()),
            errors: (0..failed)
                .map(|i| ItemError {
                    job_id: format!("job_{i}"),
                    label: Some(format!("landing:s{i}")),
                    error: "the generator gave up".into(),
                })
                .collect(),
        });
        e.timing.elapsed_ms = 1_234;
        e
    }

    fn generate() -> brain_plugin_api::Dependency {
        brain_plugin_api::Dependency {
            id: "batch_9".into(),
            kind: JobKind::Batch,
            status: JobStatus::Processing,
            label: Some("Generating content".into()),
            progress: Some(Progress::new(3, 6)),
        }
    }

    #[test]
    fn bar_state_table() {
        let mut running = batch(JobStatus::Processing, "Generating content", (5, 2, 0, 0));
        running.timing.estimated_completion_ms = Some(3_200);
        let mut pending = batch(JobStatus::Pending, "Generating content", (5, 0, 0, 0));
        pending.timing.estimated_completion_ms = Some(9_000);
        let mut spinner = event(JobKind::Job, JobStatus::Processing, "build preview");
        spinner.message = Some("Loading templates".into());
        let mut zero_total = spinner.clone();
        zero_total.progress = Some(Progress::new(0, 0));
        let mut job_bar = spinner.clone();
        job_bar.progress = Some(Progress::new(7, 3));
        let done = batch(JobStatus::Completed, "Generating content", (5, 5, 0, 0));
        // Left by a process that ended: no ETA, and it says so.
        let mut orphaned = running.clone();
        orphaned.mark_waiting(false, Vec::new());
        let mut waiting = pending.clone();
        waiting.mark_waiting(true, vec![generate()]);
        let cases: [(&JobProgressEvent, u64, Option<u64>, &str); 8] = [
            (&orphaned, 2, Some(5), "waiting for a worker"),
            (
                &waiting,
                0,
                Some(5),
                "ETA 9 s · waiting for batch_9 (Generating content, 3/6)",
            ),
            (
                &running,
                2,
                Some(5),
                "ETA 3 s · Generating landing:features",
            ),
            (&pending, 0, Some(5), "ETA 9 s · queued"),
            (&spinner, 0, None, "Loading templates"),
            (&zero_total, 0, None, "Loading templates"),
            // A job that reports past its total stays at the end of its bar.
            (&job_bar, 3, Some(3), "Loading templates"),
            (&done, 5, Some(5), "Generating landing:features"),
        ];
        for (e, position, length, message) in cases {
            let state = bar_state(e);
            assert_eq!(
                (state.position, state.length, state.message.as_str()),
                (position, length, message),
                "{e:?}"
            );
            assert_eq!(state.prefix, e.label.clone().unwrap());
        }
    }

    #[test]
    fn line_table() {
        let mut running = batch(JobStatus::Processing, "Generating content", (5, 2, 0, 0));
        running.timing.estimated_completion_ms = Some(3_200);
        let mut job = event(JobKind::Job, JobStatus::Processing, "build preview");
        job.id = "job_1".into();
        job.message = Some("Rendering /about".into());
        let mut orphaned = running.clone();
        orphaned.mark_waiting(false, Vec::new());
        let mut build = event(JobKind::Job, JobStatus::Pending, "build preview");
        build.id = "job_1".into();
        build.mark_waiting(true, vec![generate()]);
        let cases = [
            (
                progress_line(&running),
                "Generating content: 2/5 (40%), ETA 3 s — Generating landing:features",
            ),
            (progress_line(&job), "build preview — Rendering /about"),
            (
                status_line(&running),
                "batch_1: processing — Generating content",
            ),
            (status_line(&job), "job_1: processing — build preview"),
            (
                status_line(&orphaned),
                "batch_1: waiting for a worker — Generating content",
            ),
            (
                progress_line(&orphaned),
                "Generating content: 2/5 (40%) — waiting for a worker",
            ),
            (
                status_line(&build),
                "job_1: waiting for batch_9 (Generating content, 3/6) — build preview",
            ),
        ];
        for (got, expected) in cases {
            assert_eq!(got, expected);
        }
    }

    #[test]
    fn summary_table() {
        let mut built = event(JobKind::Job, JobStatus::Completed, "build preview");
        built.timing.elapsed_ms = 400;
        let mut build_failed = event(JobKind::Job, JobStatus::Failed, "build preview");
        build_failed.error = Some("template error".into());
        let cancelled_job = event(JobKind::Job, JobStatus::Cancelled, "build production");
        let mut long = batch(JobStatus::Completed, "Promoting content", (1, 1, 0, 0));
        long.timing.elapsed_ms = 185_000;
        let cases: [(JobProgressEvent, bool, &str, usize); 8] = [
            (
                batch(JobStatus::Completed, "Generating content", (5, 5, 0, 0)),
                true,
                "✔ Generated 5 sections in 1.2s",
                0,
            ),
            (
                batch(JobStatus::Failed, "Generating content", (10, 8, 2, 0)),
                false,
                "✘ 2 of 10 sections failed",
                2,
            ),
            (
                batch(JobStatus::Cancelled, "Rolling back content", (4, 1, 0, 3)),
                false,
                "✘ Cancelled: 1 of 4 sections done",
                0,
            ),
            (long, true, "✔ Promoted 1 section in 3 min", 0),
            (
                batch(JobStatus::Completed, "Indexing", (2, 2, 0, 0)),
                true,
                "✔ Completed 2 jobs in 1.2s",
                0,
            ),
            (built, true, "✔ Built preview in 0.4s", 0),
            (build_failed, false, "✘ Build preview failed", 1),
            (cancelled_job, false, "✘ Cancelled: build production", 0),
        ];
        for (e, ok, line, reasons) in cases {
            let s = summary(&e);
            assert_eq!(
                (s.ok, s.line.as_str(), s.reasons.len()),
                (ok, line, reasons)
            );
        }
        let failed = summary(&batch(
            JobStatus::Failed,
            "Generating content",
            (3, 2, 1, 0),
        ));
        assert_eq!(failed.reasons, ["landing:s0: the generator gave up"]);
    }

    #[test]
    fn failures_are_reported_once() {
        let mut seen = Vec::new();
        let one = batch(JobStatus::Processing, "Generating content", (5, 1, 1, 0));
        let two = batch(JobStatus::Processing, "Generating content", (5, 1, 2, 0));
        assert_eq!(new_failures(&one, &mut seen).len(), 1);
        assert_eq!(new_failures(&one, &mut seen).len(), 0);
        let fresh = new_failures(&two, &mut seen);
        assert_eq!(fresh.len(), 1);
        assert_eq!(failure_line(&fresh[0]), "landing:s1: the generator gave up");
    }

    #[test]
    fn seconds_table() {
        for (ms, expected) in [
            (0, "0.0s"),
            (400, "0.4s"),
            (1_234, "1.2s"),
            (59_949, "59.9s"),
            (60_000, "1 min"),
        ] {
            assert_eq!(seconds(ms), expected, "{ms}");
        }
    }

    #[test]
    fn waiting_before_the_start_is_said_apart_from_the_run() {
        let created = chrono::Utc::now();
        let entry = |started_after_ms: Option<i64>| {
            let mut entry = event(JobKind::Job, JobStatus::Completed, "build preview")
                .status_entry(created, true);
            entry.created_at = created;
            entry.started_at =
                started_after_ms.map(|ms| created + chrono::Duration::milliseconds(ms));
            entry
        };
        assert_eq!(waited(&entry(None)), None);
        assert_eq!(waited(&entry(Some(900))), None, "under a second is noise");
        assert_eq!(
            waited(&entry(Some(5_240))).as_deref(),
            Some("waited 5.2s before it started")
        );
    }
}
