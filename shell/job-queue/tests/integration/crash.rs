//! Crash recovery: a worker process killed with SIGKILL mid-batch loses no job; another
//! pool on the same file retries exactly the jobs that were running.

use std::collections::BTreeSet;
use std::time::Duration;

use brain_job_queue::{NewBatch, NewJob, Queue};
use brain_plugin_utils::{Bus, JobStatus, Source};
use serde_json::json;

use crate::support::*;

const ROLE: &str = "crash";
const JOBS: usize = 20;

/// Takes about 150 ms per job.
fn slow() -> Func {
    func(|input, _ctx| async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        Ok(input)
    })
}

/// The worker process the parent kills. Returns at once in a normal test run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_entry() {
    if !is_child(ROLE) {
        return;
    }
    let queue = Queue::open(child_db(), fast_config(), Bus::new()).unwrap();
    queue.register("test:slow", slow()).unwrap();
    let pool = queue.start_workers(workers(2)).await.unwrap();
    println!("CHILD started pid={}", std::process::id());
    // The parent kills this process; should the parent die first, give up in a minute.
    tokio::time::sleep(Duration::from_secs(60)).await;
    pool.shutdown(Duration::from_secs(1)).await;
}

/// Whether the batch has at least 4 completed jobs and one that started under 75 ms ago.
async fn fresh_job_running(queue: &Queue, batch: &str, ids: &[String]) -> bool {
    let state = queue.status(batch).await.unwrap();
    if state.event.batch.unwrap().completed < 4 {
        return false;
    }
    let now = now_ms();
    for id in ids {
        let record = queue.job(id).await.unwrap().unwrap();
        if record.status == JobStatus::Processing && record.started_at.is_some_and(|s| now - s < 75)
        {
            return true;
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_process_loses_no_job() {
    let t = TestQueue::with_config(fast_config());
    t.queue.register("test:slow", slow()).unwrap();
    let mut batch = NewBatch::new(Source::cli()).label("Surviving");
    for i in 0..JOBS {
        batch = batch.job(NewJob::new("test:slow", json!(i)).label(format!("item-{i}")));
    }
    let b = t.queue.enqueue_batch(batch).await.unwrap();

    let mut child = spawn_child("crash::child_entry", ROLE, &t.path(), &[]);
    // Kill it once a few jobs are done and one has just started (so that one is surely
    // still running when the signal lands).
    within("the child to complete 4 jobs and start another", async {
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the child exited early with {status}");
            }
            if fresh_job_running(&t.queue, &b.id, &b.job_ids).await {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    child.kill().await.unwrap();

    // What the dead process left behind.
    let mut running_at_kill = BTreeSet::new();
    let mut done_by_child = 0;
    for id in &b.job_ids {
        let record = t.queue.job(id).await.unwrap().unwrap();
        match record.status {
            JobStatus::Processing => {
                assert!(record.worker_id.is_some(), "{record:?}");
                assert_eq!(record.attempt, 1);
                running_at_kill.insert(id.clone());
            }
            JobStatus::Completed => done_by_child += 1,
            JobStatus::Pending => assert_eq!(record.attempt, 0),
            other => panic!("job {id} is {other} after the kill"),
        }
    }
    assert!(done_by_child >= 4, "{done_by_child}");
    assert!(
        !running_at_kill.is_empty(),
        "no job was running at the kill"
    );
    assert!(running_at_kill.len() <= 2, "{running_at_kill:?}");

    let pool = t.queue.start_workers(workers(2)).await.unwrap();
    let state = wait_for("the batch to finish", || async {
        let state = t.queue.status(&b.id).await.unwrap();
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
    assert_eq!(
        (details.completed, details.total),
        (JOBS as u64, JOBS as u64)
    );
    assert_eq!((details.failed, details.cancelled), (0, 0));

    for (i, id) in b.job_ids.iter().enumerate() {
        let record = t.queue.job(id).await.unwrap().unwrap();
        assert_eq!(record.status, JobStatus::Completed, "{record:?}");
        assert_eq!(record.result, Some(json!(i)));
        let expected = if running_at_kill.contains(id) { 2 } else { 1 };
        assert_eq!(record.attempt, expected, "{record:?}");
    }
    pool.shutdown(Duration::from_secs(5)).await;
}
