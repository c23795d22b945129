//! Graceful shutdown: jobs that finish in time complete, the rest go back to pending
//! without spending an attempt, and a later pool runs them.

use std::sync::Arc;
use std::time::Duration;

use brain_job_queue::{NewJob, ShutdownReport, WorkerConfig};
use brain_plugin_api::testing::capture_warnings;
use brain_plugin_api::{Event, JobStatus, Update};
use serde_json::json;
use tokio::sync::{mpsc, watch};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_still_running_at_the_timeout_is_released_and_runs_later() {
    let t = TestQueue::new().await;
    let (tx, mut started) = mpsc::unbounded_channel();
    let runs: Log<u32> = Log::default();
    let r = runs.clone();
    t.queue
        .register(
            "test:stubborn",
            func(move |_input, ctx| {
                let (r, tx) = (r.clone(), tx.clone());
                async move {
                    r.push(ctx.attempt());
                    let _ = tx.send(());
                    if r.len() == 1 {
                        // Ignores its cancellation token.
                        tokio::time::sleep(Duration::from_secs(3)).await;
                        Ok(json!("first run"))
                    } else {
                        Ok(json!("later run"))
                    }
                }
            }),
        )
        .unwrap();
    let pool = t.queue.start_workers(workers(1)).await.unwrap();
    let e = t
        .queue
        .enqueue(NewJob::new("test:stubborn", json!(null)))
        .await
        .unwrap();
    within("the job to start", started.recv()).await.unwrap();
    let report = pool.shutdown(Duration::from_millis(200)).await;
    assert_eq!(report, ShutdownReport { released: 1 });

    let record = t.queue.job(&e.id).await.unwrap().unwrap();
    assert_eq!(record.status, JobStatus::Pending, "{record:?}");
    assert_eq!(record.attempt, 0, "a released job keeps its attempt");
    assert_eq!(record.worker_id, None);
    assert_eq!(record.lease_expires_at, None);
    assert_eq!(record.finished_at, None);

    // The next start (here a new handle on the file, as after a restart) runs it.
    let again = open(&t.path(), fast_config()).await;
    let r = runs.clone();
    again
        .register(
            "test:stubborn",
            func(move |_input, ctx| {
                let r = r.clone();
                async move {
                    r.push(ctx.attempt());
                    Ok(json!("later run"))
                }
            }),
        )
        .unwrap();
    let pool = again.start_workers(workers(1)).await.unwrap();
    let record = finished(&again, &e.id).await;
    assert_eq!(record.status, JobStatus::Completed);
    assert_eq!(record.result, Some(json!("later run")));
    assert_eq!(record.attempt, 1);
    assert_eq!(runs.items(), vec![1, 1]);
    pool.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_finishing_within_the_timeout_completes() {
    let t = TestQueue::new().await;
    let (tx, mut started) = mpsc::unbounded_channel();
    t.queue
        .register(
            "test:short",
            func(move |_input, _ctx| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(());
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Ok(json!("done"))
                }
            }),
        )
        .unwrap();
    let pool = t.queue.start_workers(workers(1)).await.unwrap();
    let e = t
        .queue
        .enqueue(NewJob::new("test:short", json!(null)))
        .await
        .unwrap();
    within("the job to start", started.recv()).await.unwrap();
    let report = pool.shutdown(Duration::from_secs(10)).await;
    assert_eq!(report, ShutdownReport { released: 0 });
    let record = finished(&t.queue, &e.id).await;
    assert_eq!(record.status, JobStatus::Completed);
    assert_eq!(record.attempt, 1);
    assert_eq!(record.result, Some(json!("done")));
    assert!(t.queue.workers().await.unwrap().is_empty());
}

