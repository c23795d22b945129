//! Delayed jobs: never started early, and started by the pool's own timer when due.

use std::time::{Duration, Instant};

use brain_job_queue::{NewJob, WorkerConfig};
use brain_plugin_api::JobStatus;
use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delayed_job_starts_when_due_without_another_enqueue() {
    let t = TestQueue::new().await;
    let starts: Log<Instant> = Log::default();
    let s = starts.clone();
    t.queue
        .register(
            "test:when",
            func(move |_input, _ctx| {
                let s = s.clone();
                async move {
                    s.push(Instant::now());
                    Ok(json!("ran"))
                }
            }),
        )
        .unwrap();
    // The heartbeat (which also wakes the dispatcher) comes only every minute, beyond the
    // test's timeout: the job can only start on time through the pool's delay timer.
    let pool = t
        .queue
        .start_workers(WorkerConfig {
            concurrency: 2,
            lease: Duration::from_secs(180),
            heartbeat: Some(Duration::from_secs(60)),
            job_types: None,
            scope: None,
        })
        .await
        .unwrap();
    let delay = Duration::from_millis(400);
    let before = Instant::now();
    let e = t
        .queue
        .enqueue(NewJob::new("test:when", json!(null)).delay(delay))
        .await
        .unwrap();
    let record = finished(&t.queue, &e.id).await;
    assert_eq!(record.status, JobStatus::Completed);
    assert_eq!(record.scheduled_at, record.created_at + 400);
    let started = record.started_at.unwrap();
    assert!(
        started >= record.created_at + 400,
        "started {} ms after it was enqueued, before its 400 ms delay",
        started - record.created_at
    );
    let starts = starts.items();
    assert_eq!(starts.len(), 1);
    // Whole-millisecond store clock: up to one millisecond of rounding.
    let waited = starts[0] - before;
    assert!(
        waited + Duration::from_millis(1) >= delay,
        "the handler started {waited:?} after the enqueue"
    );
    pool.shutdown(Duration::from_secs(5)).await;
}
