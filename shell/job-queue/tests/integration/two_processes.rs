//! Two worker processes on one database share a batch: every job runs exactly once, both
//! take part, and each can watch the whole batch's progress.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use brain_job_queue::{NewBatch, NewJob, Queue, WorkerConfig};
use brain_plugin_utils::{Bus, JobStatus, Source};
use serde_json::json;

use crate::support::*;

const ROLE: &str = "worker";
const LOG: &str = "BRAIN_QUEUE_LOG";
const BATCH_FILE: &str = "BRAIN_QUEUE_BATCH_FILE";
const JOBS: usize = 40;

/// Runs about 50 ms and appends "job_id pid start_ms end_ms" to the log at `log`.
fn logged(log: PathBuf) -> Func {
    func(move |_input, ctx| {
        let log = log.clone();
        async move {
            let start = now_ms();
            tokio::time::sleep(Duration::from_millis(50)).await;
            let line = format!(
                "{} {} {start} {}\n",
                ctx.job_id(),
                std::process::id(),
                now_ms()
            );
            // One write on an O_APPEND file: lines of two processes never interleave.
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)
                .and_then(|mut f| f.write_all(line.as_bytes()))
                .map_err(|e| brain_plugin_utils::JobError::permanent(e.to_string()))?;
            Ok(json!(null))
        }
    })
}

fn env_path(key: &str) -> PathBuf {
    std::env::var_os(key)
        .unwrap_or_else(|| panic!("{key} is set for child processes"))
        .into()
}

/// One of the two worker processes. Returns at once in a normal test run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_entry() {
    if !is_child(ROLE) {
        return;
    }
    let queue = Queue::open(child_db(), fast_config(), Bus::new()).unwrap();
    queue
        .register("test:logged", logged(env_path(LOG)))
        .unwrap();
    // A long lease: a stall in this process must not hand its jobs to the other one.
    let pool = queue
        .start_workers(WorkerConfig {
            lease: Duration::from_secs(5),
            ..workers(2)
        })
        .await
        .unwrap();
    let batch_file = env_path(BATCH_FILE);
    let batch_id = wait_for("the parent to enqueue the batch", || async {
        std::fs::read_to_string(&batch_file).ok()
    })
    .await;
    let mut watch = queue.watch(&batch_id).await.unwrap();
    let (mut events, mut completed) = (0, 0);
    while let Some(event) = within("the batch's next state", watch.next()).await {
        events += 1;
        completed = event.batch.map_or(0, |b| b.completed);
    }
    println!("WATCH events={events} completed={completed}");
    pool.shutdown(Duration::from_secs(5)).await;
}

/// The numbers of a child's "WATCH events=N completed=M" line.
fn watch_line(stdout: &str) -> Option<(u64, u64)> {
    // The test harness may have printed the test's name on the same line.
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("WATCH ").map(|(_, rest)| rest))?;
    let mut fields = line.split(' ');
    let events = fields.next()?.strip_prefix("events=")?.parse().ok()?;
    let completed = fields.next()?.strip_prefix("completed=")?.parse().ok()?;
    Some((events, completed))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_worker_processes_share_a_batch_and_run_each_job_once() {
    let t = TestQueue::with_config(fast_config());
    let log = t.dir.path().join("runs.log");
    let batch_file = t.dir.path().join("batch-id");
    t.queue
        .register("test:logged", logged(log.clone()))
        .unwrap();
    let env: [(&str, &Path); 2] = [(LOG, &log), (BATCH_FILE, &batch_file)];
    let children = [
        spawn_child("two_processes::child_entry", ROLE, &t.path(), &env),
        spawn_child("two_processes::child_entry", ROLE, &t.path(), &env),
    ];
    let pids: BTreeSet<u32> = children.iter().map(|c| c.id().unwrap()).collect();

    // Both pools are up before there is work, so both can take part.
    wait_for("both children to start their workers", || async {
        (t.queue.workers().unwrap().len() == 2).then_some(())
    })
    .await;
    let mut batch = NewBatch::new(Source::cli()).label("Sharing");
    for i in 0..JOBS {
        batch = batch.job(NewJob::new("test:logged", json!(i)));
    }
    let b = t.queue.enqueue_batch(batch).await.unwrap();
    let tmp = t.dir.path().join("batch-id.tmp");
    std::fs::write(&tmp, &b.id).unwrap();
    std::fs::rename(&tmp, &batch_file).unwrap();

    for child in children {
        let output = within("a child to exit", child.wait_with_output())
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "child failed: {}\n{stdout}\n{stderr}",
            output.status
        );
        let (events, completed) =
            watch_line(&stdout).unwrap_or_else(|| panic!("no WATCH line in:\n{stdout}"));
        assert!(events >= 2, "the child saw {events} states of the batch");
        assert_eq!(completed, JOBS as u64);
    }

    let state = t.queue.status(&b.id).await.unwrap();
    assert_eq!(state.event.status, JobStatus::Completed);
    let details = state.event.batch.unwrap();
    assert_eq!(
        (details.completed, details.total),
        (JOBS as u64, JOBS as u64)
    );

    let text = std::fs::read_to_string(&log).unwrap();
    let mut runs: BTreeMap<&str, usize> = BTreeMap::new();
    let mut seen_pids = BTreeSet::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        assert_eq!(fields.len(), 4, "malformed log line {line:?}");
        *runs.entry(fields[0]).or_default() += 1;
        seen_pids.insert(fields[1].parse::<u32>().unwrap());
        let (start, end): (i64, i64) = (fields[2].parse().unwrap(), fields[3].parse().unwrap());
        assert!(start <= end, "{line:?}");
    }
    for id in &b.job_ids {
        assert_eq!(
            runs.get(id.as_str()),
            Some(&1),
            "job {id} ran {:?} times",
            runs.get(id.as_str())
        );
    }
    assert_eq!(runs.len(), JOBS, "unknown jobs in the log: {runs:?}");
    assert_eq!(seen_pids, pids, "both processes ran jobs");
}
