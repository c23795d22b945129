//! PostgreSQL restarted mid-batch (`pg_ctl restart -m fast`): the writer, the pool's reads
//! and the wake-up listener reconnect; nothing is lost and nothing runs twice.

use std::time::Duration;

use brain_job_queue::{NewBatch, NewJob, WorkerConfig};
use brain_plugin_api::{JobStatus, Source};
use serde_json::json;
use tokio::sync::{mpsc, watch};

use crate::support::*;

const JOBS: u64 = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_mid_batch_loses_nothing_and_runs_nothing_twice() {
    // A server of its own: the restart must not cut the other tests' connections.
    let cluster = postgres::Cluster::start("");
    let db = Db::Postgres(cluster.database().await);
    let queue = open(&db, fast_config()).await;
    let runs: Log<u64> = Log::default();
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let (gate, gate_rx) = watch::channel(false);
    let r = runs.clone();
    queue
        .register(
            "test:item",
            func(move |input, _ctx| {
                let (r, started_tx, mut gate) = (r.clone(), started_tx.clone(), gate_rx.clone());
                async move {
                    r.push(input.as_u64().unwrap_or(u64::MAX));
                    let _ = started_tx.send(());
                    // Every item waits for the restart to be over, so some are surely
                    // running across it.
                    let _ = gate.wait_for(|open| *open).await;
                    Ok(input)
                }
            }),
        )
        .unwrap();
    let mut batch = NewBatch::new(Source::cli()).label("Across a restart");
    for i in 0..JOBS {
        batch = batch.job(NewJob::new("test:item", json!(i)));
    }
    let b = queue.enqueue_batch(batch).await.unwrap();
    // A lease far longer than a restart: a run is never taken for lost meanwhile.
    let pool = queue
        .start_workers(WorkerConfig {
            lease: Duration::from_secs(60),
            ..workers(2)
        })
        .await
        .unwrap();
    within("the first items to start", started.recv())
        .await
        .unwrap();

    cluster.restart();
    gate.send(true).unwrap();

    let state = wait_for("the batch to finish after the restart", || async {
        // Reads fail while connections are re-established: asked again.
        let state = queue.status(&b.id).await.ok()?;
        state.event.status.is_finished().then_some(state)
    })
    .await;
    assert_eq!(
        state.event.status,
        JobStatus::Completed,
        "{:?}",
        state.event
    );
    let details = state.event.batch.unwrap();
    assert_eq!((details.completed, details.total), (JOBS, JOBS));
    let mut ran = runs.items();
    ran.sort_unstable();
    assert_eq!(ran, (0..JOBS).collect::<Vec<_>>(), "each item ran once");
    for id in &b.job_ids {
        let record = queue.job(id).await.unwrap().unwrap();
        assert_eq!(
            (record.status, record.attempt),
            (JobStatus::Completed, 1),
            "{record:?}"
        );
    }
    pool.shutdown(TIMEOUT).await;
}
