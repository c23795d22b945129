//! Pruning: finished jobs past the retention go, pending ones stay, and a batch goes
//! together with its jobs once all of them are finished.

use std::time::Duration;

use brain_job_queue::{NewBatch, NewJob, QueueConfig, QueueError, WorkerConfig};
use brain_plugin_api::{JobStatus, Source};
use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_deletes_finished_jobs_and_batches_and_keeps_the_rest() {
    let t = TestQueue::with_config(QueueConfig {
        retention: Duration::ZERO,
        ..fast_config()
    })
    .await;
    // The pool prunes at its first heartbeat; with a one-minute heartbeat that is never
    // during this test, so the count below is ours alone.
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
    let mut done = Vec::new();
    for i in 0..3 {
        done.push(
            t.queue
                .enqueue(NewJob::new("test:echo", json!(i)))
                .await
                .unwrap()
                .id,
        );
    }
    let finished_batch = t
        .queue
        .enqueue_batch(
            NewBatch::new(Source::cli())
                .job(NewJob::new("test:echo", json!("a")))
                .job(NewJob::new("test:echo", json!("b"))),
        )
        .await
        .unwrap();
    // A batch with one item done and one waiting an hour is not finished.
    let open_batch = t
        .queue
        .enqueue_batch(
            NewBatch::new(Source::cli())
                .job(NewJob::new("test:echo", json!("now")))
                .job(NewJob::new("test:echo", json!("later")).delay(Duration::from_secs(3600))),
        )
        .await
        .unwrap();
    let waiting = t
        .queue
        .enqueue(NewJob::new("test:echo", json!("later")).delay(Duration::from_secs(3600)))
        .await
        .unwrap();
    for id in done
        .iter()
        .chain(&finished_batch.job_ids)
        .chain(&open_batch.job_ids[..1])
    {
        assert_eq!(finished(&t.queue, id).await.status, JobStatus::Completed);
    }
    pool.shutdown(Duration::from_secs(5)).await;
    // With no retention, "older than the retention" means finished before now.
    tokio::time::sleep(Duration::from_millis(5)).await;

    let pruned = t.queue.prune().await.unwrap();
    assert_eq!(pruned, 5, "3 jobs and the finished batch's 2");
    for id in done.iter().chain(&finished_batch.job_ids) {
        assert_eq!(t.queue.job(id).await.unwrap(), None, "job {id} was kept");
    }
    let err = t.queue.status(&finished_batch.id).await.unwrap_err();
    assert!(matches!(err, QueueError::NotFound { .. }), "{err:?}");

    let kept = t
        .queue
        .job(&waiting.id)
        .await
        .unwrap()
        .expect("pending job kept");
    assert_eq!(kept.status, JobStatus::Pending);
    for id in &open_batch.job_ids {
        assert!(
            t.queue.job(id).await.unwrap().is_some(),
            "job {id} of an open batch went"
        );
    }
    let state = t.queue.status(&open_batch.id).await.unwrap();
    assert_eq!(state.event.batch.unwrap().completed, 1);

    assert_eq!(t.queue.prune().await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_keeps_jobs_within_the_retention() {
    let t = TestQueue::new().await;
    let pool = t.queue.start_workers(workers(1)).await.unwrap();
    let e = t
        .queue
        .enqueue(NewJob::new("test:echo", json!(1)))
        .await
        .unwrap();
    finished(&t.queue, &e.id).await;
    pool.shutdown(Duration::from_secs(5)).await;
    assert_eq!(t.queue.prune().await.unwrap(), 0);
    assert!(t.queue.job(&e.id).await.unwrap().is_some());
}
