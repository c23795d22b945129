//! `GET /metrics` in the Prometheus text format (0.0.4): the queue's state read from its
//! database (every process's work: jobs by type and state, the oldest runnable job's age,
//! live workers, the last hour's endings) and this process's counters and histograms (jobs
//! by type and outcome, run and wait times, ETA error, rescued runs, the bus).
//!
//! Written here rather than through a metrics crate: every value is a snapshot the shell
//! already keeps (a database read, or counters the queue updates as it commits), which a
//! registry of live metric objects would only copy; the format is small, and the tests
//! read it with the Prometheus project's own parser.

use std::fmt::Write;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use brain_plugin_api::{HistogramCounts, JobStatus, ProcessMetrics, QueueStats, TypeMetrics};

use crate::api::{Shared, error_response};

pub(crate) async fn metrics(State(app): Shared) -> Response {
    let stats = match app.shell.queue_stats().await {
        Ok(stats) => stats,
        Err(error) => {
            return error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("cannot read the queue: {error}"),
            );
        }
    };
    let text = render(&stats, &app.shell.process_metrics(), chrono::Utc::now());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// A label value with `\`, `"` and newlines escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn histogram(out: &mut String, name: &str, job_type: &str, counts: &HistogramCounts) {
    let mut cumulative = 0;
    let t = label(job_type);
    for (bound, count) in counts.bounds.iter().zip(&counts.counts) {
        cumulative += count;
        let _ = writeln!(
            out,
            "{name}_bucket{{type=\"{t}\",le=\"{bound}\"}} {cumulative}"
        );
    }
    let _ = writeln!(
        out,
        "{name}_bucket{{type=\"{t}\",le=\"+Inf\"}} {}",
        counts.count()
    );
    let _ = writeln!(out, "{name}_sum{{type=\"{t}\"}} {}", counts.sum);
    let _ = writeln!(out, "{name}_count{{type=\"{t}\"}} {}", counts.count());
}

/// The whole exposition.
pub(crate) fn render(
    stats: &QueueStats,
    process: &ProcessMetrics,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let mut out = String::new();
    family(
        &mut out,
        "brains_jobs",
        "gauge",
        "Unfinished jobs by type and state (pending or processing), from the queue's database.",
    );
    for count in &stats.active {
        let _ = writeln!(
            out,
            "brains_jobs{{type=\"{}\",state=\"{}\"}} {}",
            label(&count.job_type),
            count.status,
            count.count
        );
    }
    family(
        &mut out,
        "brains_queue_depth",
        "gauge",
        "Jobs waiting to run (pending), every type together.",
    );
    let depth: u64 = stats
        .active
        .iter()
        .filter(|c| c.status == JobStatus::Pending)
        .map(|c| c.count)
        .sum();
    let _ = writeln!(out, "brains_queue_depth {depth}");
    family(
        &mut out,
        "brains_queue_oldest_available_age_seconds",
        "gauge",
        "How long the longest-waiting job that could run now has waited (0: none waits).",
    );
    let age = stats.oldest_available_at.map_or(0.0, |at| {
        (now - at).num_milliseconds().max(0) as f64 / 1000.0
    });
    let _ = writeln!(out, "brains_queue_oldest_available_age_seconds {age}");
    family(
        &mut out,
        "brains_workers",
        "gauge",
        "Live processes that run workers on this queue.",
    );
    let _ = writeln!(out, "brains_workers {}", stats.workers.len());
    family(
        &mut out,
        "brains_worker_slots",
        "gauge",
        "Jobs the live workers may run at once, together.",
    );
    let slots: u64 = stats.workers.iter().map(|w| u64::from(w.concurrency)).sum();
    let _ = writeln!(out, "brains_worker_slots {slots}");
    family(
        &mut out,
        "brains_jobs_ended_last_hour",
        "gauge",
        "Jobs of every process that ended in the last hour, by outcome.",
    );
    for (outcome, pick) in [("completed", 0usize), ("failed", 1), ("cancelled", 2)] {
        let sum: u64 = stats
            .minutes
            .iter()
            .map(|m| [m.completed, m.failed, m.cancelled][pick])
            .sum();
        let _ = writeln!(
            out,
            "brains_jobs_ended_last_hour{{outcome=\"{outcome}\"}} {sum}"
        );
    }

    type Pick = fn(&TypeMetrics) -> u64;
    let counters: [(&str, &str, Pick); 6] = [
        ("enqueued", "Jobs this process queued, by type.", |t| {
            t.enqueued
        }),
        (
            "started",
            "Runs this process's workers started, by type.",
            |t| t.started,
        ),
        (
            "completed",
            "Jobs this process's workers completed, by type.",
            |t| t.completed,
        ),
        (
            "failed",
            "Jobs that failed for good in this process, by type.",
            |t| t.failed,
        ),
        (
            "cancelled",
            "Jobs this process cancelled or saw end cancelled, by type.",
            |t| t.cancelled,
        ),
        (
            "retried",
            "Failed runs this process queued again for another attempt, by type.",
            |t| t.retried,
        ),
    ];
    for (what, help, pick) in counters {
        let name = format!("brains_jobs_{what}_total");
        family(&mut out, &name, "counter", help);
        for t in &process.types {
            let _ = writeln!(out, "{name}{{type=\"{}\"}} {}", label(&t.job_type), pick(t));
        }
    }
    family(
        &mut out,
        "brains_jobs_rescued_total",
        "counter",
        "Runs this process's lease sweeps took back from stopped workers and queued again.",
    );
    let _ = writeln!(out, "brains_jobs_rescued_total {}", process.rescued);
    type Hist = fn(&TypeMetrics) -> &HistogramCounts;
    let histograms: [(&str, &str, Hist); 3] = [
        (
            "brains_job_run_seconds",
            "How long runs took in this process, by type.",
            |t| &t.run_seconds,
        ),
        (
            "brains_job_wait_seconds",
            "From queued to started, for runs this process started, by type.",
            |t| &t.wait_seconds,
        ),
        (
            "brains_job_eta_error_ratio",
            "|took - expected| / expected for completed runs, by type.",
            |t| &t.eta_error_ratio,
        ),
    ];
    for (name, help, pick) in histograms {
        family(&mut out, name, "histogram", help);
        for t in &process.types {
            histogram(&mut out, name, &t.job_type, pick(t));
        }
    }
    family(
        &mut out,
        "brains_bus_coalesced_total",
        "counter",
        "Progress events replaced by a newer one before a slow subscriber read them.",
    );
    let _ = writeln!(out, "brains_bus_coalesced_total {}", process.bus_coalesced);
    family(
        &mut out,
        "brains_bus_dropped_total",
        "counter",
        "Lifecycle events the bus dropped (never, by design).",
    );
    let _ = writeln!(out, "brains_bus_dropped_total {}", process.bus_dropped);
    out
}
