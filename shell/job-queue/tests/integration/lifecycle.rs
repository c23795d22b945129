//! A job's life from enqueue to completion: the events in order, the status answer, the
//! stored record.

use std::time::Duration;

use brain_job_queue::NewJob;
use brain_plugin_api::{Event, JobKind, JobStatus, Source, Update};
use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_arrive_in_order_and_the_record_is_complete() {
    let t = TestQueue::new().await;
    let mut sub = t.queue.bus().subscribe_all();
    let pool = t.queue.start_workers(workers(2)).await.unwrap();
    let e = t
        .queue
        .enqueue(
            NewJob::new("test:echo", json!({"value": 7}))
                .source(Source::cli())
                .label("echo seven"),
        )
        .await
        .unwrap();
    assert_eq!(e.kind, JobKind::Job);
    assert_eq!(e.job_ids, vec![e.id.clone()]);

    let mut seen = Vec::new();
    let last = within("the job's final event", async {
        loop {
            match sub.recv().await {
                Some(Event::JobProgress(ev)) => {
                    assert_eq!(ev.id, e.id, "an event for another job: {ev:?}");
                    assert_eq!(ev.kind, JobKind::Job);
                    assert_eq!(ev.source, Source::cli());
                    assert_eq!(ev.label.as_deref(), Some("echo seven"));
                    seen.push((ev.status, ev.update));
                    if ev.status.is_finished() {
                        return ev;
                    }
                }
                Some(other) => panic!("unexpected event {other:?}"),
                None => panic!("the bus closed"),
            }
        }
    })
    .await;
    assert_eq!(
        seen,
        vec![
            (JobStatus::Pending, Update::Lifecycle),
            (JobStatus::Processing, Update::Lifecycle),
            (JobStatus::Completed, Update::Lifecycle),
        ]
    );
    assert_eq!(last.result, Some(json!({"value": 7})));
    assert_eq!(last.error, None);
    let details = last.job.as_ref().unwrap();
    assert_eq!(details.job_type, "test:echo");
    assert_eq!(details.attempt, 1);

    let record = finished(&t.queue, &e.id).await;
    assert_eq!(record.status, JobStatus::Completed);
    assert_eq!(record.attempt, 1);
    assert_eq!(record.max_attempts, 3);
    assert_eq!(record.result, Some(json!({"value": 7})));
    assert_eq!(record.input, json!({"value": 7}));
    assert_eq!(record.label.as_deref(), Some("echo seven"));
    assert_eq!(record.last_error, None);
    let started = record.started_at.expect("a started time");
    let done = record.finished_at.expect("a finished time");
    assert!(
        record.created_at <= started && started <= done,
        "created {} started {started} finished {done}",
        record.created_at
    );
    assert_eq!(record.lease_expires_at, None);

    let state = t.queue.status(&e.id).await.unwrap();
    assert_eq!(state.event.status, JobStatus::Completed);
    let entry = state.status_entry();
    assert_eq!(entry.status, JobStatus::Completed);
    assert_eq!(entry.kind, JobKind::Job);
    assert_eq!(entry.result, Some(json!({"value": 7})));
    let finished_at = entry.finished_at.expect("finishedAt on a finished job");
    assert_eq!(finished_at.timestamp_millis(), done);
    assert_eq!(entry.created_at.timestamp_millis(), record.created_at);
    assert!(entry.errors.is_empty(), "{:?}", entry.errors);
    assert!(
        entry.message.starts_with("Completed echo seven"),
        "{}",
        entry.message
    );
    let entry_json = serde_json::to_value(&entry).unwrap();
    assert_eq!(entry_json["status"], "completed");
    assert_eq!(entry_json["result"], json!({"value": 7}));
    assert!(entry_json["finishedAt"].is_string(), "{entry_json}");

    pool.shutdown(Duration::from_secs(5)).await;
}
