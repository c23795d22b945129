//! Crash recovery: a worker process killed with SIGKILL mid-batch loses no job; another
//! pool on the same file retries exactly the jobs that were running.

use std::collections::BTreeSet;
use std::time::Duration;

use brain_job_queue::{NewBatch, NewJob, Queue, WorkerConfig};
use brain_plugin_api::{JobStatus, Source};
use serde_json::json;

use crate::support::*;

const ROLE: &str = "crash";
const JOBS: usize = 20;
/// Items the child completes; it hangs in every later one.
const DONE_BY_CHILD: usize = 4;

/// The child's handler: the first items return at once, every later one never returns
/// (ignoring cancellation), so when the child is killed exactly its two slots' worth of
/// items are running, whatever the speed of the machine. Jobs are claimed in order, so
/// those are the two items after the completed ones.
fn hangs_after_the_first_items() -> Func {
    func(|input, _ctx| async move {
        if input.as_u64().is_some_and(|i| i < DONE_BY_CHILD as u64) {
            return Ok(input);
        }
        std::future::pending().await
    })
}

/// The worker process the parent kills. Returns at once in a normal test run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_entry() {
    if !is_child(ROLE) {
        return;
    }
    let queue = child_db().open(fast_config()).await.unwrap();
    queue
        .register("test:item", hangs_after_the_first_items())
        .unwrap();
    // A long lease: however long this process stalls, its own sweep does not hand its
    // running jobs back to the queue before the kill; the parent's pool recovers them from
    // the dead process at once.
    let pool = queue
        .start_workers(WorkerConfig {
            lease: Duration::from_secs(120),
            ..workers(2)
        })
        .await
        .unwrap();
    println!("CHILD started pid={}", std::process::id());
    // The parent kills this process; should the parent die first, give up in a minute.
    tokio::time::sleep(Duration::from_secs(60)).await;
    pool.shutdown(Duration::from_secs(1)).await;
}

/// Whether the child has completed its items and holds two others (the state it can only
/// leave by being killed).
async fn child_stuck(queue: &Queue, ids: &[String]) -> bool {
    let (mut completed, mut running) = (0, 0);
    for id in ids {
        match queue.job(id).await.unwrap().unwrap().status {
            JobStatus::Completed => completed += 1,
            JobStatus::Processing => running += 1,
            _ => {}
        }
    }
    completed == DONE_BY_CHILD && running == 2
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_process_loses_no_job() {
    let t = TestQueue::with_config(fast_config()).await;
    t.queue
        .register("test:item", func(|input, _ctx| async move { Ok(input) }))
        .unwrap();
    let mut batch = NewBatch::new(Source::cli()).label("Surviving");
    for i in 0..JOBS {
        batch = batch.job(NewJob::new("test:item", json!(i)).label(format!("item-{i}")));
    }
    let b = t.queue.enqueue_batch(batch).await.unwrap();

    let mut child = spawn_child("crash::child_entry", ROLE, &t.path(), &[]);
    // Kill it once it has completed its items and hangs in two others: those are surely
    // still running when the signal lands.
    within("the child to complete 4 jobs and hang in 2", async {
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the child exited early with {status}");
            }
            if child_stuck(&t.queue, &b.job_ids).await {
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
    assert_eq!(done_by_child, DONE_BY_CHILD);
    // Claimed in order: the two items after the completed ones.
    let expected: BTreeSet<String> = b.job_ids[DONE_BY_CHILD..DONE_BY_CHILD + 2]
        .iter()
        .cloned()
        .collect();
    assert_eq!(running_at_kill, expected);

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
    // The two runs the dead process held were rescued, and the status says so.
    let entry = state.status_entry();
    assert_eq!(entry.rescued, 2, "{entry:?}");
    assert!(
        entry
            .describe(&b.id)
            .contains("2 runs rescued from a stopped worker"),
        "{}",
        entry.describe(&b.id)
    );
    let one = running_at_kill.first().unwrap();
    assert_eq!(t.queue.status(one).await.unwrap().status_entry().rescued, 1);
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
