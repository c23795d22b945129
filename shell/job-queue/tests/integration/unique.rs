//! Unique operations: at most one pending or running job per job type and key. Enqueueing
//! work already under way shares it — the caller gets that operation's handle — and a batch
//! stores only the jobs nobody is doing yet. Once the job has ended, the key is free again.

use std::time::Duration;

use brain_job_queue::{ListFilter, NewBatch, NewJob, QueueError};
use brain_plugin_api::{JobKind, JobStatus, Source};
use serde_json::json;

use crate::support::*;

fn section(key: &str) -> NewJob {
    NewJob::new("test:echo", json!(key)).unique(key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_under_way_is_shared_not_repeated() {
    let t = TestQueue::new().await;
    // No workers yet: everything stays pending, certainly under way.
    let first = t.queue.enqueue(section("landing:hero")).await.unwrap();
    assert!(!first.already);
    let again = t.queue.enqueue(section("landing:hero")).await.unwrap();
    assert!(again.already, "{again:?}");
    assert_eq!(again.id, first.id, "the handle of the job doing it");
    assert!(again.job_ids.is_empty());
    let answer = again.response("Generating landing:hero");
    assert_eq!(answer.job_id, first.id);
    assert!(
        answer
            .message
            .contains("already under way, and this request shares it"),
        "{}",
        answer.message
    );

    // A batch stores only what nobody does yet, and says who does the rest.
    let batch = t
        .queue
        .enqueue_batch(
            NewBatch::new(Source::cli())
                .job(section("landing:hero"))
                .job(section("landing:cta"))
                .job(section("landing:cta")),
        )
        .await
        .unwrap();
    assert!(!batch.already);
    assert_eq!(batch.kind, JobKind::Batch);
    assert_eq!(batch.job_ids.len(), 1, "only landing:cta is new: {batch:?}");
    assert_eq!(
        batch.shared, 2,
        "hero (under way) and cta (twice in one batch)"
    );
    assert_eq!(batch.shared_with, vec![first.id.clone()]);
    assert!(
        batch
            .response("Generating content")
            .message
            .contains(&format!("(2 more already under way in {})", first.id)),
    );
    // All of it under way: the handle is the batch doing it.
    let all = t
        .queue
        .enqueue_batch(NewBatch::new(Source::cli()).job(section("landing:cta")))
        .await
        .unwrap();
    assert!(all.already);
    assert_eq!(all.id, batch.id);

    let stored = t
        .queue
        .list(ListFilter {
            include_batch_items: true,
            ..ListFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(stored.len(), 2, "one job per key: {stored:?}");

    // Once it has ended the key is free: new work runs again.
    let pool = t.queue.start_workers(workers(2)).await.unwrap();
    assert_eq!(
        finished(&t.queue, &first.id).await.status,
        JobStatus::Completed
    );
    let later = t.queue.enqueue(section("landing:hero")).await.unwrap();
    assert!(!later.already);
    assert_ne!(later.id, first.id);
    assert_eq!(
        finished(&t.queue, &later.id).await.status,
        JobStatus::Completed
    );
    pool.shutdown(Duration::from_secs(5)).await;

    let err = t
        .queue
        .enqueue(NewJob::new("test:echo", json!(1)).unique(""))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            QueueError::InvalidArgument {
                field: "unique_key",
                ..
            }
        ),
        "{err}"
    );
}