/// A released job picked up again by a new pool on the same handle while its first,
/// stubborn run is still going: when that stale run finally returns, it must not disturb
/// the new run (its lease, its progress events).
///
/// Every step waits for what it needs: the stale run returns only once the new run is
/// going, and the new run reports progress and returns only once the stale run's
/// bookkeeping is over. A current-thread runtime makes that point observable: the pool
/// logs that it discards the stale result and then, without awaiting anything, settles the
/// stale run's slot and monitor entry — all before the test's task runs again.
#[tokio::test]
async fn a_stale_run_returning_late_does_not_disturb_the_new_run() {
    let (_capture, mut warnings) = capture_warnings();
    let t = TestQueue::new().await;
    let (tx, mut started) = mpsc::unbounded_channel();
    // Gates the test opens: the first run's return, the second run's progress report, and
    // the second run's return.
    let gates: Arc<[watch::Sender<bool>; 3]> = Arc::new(Default::default());
    let runs: Log<u32> = Log::default();
    let r = runs.clone();
    let g = gates.clone();
    t.queue
        .register(
            "test:stubborn",
            func(move |_input, ctx| {
                let (r, tx, g) = (r.clone(), tx.clone(), g.clone());
                async move {
                    r.push(ctx.attempt());
                    let _ = tx.send(());
                    let open = |gate: &watch::Sender<bool>| {
                        let mut gate = gate.subscribe();
                        async move {
                            let _ = gate.wait_for(|open| *open).await;
                        }
                    };
                    match r.len() {
                        1 => {
                            // Ignores cancellation; returns while the second run is going.
                            open(&g[0]).await;
                            Ok(json!("first run"))
                        }
                        2 => {
                            open(&g[1]).await;
                            ctx.report_progress(1, 2, "second half");
                            open(&g[2]).await;
                            Ok(json!("second run"))
                        }
                        _ => Ok(json!("a third run")),
                    }
                }
            }),
        )
        .unwrap();
    // A long lease, so only a missing heartbeat (not a slow machine) could lose it; the
    // test checks below that heartbeats still renew it.
    let config = WorkerConfig {
        lease: Duration::from_secs(60),
        heartbeat: Some(Duration::from_millis(50)),
        ..workers(1)
    };
    let pool = t.queue.start_workers(config.clone()).await.unwrap();
    let e = t
        .queue
        .enqueue(NewJob::new("test:stubborn", json!(null)))
        .await
        .unwrap();
    within("the first run to start", started.recv())
        .await
        .unwrap();
    // The first run waits on its gate, so it is surely still running at the timeout.
    let report = pool.shutdown(Duration::from_millis(100)).await;
    assert_eq!(report.released, 1);

    let mut sub = t.queue.bus().subscribe_all();
    let pool = t.queue.start_workers(config).await.unwrap();
    within("the second run to start", started.recv())
        .await
        .unwrap();
    assert_eq!(runs.items(), vec![1, 1]);

    // The stale run returns; wait until the pool has discarded its result (and so, see
    // above, finished with it).
    gates[0].send_replace(true);
    within("the stale result to be discarded", async {
        loop {
            let warning = warnings.recv().await.unwrap();
            if warning.field("job") == Some(e.id.as_str()) && warning.message.contains("discarded")
            {
                return;
            }
        }
    })
    .await;
    // The new run's lease is still renewed: a heartbeat after that point extends it.
    let record = t.queue.job(&e.id).await.unwrap().unwrap();
    assert_eq!(record.status, JobStatus::Processing, "{record:?}");
    let before = record.lease_expires_at.unwrap();
    wait_for("a heartbeat to renew the new run's lease", || async {
        let record = t.queue.job(&e.id).await.unwrap().unwrap();
        assert_eq!(record.status, JobStatus::Processing, "{record:?}");
        (record.lease_expires_at.unwrap() > before).then_some(())
    })
    .await;

    // Its progress still reaches the bus.
    gates[1].send_replace(true);
    let progress = next_event(&mut sub, |ev| {
        ev.id == e.id && (ev.update == Update::Progress || ev.status.is_finished())
    })
    .await;
    assert_eq!(
        (progress.update, progress.message.as_deref()),
        (Update::Progress, Some("second half")),
        "{progress:?}"
    );
    gates[2].send_replace(true);
    let record = finished(&t.queue, &e.id).await;
    assert_eq!(record.status, JobStatus::Completed);
    assert_eq!(
        record.result,
        Some(json!("second run")),
        "the second run lost its lease: {record:?}"
    );
    assert_eq!(record.attempt, 1);
    assert_eq!(runs.items(), vec![1, 1]);
    let last = next_event(&mut sub, |ev| ev.id == e.id && ev.status.is_finished()).await;
    assert_eq!(last.result, Some(json!("second run")));
    while let Ok(event) = sub.try_recv() {
        if let Event::JobProgress(ev) = event {
            assert_ne!(ev.id, e.id, "an event after the final one: {ev:?}");
        }
    }
    pool.shutdown(Duration::from_secs(5)).await;
}
