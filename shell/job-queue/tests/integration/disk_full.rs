//! A full disk is waited out, never turned into failures: a job that says it is waiting
//! (`JobError::Waiting`) runs again without spending attempts, and on a real full disk (a
//! small tmpfs; root only) jobs whose effects cannot be written — or whose completions
//! cannot be recorded — wait, and all finish once space is freed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use brain_job_queue::{NewJob, Queue};
use brain_plugin_api::engine::Bus;
use brain_plugin_api::{JobError, JobStatus, SideEffect};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::support::{TIMEOUT, TestQueue, fast_config, func, wait_for, workers};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_waiting_for_space_spends_no_attempts() {
    let q = TestQueue::with_config(fast_config()).await;
    let full = Arc::new(AtomicBool::new(true));
    let runs = Arc::new(AtomicUsize::new(0));
    let (f, r) = (full.clone(), runs.clone());
    q.queue
        .register(
            "test:write",
            func(move |_input: Value, _ctx| {
                let (full, runs) = (f.clone(), r.clone());
                async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    if full.load(Ordering::SeqCst) {
                        Err(JobError::waiting(
                            "cannot write out.txt: No space left on device",
                        ))
                    } else {
                        Ok(json!("written"))
                    }
                }
            }),
        )
        .unwrap();
    let pool = q.queue.start_workers(workers(1)).await.unwrap();
    let id = q
        .queue
        .enqueue(NewJob::new("test:write", json!({})).max_attempts(2))
        .await
        .unwrap()
        .id;

    // Far more runs than its two attempts, and it is still waiting, not failed.
    wait_for("five runs", || async {
        (runs.load(Ordering::SeqCst) >= 5).then_some(())
    })
    .await;
    let record = q.queue.job(&id).await.unwrap().unwrap();
    assert!(
        matches!(record.status, JobStatus::Pending | JobStatus::Processing),
        "{record:?}"
    );
    assert!(record.attempt <= 1, "no attempt spent: {record:?}");
    assert!(
        record
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("No space left")),
        "{record:?}"
    );

    full.store(false, Ordering::SeqCst);
    wait_for("the job to complete", || async {
        let record = q.queue.job(&id).await.unwrap().unwrap();
        (record.status == JobStatus::Completed).then_some(())
    })
    .await;
    pool.shutdown(TIMEOUT).await;
}

/// A tmpfs of `size` mounted at `at` (root only), unmounted on drop.
struct Tmpfs {
    at: PathBuf,
}

impl Tmpfs {
    fn mount(at: PathBuf, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(&at).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&at)
            .status()
            .is_ok_and(|s| s.success());
        mounted.then_some(Tmpfs { at })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.at).status();
    }
}

/// Fills the file system holding `path` until a write fails for want of space.
fn fill(path: &Path) {
    let mut file = std::fs::File::create(path).unwrap();
    let block = vec![0u8; 64 * 1024];
    let mut size = block.len();
    loop {
        match file.write(&block[..size]) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if brain_plugin_api::engine::is_storage_full(&e) => {
                if size == 1 {
                    break;
                }
                size = (size / 2).max(1);
            }
            Err(e) => panic!("filling the disk: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_on_a_full_disk_wait_and_all_finish_once_space_is_freed() {
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = Tmpfs::mount(dir.path().join("disk"), "8m") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs as root: mounting a tmpfs must work there"
        );
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    };
    let queue = Queue::open(disk.at.join("queue.db"), fast_config(), Bus::new()).unwrap();
    let out = disk.at.join("out");
    // Every job stages a 32 KB file; the first two (one per worker) wait at a gate, so the
    // disk is full by the time any job finishes.
    let gate = Arc::new(Semaphore::new(0));
    let returned = Arc::new(AtomicUsize::new(0));
    let (g, r, o) = (gate.clone(), returned.clone(), out.clone());
    queue
        .register(
            "test:write",
            func(move |input: Value, ctx: brain_plugin_api::JobContext| {
                let (gate, returned, out) = (g.clone(), r.clone(), o.clone());
                async move {
                    gate.acquire().await.unwrap().forget();
                    let n = input["n"].as_u64().unwrap();
                    ctx.stage(SideEffect::WriteFile {
                        path: out.join(format!("{n}.txt")),
                        bytes: vec![b'x'; 32 * 1024],
                    });
                    returned.fetch_add(1, Ordering::SeqCst);
                    Ok(json!(n))
                }
            }),
        )
        .unwrap();
    let jobs = (0..10)
        .map(|n| NewJob::new("test:write", json!({ "n": n })).max_attempts(2))
        .collect();
    let ids = queue.enqueue_many(jobs).await.unwrap();
    let pool = queue.start_workers(workers(2)).await.unwrap();
    // Both workers hold a job at the gate before the disk fills: claiming needs a write.
    wait_for("two jobs to be claimed", || async {
        let mut claimed = 0;
        for id in &ids {
            let record = queue.job(id).await.unwrap().unwrap();
            claimed += usize::from(record.status == JobStatus::Processing);
        }
        (claimed >= 2).then_some(())
    })
    .await;

    let filler = disk.at.join("filler");
    fill(&filler);
    gate.add_permits(1000);
    wait_for("the first jobs to return", || async {
        (returned.load(Ordering::SeqCst) >= 2).then_some(())
    })
    .await;
    assert!(
        !out.join("0.txt").exists() && !out.join("1.txt").exists(),
        "nothing can be written while the disk is full"
    );

    std::fs::remove_file(&filler).unwrap();
    wait_for("every file", || async {
        (0..10)
            .all(|n| out.join(format!("{n}.txt")).exists())
            .then_some(())
    })
    .await;
    for id in &ids {
        let record = queue.job(id).await.unwrap().unwrap();
        assert_eq!(record.status, JobStatus::Completed, "{record:?}");
    }
    pool.shutdown(TIMEOUT).await;
    drop(queue);
}
