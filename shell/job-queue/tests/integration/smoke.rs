//! The first end-to-end check: a job and a batch run and their events arrive.

use std::time::Duration;

use brain_job_queue::{NewBatch, NewJob, WorkerConfig};
use brain_plugin_api::{Event, JobStatus, Source};
use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_runs_and_its_events_arrive() {
    let t = TestQueue::new().await;
    let mut sub = t.queue.bus().subscribe_all();
    let pool = t
        .queue
        .start_workers(WorkerConfig::default())
        .await
        .unwrap();
    let e = t
        .queue
        .enqueue(NewJob::new("test:echo", json!({"value": 7})).source(Source::cli()))
        .await
        .unwrap();
    let mut seen = Vec::new();
    while let Some(Event::JobProgress(ev)) =
        tokio::time::timeout(Duration::from_secs(10), sub.recv())
            .await
            .unwrap()
    {
        assert_eq!(ev.id, e.id);
        seen.push(ev.status);
        if ev.status.is_finished() {
            assert_eq!(ev.result, Some(json!({"value": 7})));
            break;
        }
    }
    assert_eq!(seen.first(), Some(&JobStatus::Pending));
    assert_eq!(seen.last(), Some(&JobStatus::Completed));
    let b = t
        .queue
        .enqueue_batch(
            NewBatch::new(Source::cli())
                .label("Echoing")
                .job(NewJob::new("test:echo", json!(1)))
                .job(NewJob::new("test:echo", json!(2))),
        )
        .await
        .unwrap();
    let mut w = t.queue.watch(&b.id).await.unwrap();
    let mut last = None;
    while let Some(ev) = tokio::time::timeout(Duration::from_secs(10), w.next())
        .await
        .unwrap()
    {
        last = Some(ev);
    }
    let last = last.unwrap();
    assert_eq!(last.status, JobStatus::Completed, "{last:?}");
    assert_eq!(last.batch.unwrap().completed, 2);
    pool.shutdown(Duration::from_secs(5)).await;
}
