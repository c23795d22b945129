//! Cancelling: pending jobs at once, running ones cooperatively, whole batches, and ids
//! that do not exist.

use std::time::Duration;

use brain_job_queue::{CancelOutcome, NewBatch, NewJob, QueueError};
use brain_plugin_api::{JobContext, JobError, JobKind, JobStatus, Source, Update};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::support::*;

/// Waits `input["ms"]` milliseconds (default 20 s) unless cancelled first; reports each
/// start on `started`.
fn cooperative(started: mpsc::UnboundedSender<String>) -> Func {
    func(move |input: Value, ctx: JobContext| {
        let started = started.clone();
        async move {
            let _ = started.send(ctx.job_id().to_owned());
            let ms = input["ms"].as_u64().unwrap_or(20_000);
            tokio::select! {
                _ = ctx.cancellation().cancelled() => Err(JobError::Cancelled),
                _ = tokio::time::sleep(Duration::from_millis(ms)) => Ok(json!("slept")),
            }
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_job_is_cancelled_and_never_runs() {
    let t = TestQueue::new().await;
    let (tx, mut started) = mpsc::unbounded_channel();
    t.queue.register("test:wait", cooperative(tx)).unwrap();
    let doomed = t
        .queue
        .enqueue(NewJob::new("test:wait", json!({"ms": 1})))
        .await
        .unwrap();
    let outcome = t.queue.cancel(&doomed.id).await.unwrap();
    assert_eq!(
        outcome,
        CancelOutcome {
            cancelled: 1,
            stopping: 0
        }
    );
    let record = t.queue.job(&doomed.id).await.unwrap().unwrap();
    assert_eq!(record.status, JobStatus::Cancelled);
    assert_eq!(record.attempt, 0);
    assert!(record.finished_at.is_some());
    let entry = t.queue.status(&doomed.id).await.unwrap().status_entry();
    assert_eq!(entry.status, JobStatus::Cancelled);

    // Cancelling a finished job again finds it and changes nothing.
    assert_eq!(
        t.queue.cancel(&doomed.id).await.unwrap(),
        CancelOutcome {
            cancelled: 0,
            stopping: 0
        }
    );

    // A job enqueued after it, run by one worker, proves the pool has looked at the queue.
    let pool = t.queue.start_workers(workers(1)).await.unwrap();
    let after = t
        .queue
        .enqueue(NewJob::new("test:wait", json!({"ms": 1})))
        .await
        .unwrap();
    assert_eq!(
        finished(&t.queue, &after.id).await.status,
        JobStatus::Completed
    );
    assert_eq!(started.try_recv().ok(), Some(after.id.clone()));
    assert!(started.try_recv().is_err(), "the cancelled job ran");
    let record = t.queue.job(&doomed.id).await.unwrap().unwrap();
    assert_eq!(record.status, JobStatus::Cancelled);
    assert_eq!(record.attempt, 0);
    pool.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_job_stops_when_cancelled() {
    let t = TestQueue::new().await;
    let (tx, mut started) = mpsc::unbounded_channel();
    t.queue.register("test:wait", cooperative(tx)).unwrap();
    let pool = t.queue.start_workers(workers(2)).await.unwrap();
    let e = t
        .queue
        .enqueue(NewJob::new("test:wait", json!({})))
        .await
        .unwrap();
    let id = within("the job to start", started.recv()).await.unwrap();
    assert_eq!(id, e.id);
    let outcome = t.queue.cancel(&e.id).await.unwrap();
    assert_eq!(
        outcome,
        CancelOutcome {
            cancelled: 0,
            stopping: 1
        }
    );
    let record = finished(&t.queue, &e.id).await;
    assert_eq!(record.status, JobStatus::Cancelled, "{record:?}");
    assert_eq!(record.attempt, 1);
    assert_eq!(record.result, None);
    let state = t.queue.status(&e.id).await.unwrap();
    assert_eq!(state.event.status, JobStatus::Cancelled);
    assert_eq!(state.event.error.as_deref(), Some("cancelled"));
    pool.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_batch_ends_every_job_and_announces_it() {
    let t = TestQueue::new().await;
    let (tx, _started) = mpsc::unbounded_channel();
    t.queue.register("test:wait", cooperative(tx)).unwrap();
    let mut sub = t.queue.bus().subscribe_all();
    let pool = t.queue.start_workers(workers(2)).await.unwrap();
    // The first item finishes quickly; the other nine would take 20 s each.
    let mut batch = NewBatch::new(Source::cli()).label("Sleeping");
    for i in 0..10 {
        let input = if i == 0 { json!({"ms": 20}) } else { json!({}) };
        batch = batch.job(NewJob::new("test:wait", input).label(format!("item-{i}")));
    }
    let b = t.queue.enqueue_batch(batch).await.unwrap();
    assert_eq!(b.kind, JobKind::Batch);
    assert_eq!(b.job_ids.len(), 10);

    let first = finished(&t.queue, &b.job_ids[0]).await;
    assert_eq!(first.status, JobStatus::Completed);
    let outcome = t.queue.cancel(&b.id).await.unwrap();
    assert_eq!(
        outcome.cancelled + outcome.stopping,
        9,
        "every unfinished item is cancelled or asked to stop: {outcome:?}"
    );
    assert!(outcome.cancelled >= 7, "{outcome:?}");

    let last = next_event(&mut sub, |e| e.id == b.id && e.status.is_finished()).await;
    assert_eq!(last.status, JobStatus::Cancelled, "{last:?}");
    assert_eq!(last.update, Update::Lifecycle);
    assert_eq!(last.kind, JobKind::Batch);
    let details = last.batch.unwrap();
    assert_eq!(
        (
            details.total,
            details.completed,
            details.cancelled,
            details.failed
        ),
        (10, 1, 9, 0)
    );

    for id in &b.job_ids[1..] {
        let record = finished(&t.queue, id).await;
        assert_eq!(record.status, JobStatus::Cancelled, "{record:?}");
    }
    let state = t.queue.status(&b.id).await.unwrap();
    assert_eq!(state.event.status, JobStatus::Cancelled);
    assert!(state.finished_at.is_some());
    pool.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_an_unknown_id_names_it() {
    let t = TestQueue::new().await;
    for id in ["job_doesnotexist", "batch_doesnotexist"] {
        let err = t.queue.cancel(id).await.unwrap_err();
        assert!(
            matches!(&err, QueueError::NotFound { id: named } if named == id),
            "{err:?}"
        );
        assert!(err.to_string().contains(id), "{err}");
        let err = t.queue.status(id).await.unwrap_err();
        assert!(matches!(err, QueueError::NotFound { .. }), "{err:?}");
    }
}
