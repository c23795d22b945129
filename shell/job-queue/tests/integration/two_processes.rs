//! Two worker processes on one database share a batch: every job runs exactly once, both
//! take part, and each can watch the whole batch's progress.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use brain_job_queue::{NewBatch, NewJob, WorkerConfig};
use brain_plugin_api::{JobStatus, Source};
use serde_json::json;

use crate::support::*;

const ROLE: &str = "worker";
const LOG: &str = "BRAIN_QUEUE_LOG";
const BATCH_FILE: &str = "BRAIN_QUEUE_BATCH_FILE";
/// Created by the parent once both children watch and both hold jobs; until then no job
/// can finish.
const GO_FILE: &str = "BRAIN_QUEUE_GO_FILE";
/// A folder where each child creates `watching-<pid>` once its watch has read the batch.
const MARKS: &str = "BRAIN_QUEUE_MARKS";
const JOBS: usize = 40;

/// Waits for the go file (polled every 10 ms, for at most two minutes: far longer than
/// the parent's own bounded waits), then appends "job_id pid start_ms end_ms" to the log at
/// `log`.
fn logged(log: PathBuf, go: PathBuf) -> Func {
    func(move |_input, ctx| {
        let (log, go) = (log.clone(), go.clone());
        async move {
            let start = now_ms();
            let gave_up = tokio::time::Instant::now() + Duration::from_secs(120);
            while !go.exists() {
                if tokio::time::Instant::now() > gave_up {
                    return Err(brain_plugin_api::JobError::permanent(
                        "the parent never created the go file",
                    ));
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
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
                .map_err(|e| brain_plugin_api::JobError::permanent(e.to_string()))?;
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
    let queue = child_db().open(fast_config()).await.unwrap();
    queue
        .register("test:logged", logged(env_path(LOG), env_path(GO_FILE)))
        .unwrap();
    // A long lease: however long this process stalls, its jobs are not handed to the
    // other one (which would run them twice). Frequent heartbeats still claim promptly
    // should a wake datagram be lost.
    let pool = queue
        .start_workers(WorkerConfig {
            lease: Duration::from_secs(120),
            heartbeat: Some(Duration::from_millis(200)),
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
    // The watch has read the batch's first state: the parent may let jobs finish.
    let mark = env_path(MARKS).join(format!("watching-{}", std::process::id()));
    std::fs::write(&mark, b"").unwrap();
    let (mut events, mut first, mut completed) = (0, None, 0);
    while let Some(event) = within("the batch's next state", watch.next()).await {
        events += 1;
        completed = event.batch.map_or(0, |b| b.completed);
        first.get_or_insert(completed);
    }
    let first = first.map_or(-1, |c| c as i64);
    println!("WATCH events={events} first={first} completed={completed}");
    pool.shutdown(Duration::from_secs(5)).await;
}

/// The numbers of a child's "WATCH events=N first=F completed=M" line.
fn watch_line(stdout: &str) -> Option<(u64, i64, u64)> {
    // The test harness may have printed the test's name on the same line.
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("WATCH ").map(|(_, rest)| rest))?;
    let mut fields = line.split(' ');
    let events = fields.next()?.strip_prefix("events=")?.parse().ok()?;
    let first = fields.next()?.strip_prefix("first=")?.parse().ok()?;
    let completed = fields.next()?.strip_prefix("completed=")?.parse().ok()?;
    Some((events, first, completed))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_worker_processes_share_a_batch_and_run_each_job_once() {
    let t = TestQueue::with_config(fast_config()).await;
    let log = t.dir.path().join("runs.log");
    let batch_file = t.dir.path().join("batch-id");
    let go = t.dir.path().join("go");
    let marks = t.dir.path().join("marks");
    std::fs::create_dir(&marks).unwrap();
    t.queue
        .register("test:logged", logged(log.clone(), go.clone()))
        .unwrap();
    let env: [(&str, &Path); 4] = [
        (LOG, &log),
        (BATCH_FILE, &batch_file),
        (GO_FILE, &go),
        (MARKS, &marks),
    ];
    let children = [
        spawn_child("two_processes::child_entry", ROLE, &t.path(), &env),
        spawn_child("two_processes::child_entry", ROLE, &t.path(), &env),
    ];
    let pids: BTreeSet<u32> = children.iter().map(|c| c.id().unwrap()).collect();

    // Both pools are up before there is work, so both can take part.
    wait_for("both children to start their workers", || async {
        (t.queue.workers().await.unwrap().len() == 2).then_some(())
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

    // No job can finish before the go file exists. Create it only once both children have
    // read the batch's first state (so each watch sees it change) and each holds jobs (so
    // both run some, whatever the speed of either).
    wait_for("both children to watch the batch", || async {
        let marked = pids
            .iter()
            .filter(|pid| marks.join(format!("watching-{pid}")).exists())
            .count();
        (marked == 2).then_some(())
    })
    .await;
    let workers: BTreeSet<String> = t
        .queue
        .workers()
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.id)
        .collect();
    assert_eq!(workers.len(), 2);
    wait_for("both children to hold jobs", || async {
        let mut holding = BTreeSet::new();
        for id in &b.job_ids {
            let record = t.queue.job(id).await.unwrap().unwrap();
            assert_ne!(record.status, JobStatus::Completed, "{record:?} before go");
            if record.status == JobStatus::Processing {
                holding.extend(record.worker_id);
            }
        }
        (holding == workers).then_some(())
    })
    .await;
    std::fs::write(&go, b"").unwrap();

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
        let (events, first, completed) =
            watch_line(&stdout).unwrap_or_else(|| panic!("no WATCH line in:\n{stdout}"));
        // It watched from before the first completion to the end.
        assert_eq!(first, 0, "{stdout}");
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
