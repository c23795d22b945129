//! Status an LLM host can follow: a host that starts a generate with `brain tool` while
//! `brain start` runs it, waits exactly `checkStatusInMs`, then polls `brain jobs status`
//! and waits exactly each `checkAgainInMs` until the end. From the second run of a length
//! on it needs at most 2 polls and notices the end within max(10% of the length, 1 s) —
//! checked here with a margin for process start-up on a busy machine (the exact figures
//! come from `polling-bench`). The first run's estimate comes from the generator's pace.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::Demo;

/// What the host saw of one generate.
struct Seen {
    polls: u32,
    late: Duration,
    /// The expected duration the start answered (the middle of its range) ÷ the batch's
    /// own duration.
    error: f64,
    started: Value,
}

fn time(entry: &Value, field: &str) -> chrono::DateTime<chrono::Utc> {
    let text = entry[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field}: {entry:#}"));
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{field} {text:?}: {e}"))
        .with_timezone(&chrono::Utc)
}

fn host(demo: &Demo) -> Seen {
    let started = demo.tool("site_generate", &json!({"force": true}));
    let id = started["jobId"].as_str().unwrap().to_owned();
    let range = &started["estimatedDurationMs"];
    let expected = (range["min"].as_f64().unwrap() * range["max"].as_f64().unwrap()).sqrt();
    let mut wait = started["checkStatusInMs"]
        .as_u64()
        .unwrap_or_else(|| panic!("no checkStatusInMs: {started:#}"));
    let give_up = Instant::now() + Duration::from_secs(300);
    let mut polls = 0;
    loop {
        std::thread::sleep(Duration::from_millis(wait));
        polls += 1;
        let entry = demo.status(&id);
        if entry["status"] == "completed" {
            let late = (chrono::Utc::now() - time(&entry, "finishedAt"))
                .to_std()
                .unwrap_or_default();
            let own = (time(&entry, "finishedAt") - time(&entry, "startedAt"))
                .num_milliseconds()
                .max(1) as f64;
            return Seen {
                polls,
                late,
                error: expected / own,
                started,
            };
        }
        assert!(Instant::now() < give_up, "{id} never ended: {entry:#}");
        assert_ne!(entry["waitingForWorker"], true, "{entry:#}");
        wait = entry["checkAgainInMs"]
            .as_u64()
            .unwrap_or_else(|| panic!("no checkAgainInMs: {entry:#}"));
    }
}

#[test]
fn a_host_polling_as_told_needs_two_polls_at_most_and_is_not_late() {
    // Each length on its own brain (its own history), side by side: they mostly sleep.
    let lengths = [0.1, 3.0, 8.0, 40.0];
    let results: Vec<(f64, Seen, Seen)> = std::thread::scope(|scope| {
        let runs: Vec<_> = lengths
            .iter()
            .map(|&seconds| {
                scope.spawn(move || {
                    let per_section = (seconds * 1000.0 / 5.0) as u32;
                    let demo = Demo::paced(per_section, "");
                    let worker = demo.start();
                    let first = host(&demo);
                    let second = host(&demo);
                    assert_eq!(worker.interrupt(), 0);
                    (seconds, first, second)
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for (seconds, first, second) in &results {
        eprintln!(
            "{seconds:>5} s: first run {} polls, {:.2} s late, estimate {:.2}×; \
             second run {} polls, {:.2} s late, estimate {:.2}×",
            first.polls,
            first.late.as_secs_f64(),
            first.error,
            second.polls,
            second.late.as_secs_f64(),
            second.error
        );
    }
    for (seconds, first, second) in &results {
        assert!(second.polls <= 2, "{seconds} s: {} polls", second.polls);
        // The bound, plus 2 s for starting `brain` processes on a busy machine.
        let bound = (seconds * 0.1).max(1.0) + 2.0;
        assert!(
            second.late.as_secs_f64() <= bound,
            "{seconds} s: noticed {:?} late (bound {bound} s)",
            second.late
        );
        // The first estimate: the generator's pace per section × 5 sections ÷ 1 worker.
        // (At 0.1 s, process overheads are most of the run.)
        if *seconds >= 3.0 {
            assert!(
                (0.5..=2.0).contains(&first.error),
                "{seconds} s: first estimate {:.2}× the run: {:#}",
                first.error,
                first.started
            );
        }
    }
}
