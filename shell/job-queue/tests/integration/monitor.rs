//! The progress monitor: a flood of progress reports becomes a few ordered events, and a
//! batch's final event lists its failed items.

use std::time::{Duration, Instant};

use brain_job_queue::{NewBatch, NewJob};
use brain_plugin_api::{Event, JobError, JobKind, JobStatus, Source, Update};
use serde_json::json;

use crate::support::*;

const STEPS: u64 = 1_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_progress_reports_become_a_few_ordered_events() {
    let t = TestQueue::new().await;
    let max_per_second = t.queue.config().max_events_per_second;
    t.queue
        .register(
            "test:count",
            func(|_input, ctx| async move {
                for i in 1..=STEPS {
                    ctx.report_progress(i, STEPS, "step");
                    // Tight bursts with short pauses, so the run spans several publish
                    // intervals however fast this machine counts.
                    if i % 50_000 == 0 {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
                Ok(json!(STEPS))
            }),
        )
        .unwrap();
    let mut sub = t.queue.bus().subscribe_all();
    let pool = t.queue.start_workers(workers(1)).await.unwrap();
    let begun = Instant::now();
    let e = t
        .queue
        .enqueue(NewJob::new("test:count", json!(null)))
        .await
        .unwrap();

    let mut progress_events = 0u64;
    let mut last_current = 0u64;
    let last = within("the completed event", async {
        loop {
            let Some(Event::JobProgress(ev)) = sub.recv().await else {
                panic!("the bus closed");
            };
            assert_eq!(ev.id, e.id);
            if let Some(p) = ev.progress {
                assert!(
                    p.current >= last_current,
                    "progress went back from {last_current} to {}",
                    p.current
                );
                assert_eq!(p.total, STEPS);
                last_current = p.current;
            }
            if ev.update == Update::Progress {
                progress_events += 1;
                assert_eq!(ev.status, JobStatus::Processing);
                assert_eq!(ev.message.as_deref(), Some("step"));
                assert!(ev.progress.is_some(), "{ev:?}");
            }
            if ev.status.is_finished() {
                return ev;
            }
        }
    })
    .await;
    let runtime = begun.elapsed();

    assert_eq!(last.status, JobStatus::Completed);
    assert_eq!(last.update, Update::Lifecycle);
    assert_eq!(last.result, Some(json!(STEPS)));
    let p = last.progress.expect("the final event carries the progress");
    assert_eq!((p.current, p.total, p.percentage), (STEPS, STEPS, 100));
    assert!(progress_events >= 1, "no progress event arrived");
    let allowed = (runtime.as_secs_f64() * f64::from(max_per_second)).ceil() as u64 + 3;
    assert!(
        progress_events <= allowed,
        "{progress_events} progress events in {runtime:?}; at most {allowed} allowed"
    );
    pool.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_batch_item_is_listed_in_the_final_event_and_the_status() {
    let t = TestQueue::with_config(fast_config()).await;
    t.queue
        .register(
            "test:maybe",
            func(|input, _ctx| async move {
                if input["fail"] == json!(true) {
                    Err(JobError::permanent("the template is missing"))
                } else {
                    Ok(input)
                }
            }),
        )
        .unwrap();
    let mut sub = t.queue.bus().subscribe_all();
    let pool = t.queue.start_workers(workers(2)).await.unwrap();
    let mut batch = NewBatch::new(Source::cli()).label("Rendering");
    for i in 0..5 {
        batch = batch.job(
            NewJob::new("test:maybe", json!({"i": i, "fail": i == 2})).label(format!("item-{i}")),
        );
    }
    let b = t.queue.enqueue_batch(batch).await.unwrap();
    let failed_id = b.job_ids[2].clone();

    let last = next_event(&mut sub, |ev| ev.id == b.id && ev.status.is_finished()).await;
    assert_eq!(last.kind, JobKind::Batch);
    assert_eq!(last.status, JobStatus::Failed, "{last:?}");
    assert_eq!(last.update, Update::Lifecycle);
    assert_eq!(last.label.as_deref(), Some("Rendering"));
    let details = last.batch.as_ref().unwrap();
    assert_eq!(
        (
            details.total,
            details.completed,
            details.failed,
            details.cancelled
        ),
        (5, 4, 1, 0)
    );
    assert_eq!(details.errors.len(), 1, "{:?}", details.errors);
    assert_eq!(details.errors[0].job_id, failed_id);
    assert_eq!(details.errors[0].label.as_deref(), Some("item-2"));
    assert_eq!(details.errors[0].error, "the template is missing");
    let progress = last.progress.unwrap();
    assert_eq!((progress.current, progress.total), (5, 5));

    let entry = t.queue.status(&b.id).await.unwrap().status_entry();
    assert_eq!(entry.status, JobStatus::Failed);
    assert_eq!(entry.kind, JobKind::Batch);
    assert!(entry.finished_at.is_some());
    assert_eq!(entry.errors, details.errors);
    let record = t.queue.job(&failed_id).await.unwrap().unwrap();
    assert_eq!(record.status, JobStatus::Failed);
    assert_eq!(record.attempt, 1);
    pool.shutdown(Duration::from_secs(5)).await;
}
