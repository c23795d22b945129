//! Status answers: queued work without a worker says so, a running pool answers "started"
//! with estimates, and estimates learn from finished jobs.

use std::time::Duration;

use brain_job_queue::NewJob;
use brain_plugin_api::{JobStatus, StartStatus};
use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_work_without_a_worker_says_so() {
    let t = TestQueue::new().await;
    let e = t
        .queue
        .enqueue(NewJob::new("test:echo", json!(1)).label("lonely"))
        .await
        .unwrap();
    assert!(!e.worker_running);
    let response = e.response("Echoing");
    assert_eq!(response.status, StartStatus::Queued);
    assert_eq!(response.job_id, e.id);
    assert!(
        response.message.contains("waiting for a worker")
            && response.message.contains("brain start"),
        "{}",
        response.message
    );
    // Nothing will happen until a worker starts: no time to check back.
    assert_eq!(response.check_status_in, None);
    assert_eq!(response.check_status_in_ms, None);
    let value = serde_json::to_value(&response).unwrap();
    assert_eq!(value["status"], "queued");
    assert_eq!(value["success"], true);

    let state = t.queue.status(&e.id).await.unwrap();
    assert!(!state.worker_running);
    let entry = state.status_entry();
    assert_eq!(entry.status, JobStatus::Pending);
    assert!(!entry.worker_running);
    assert!(entry.waiting_for_worker);
    assert_eq!(entry.estimated_completion_ms, None);
    assert_eq!(entry.check_again_in_ms, None);
    assert!(
        entry
            .describe(&e.id)
            .starts_with(&format!("{} waiting for a worker", e.id)),
        "{}",
        entry.describe(&e.id)
    );
    assert_eq!(entry.finished_at, None);
    assert_eq!(entry.result, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_pool_work_starts_and_estimates_learn_from_history() {
    let t = TestQueue::new().await;
    let default = Duration::from_secs(60);
    t.queue
        .register(
            "test:quick",
            func(|input, _ctx| async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Ok(input)
            })
            .default_duration(default),
        )
        .unwrap();
    let mut sub = t.queue.bus().subscribe_all();
    let pool = t.queue.start_workers(workers(2)).await.unwrap();

    let first = t
        .queue
        .enqueue(NewJob::new("test:quick", json!(0)))
        .await
        .unwrap();
    assert!(first.worker_running);
    assert_eq!(first.estimate.expected, default, "no history yet");
    let response = first.response("Working");
    assert_eq!(response.status, StartStatus::Started);
    assert!(
        !response.message.contains("no worker"),
        "{}",
        response.message
    );
    let value = serde_json::to_value(&response).unwrap();
    assert_eq!(value["status"], "started");
    assert!(
        value["estimatedDuration"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "{value}"
    );
    assert!(
        value["checkStatusIn"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "{value}"
    );
    assert!(value["estimatedDurationMs"]["max"].is_u64(), "{value}");

    // The completed events go out after the durations were learned.
    let mut ids = vec![first.id.clone()];
    for i in 1..3 {
        ids.push(
            t.queue
                .enqueue(NewJob::new("test:quick", json!(i)))
                .await
                .unwrap()
                .id,
        );
    }
    let mut done = std::collections::HashSet::new();
    while done.len() < ids.len() {
        let ev = next_event(&mut sub, |ev| {
            ids.contains(&ev.id) && ev.status.is_finished()
        })
        .await;
        assert_eq!(ev.status, JobStatus::Completed);
        done.insert(ev.id);
    }

    let later = t
        .queue
        .enqueue(NewJob::new("test:quick", json!(9)))
        .await
        .unwrap();
    assert!(
        later.estimate.expected < default / 2,
        "the estimate ignores three ~20 ms runs: {:?}",
        later.estimate
    );
    assert!(later.estimate.max < default, "{:?}", later.estimate);
    assert_ne!(
        later.response("Working").estimated_duration,
        response.estimated_duration
    );
    pool.shutdown(Duration::from_secs(5)).await;
}
