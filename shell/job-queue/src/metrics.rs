//! This process's counters for the metrics endpoint: what its queue did to jobs of each
//! type (from the changes its commits report, so each job counts once), how long runs took
//! and waited, and the runs its lease sweeps rescued. Counters start at zero with the
//! process, as Prometheus expects of a counter.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use brain_plugin_api::{HistogramCounts, JobStatus, TypeMetrics};

use crate::store::Effect;

/// Run times and waits, in seconds: from a few milliseconds (no-op jobs) to an hour
/// (generation of a big site).
const BOUNDS: [f64; 16] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];

/// Shares of the expected duration: a run within 5 % of it, … , off by more than 5×.
const ERROR_BOUNDS: [f64; 7] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0];

pub(crate) type SharedCounters = Arc<Mutex<Counters>>;

#[derive(Debug, Default)]
pub(crate) struct Counters {
    types: HashMap<String, TypeMetrics>,
    pub(crate) rescued: u64,
}

impl Counters {
    /// The counters of `job_type`; its name is copied only the first time (this runs for
    /// every job stored, started and ended).
    fn of(&mut self, job_type: &str) -> &mut TypeMetrics {
        if !self.types.contains_key(job_type) {
            let fresh = TypeMetrics {
                job_type: job_type.to_owned(),
                run_seconds: HistogramCounts::new(&BOUNDS),
                wait_seconds: HistogramCounts::new(&BOUNDS),
                eta_error_ratio: HistogramCounts::new(&ERROR_BOUNDS),
                ..TypeMetrics::default()
            };
            self.types.insert(job_type.to_owned(), fresh);
        }
        self.types
            .get_mut(job_type)
            .expect("the type's counters were just added")
    }

    /// Counts a job just stored.
    pub(crate) fn enqueued(&mut self, job_type: &str) {
        self.of(job_type).enqueued += 1;
    }

    /// Counts a run this process's workers just claimed, and how long it waited.
    pub(crate) fn started(&mut self, head: &crate::store::JobHead) {
        let counts = self.of(&head.job_type);
        counts.started += 1;
        if let (Some(started), Some(created)) =
            (head.started_at, crate::util::id_created_ms(&head.id))
        {
            counts
                .wait_seconds
                .observe((started - created).max(0) as f64 / 1000.0);
        }
    }

    /// Counts one committed change; `expected` says what a run of a type is expected to
    /// take (asked only for completed runs).
    pub(crate) fn count(
        &mut self,
        effect: &Effect,
        expected: impl Fn(&str) -> std::time::Duration,
    ) {
        let seconds = |from: i64, to: i64| (to - from).max(0) as f64 / 1000.0;
        match effect {
            // Counted when stored (a batch's jobs have no effect of their own); a job
            // queued again by request is not a new one.
            Effect::Enqueued(_) => {}
            // Counted when claimed (a batch's jobs have no effect of their own).
            Effect::Started(_) => {}
            Effect::Finished {
                head,
                status,
                finished_at,
                ..
            } => {
                let counts = self.of(&head.job_type);
                match status {
                    JobStatus::Completed => counts.completed += 1,
                    JobStatus::Failed => counts.failed += 1,
                    JobStatus::Cancelled => counts.cancelled += 1,
                    // Failed, and queued again for another attempt.
                    JobStatus::Pending => counts.retried += 1,
                    JobStatus::Processing => {}
                }
                if let Some(started) = head.started_at {
                    let took = seconds(started, *finished_at);
                    counts.run_seconds.observe(took);
                    if *status == JobStatus::Completed {
                        let expected = expected(&head.job_type).as_secs_f64();
                        if expected > 0.0 {
                            counts
                                .eta_error_ratio
                                .observe((took - expected).abs() / expected);
                        }
                    }
                }
            }
            Effect::CancelledPending(head, _) => self.of(&head.job_type).cancelled += 1,
            Effect::Batch(_) | Effect::Unblocked { .. } => {}
        }
    }

    /// Every job type's counters, by type.
    pub(crate) fn snapshot(&self) -> Vec<TypeMetrics> {
        let mut types: Vec<TypeMetrics> = self.types.values().cloned().collect();
        types.sort_by(|a, b| a.job_type.cmp(&b.job_type));
        types
    }
}
