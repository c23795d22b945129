//! Lease takeover between two handles on one file (as two processes would have): a worker
//! that stops renewing its lease loses the job to another, and its late result — and the
//! file it staged — is fenced off by the lease token. Effects committed but not applied
//! (the process stopped in between) are applied at the next start.

use std::sync::Arc;
use std::time::Duration;

use brain_job_queue::{NewJob, WorkerConfig};
use brain_plugin_api::{Event, JobStatus, SideEffect};
use serde_json::json;
use tokio::sync::{mpsc, watch};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_lease_is_taken_over_and_the_late_result_discarded() {
    let t = TestQueue::with_config(fast_config()).await;
    let a = t.queue.clone();
    let b = open(&t.path(), fast_config()).await;
    // Both runs stage a write of the same file: only the committed run's may happen.
    let file = t.dir.path().join("content/landing/hero.md");
    let write = |text: &str| SideEffect::WriteFile {
        path: file.clone(),
        bytes: text.as_bytes().to_vec(),
    };
    let (write_a, write_b) = (write("A"), write("B"));

    let (a_started_tx, mut a_started) = mpsc::unbounded_channel();
    let (a_returned_tx, mut a_returned) = mpsc::unbounded_channel();
    // A returns only when the test lets it, after B has completed the job: however slow
    // the machine, A's result is late.
    let release_a = Arc::new(watch::Sender::new(false));
    let release = release_a.clone();
    a.register(
        "test:takeover",
        func(move |_input, ctx| {
            let (started, returned) = (a_started_tx.clone(), a_returned_tx.clone());
            let mut released = release.subscribe();
            let write_a = write_a.clone();
            async move {
                let _ = started.send(ctx.attempt());
                // Ignores cancellation: a worker that hangs.
                let _ = released.wait_for(|r| *r).await;
                ctx.stage(write_a);
                let _ = returned.send(());
                Ok(json!("A"))
            }
        }),
    )
    .unwrap();
    let b_runs: Log<u32> = Log::default();
    let r = b_runs.clone();
    b.register(
        "test:takeover",
        func(move |_input, ctx| {
            let r = r.clone();
            let write_b = write_b.clone();
            async move {
                r.push(ctx.attempt());
                ctx.stage(write_b);
                Ok(json!("B"))
            }
        }),
    )
    .unwrap();

    let mut a_events = a.bus().subscribe_all();
    let mut b_events = b.bus().subscribe_all();

    // A never renews (its heartbeat would come after an hour), so its 400 ms lease lapses.
    let pool_a = a
        .start_workers(WorkerConfig {
            concurrency: 1,
            lease: Duration::from_millis(400),
            heartbeat: Some(Duration::from_secs(3600)),
            job_types: None,
            scope: None,
        })
        .await
        .unwrap();
    let e = a
        .enqueue(NewJob::new("test:takeover", json!(null)))
        .await
        .unwrap();
    assert_eq!(within("A to start", a_started.recv()).await, Some(1));

    // B sweeps for expired leases every 100 ms; its own lease is long, so a stall here
    // cannot hand B's run back to the queue.
    let pool_b = b
        .start_workers(WorkerConfig {
            concurrency: 1,
            lease: Duration::from_secs(30),
            heartbeat: Some(Duration::from_millis(100)),
            job_types: None,
            scope: None,
        })
        .await
        .unwrap();
    let record = finished(&b, &e.id).await;
    assert_eq!(record.status, JobStatus::Completed, "{record:?}");
    assert_eq!(record.result, Some(json!("B")));
    assert_eq!(record.attempt, 2);
    assert_eq!(b_runs.items(), vec![2]);
    // Effects are applied just after the completion commits.
    wait_for("B's file", || async {
        std::fs::read_to_string(&file).ok().filter(|t| t == "B")
    })
    .await;
    let done = next_event(&mut b_events, |ev| ev.id == e.id && ev.status.is_finished()).await;
    assert_eq!(done.status, JobStatus::Completed);
    assert_eq!(done.result, Some(json!("B")));

    // B is done and A still runs; now A finishes late. Once A's pool has drained, its
    // outcome has been sent to the store.
    assert!(
        a_returned.try_recv().is_err(),
        "A returned before B finished"
    );
    release_a.send_replace(true);
    within("A's handler to return", a_returned.recv())
        .await
        .unwrap();
    pool_a.shutdown(Duration::from_secs(30)).await;
    // A write through A's handle is committed after anything A sent before it.
    a.cancel(&e.id).await.unwrap();
    let record = a.job(&e.id).await.unwrap().unwrap();
    assert_eq!(record.status, JobStatus::Completed);
    assert_eq!(
        record.result,
        Some(json!("B")),
        "A's late result overwrote B's"
    );
    assert_eq!(record.attempt, 2);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "B",
        "A's late run wrote its file"
    );

    // Exactly one completion, announced by B (above); A announced none.
    let completions = |events: &mut brain_plugin_api::Subscription<Event>| {
        let mut n = 0;
        while let Ok(event) = events.try_recv() {
            if let Event::JobProgress(ev) = event
                && ev.id == e.id
                && ev.status == JobStatus::Completed
            {
                n += 1;
            }
        }
        n
    };
    assert_eq!(completions(&mut b_events), 0);
    assert_eq!(completions(&mut a_events), 0);
    pool_b.shutdown(Duration::from_secs(5)).await;
}

/// A process that committed a completion and stopped before applying its effects: the
/// next pool to start applies them, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn effects_left_by_a_stopped_process_are_applied_at_the_next_start() {
    let t = TestQueue::new().await;
    let file = t.dir.path().join("dist/note.txt");
    t.db.insert_outbox("job_x", &file, b"left over").await;
    assert!(!file.exists());
    let pool = t.queue.start_workers(workers(1)).await.unwrap();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "left over");
    assert_eq!(t.db.count("outbox").await, 0);
    pool.shutdown(Duration::from_secs(5)).await;
}
