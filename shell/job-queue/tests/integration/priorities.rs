//! Claim order: higher priority first, then the order jobs were enqueued in.

use std::time::Duration;

use brain_job_queue::NewJob;
use brain_plugin_api::JobStatus;
use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_run_by_priority_then_enqueue_order() {
    let t = TestQueue::new().await;
    let order: Log<String> = Log::default();
    let o = order.clone();
    t.queue
        .register(
            "test:record",
            func(move |input, _ctx| {
                let o = o.clone();
                async move {
                    o.push(input.as_str().unwrap_or_default().to_owned());
                    Ok(input)
                }
            }),
        )
        .unwrap();
    // Enqueued before any worker exists, one transaction each.
    let mut ids = Vec::new();
    for (name, priority) in [
        ("low", -5),
        ("high-first", 10),
        ("normal", 0),
        ("high-second", 10),
    ] {
        let e = t
            .queue
            .enqueue(NewJob::new("test:record", json!(name)).priority(priority))
            .await
            .unwrap();
        ids.push(e.id);
    }
    let pool = t.queue.start_workers(workers(1)).await.unwrap();
    for id in &ids {
        assert_eq!(finished(&t.queue, id).await.status, JobStatus::Completed);
    }
    assert_eq!(
        order.items(),
        vec!["high-first", "high-second", "normal", "low"]
    );
    pool.shutdown(Duration::from_secs(5)).await;
}
