//! `GET /metrics` in the OpenMetrics text format, encoded by the Prometheus project's
//! client (`prometheus-client`): the queue's state read from its database at each scrape
//! (every process's work: unfinished jobs by type and state, the oldest runnable job's age,
//! live workers, the last hour's endings) and this process's counters and histograms (jobs
//! by type and outcome, run and wait times, ETA error, rescued runs, the bus).
//!
//! The values are snapshots the shell keeps (a database read, counters the queue updates as
//! it commits), so a [`Collector`] encodes them as constants at each scrape instead of
//! copying them into live metric objects.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use brain_plugin_api::{HistogramCounts, JobStatus, ProcessMetrics, QueueStats, TypeMetrics};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

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
    let snapshot = Snapshot {
        stats,
        process: app.shell.process_metrics(),
        now: chrono::Utc::now(),
    };
    match render(snapshot) {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(_) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the metrics could not be encoded",
        ),
    }
}

/// One scrape's values.
#[derive(Debug)]
struct Snapshot {
    stats: QueueStats,
    process: ProcessMetrics,
    now: chrono::DateTime<chrono::Utc>,
}

/// The whole exposition, ending with `# EOF`.
fn render(snapshot: Snapshot) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(snapshot));
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry)?;
    Ok(out)
}

type Fmt = Result<(), std::fmt::Error>;

fn gauge(encoder: &mut MetricEncoder<'_>, value: f64) -> Fmt {
    encoder.encode_gauge(&value)
}

fn counter(encoder: &mut MetricEncoder<'_>, value: u64) -> Fmt {
    encoder.encode_counter::<NoLabelSet, u64, f64>(&value, None)
}

/// A histogram's buckets as the encoder wants them: per bucket (it sums them), the last
/// one above every bound.
fn histogram(encoder: &mut MetricEncoder<'_>, counts: &HistogramCounts) -> Fmt {
    let mut buckets: Vec<(f64, u64)> = counts
        .bounds
        .iter()
        .copied()
        .zip(counts.counts.iter().copied())
        .collect();
    buckets.push((f64::INFINITY, counts.counts.last().copied().unwrap_or(0)));
    encoder.encode_histogram::<NoLabelSet>(counts.sum, counts.count(), &buckets, None)
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Fmt {
        let Snapshot {
            stats,
            process,
            now,
        } = self;
        let mut family = encoder.encode_descriptor(
            "brains_jobs",
            "Unfinished jobs by type and state (pending or processing), from the queue's database.",
            None,
            MetricType::Gauge,
        )?;
        for count in &stats.active {
            let labels = [
                ("type", count.job_type.as_str()),
                ("state", count.status.as_str()),
            ];
            gauge(&mut family.encode_family(&labels)?, count.count as f64)?;
        }
        let depth: u64 = stats
            .active
            .iter()
            .filter(|c| c.status == JobStatus::Pending)
            .map(|c| c.count)
            .sum();
        let age = stats.oldest_available_at.map_or(0.0, |at| {
            (*now - at).num_milliseconds().max(0) as f64 / 1000.0
        });
        let slots: u64 = stats.workers.iter().map(|w| u64::from(w.concurrency)).sum();
        let plain: [(&str, &str, f64); 4] = [
            (
                "brains_queue_depth",
                "Jobs waiting to run (pending), every type together.",
                depth as f64,
            ),
            (
                "brains_queue_oldest_available_age_seconds",
                "How long the longest-waiting job that could run now has waited (0: none waits).",
                age,
            ),
            (
                "brains_workers",
                "Live processes that run workers on this queue.",
                stats.workers.len() as f64,
            ),
            (
                "brains_worker_slots",
                "Jobs the live workers may run at once, together.",
                slots as f64,
            ),
        ];
        for (name, help, value) in plain {
            gauge(
                &mut encoder.encode_descriptor(name, help, None, MetricType::Gauge)?,
                value,
            )?;
        }
        let mut ended = encoder.encode_descriptor(
            "brains_jobs_ended_last_hour",
            "Jobs of every process that ended in the last hour, by outcome.",
            None,
            MetricType::Gauge,
        )?;
        for (outcome, pick) in [
            (
                "completed",
                (|m| m.completed) as fn(&brain_plugin_api::MinuteCount) -> u64,
            ),
            ("failed", |m| m.failed),
            ("cancelled", |m| m.cancelled),
        ] {
            let sum: u64 = stats.minutes.iter().map(pick).sum();
            gauge(
                &mut ended.encode_family(&[("outcome", outcome)])?,
                sum as f64,
            )?;
        }

        type Pick = fn(&TypeMetrics) -> u64;
        let counters: [(&str, &str, Pick); 6] = [
            (
                "brains_jobs_enqueued",
                "Jobs this process queued, by type.",
                |t| t.enqueued,
            ),
            (
                "brains_jobs_started",
                "Runs this process's workers started, by type.",
                |t| t.started,
            ),
            (
                "brains_jobs_completed",
                "Jobs this process's workers completed, by type.",
                |t| t.completed,
            ),
            (
                "brains_jobs_failed",
                "Jobs that failed for good in this process, by type.",
                |t| t.failed,
            ),
            (
                "brains_jobs_cancelled",
                "Jobs this process cancelled or saw end cancelled, by type.",
                |t| t.cancelled,
            ),
            (
                "brains_jobs_retried",
                "Failed runs this process queued again for another attempt, by type.",
                |t| t.retried,
            ),
        ];
        for (name, help, pick) in counters {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for t in &process.types {
                counter(
                    &mut family.encode_family(&[("type", t.job_type.as_str())])?,
                    pick(t),
                )?;
            }
        }
        let single: [(&str, &str, u64); 3] = [
            (
                "brains_jobs_rescued",
                "Runs this process's lease sweeps took back from stopped workers and queued again.",
                process.rescued,
            ),
            (
                "brains_bus_coalesced",
                "Progress events replaced by a newer one before a slow subscriber read them.",
                process.bus_coalesced,
            ),
            (
                "brains_bus_dropped",
                "Lifecycle events the bus dropped (never, by design).",
                process.bus_dropped,
            ),
        ];
        for (name, help, value) in single {
            counter(
                &mut encoder.encode_descriptor(name, help, None, MetricType::Counter)?,
                value,
            )?;
        }
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
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Histogram)?;
            for t in &process.types {
                histogram(
                    &mut family.encode_family(&[("type", t.job_type.as_str())])?,
                    pick(t),
                )?;
            }
        }
        Ok(())
    }
}
