//! Worker presence that survives pauses: a worker whose row another process deleted (it
//! looked dead while paused) registers again at its next heartbeat, and a sweep never
//! deletes the row of a process alive on this host — only stale rows of dead processes or
//! of processes it cannot check.

use std::time::Duration;

use brain_job_queue::WorkerConfig;
use rusqlite::params;

use crate::support::*;

fn rows(path: &std::path::Path) -> Vec<(String, u32, String)> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT id, pid, host FROM workers ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_whose_row_was_deleted_registers_again() {
    let t = TestQueue::new().await;
    let pool = t
        .queue
        .start_workers(WorkerConfig {
            heartbeat: Some(Duration::from_millis(50)),
            ..workers(1)
        })
        .await
        .unwrap();
    let path = t.db.file().to_owned();
    let before = rows(&path);
    assert_eq!(before.len(), 1);
    // What another process does to a row whose heartbeat is three leases old.
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute("DELETE FROM workers", [])
        .unwrap();
    let again = wait_for("the worker to register again", || async {
        Some(rows(&path)).filter(|r| !r.is_empty())
    })
    .await;
    assert_eq!(again, before, "the same worker, pid and host");
    assert_eq!(t.queue.workers().await.unwrap().len(), 1);
    pool.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_keeps_the_rows_of_live_processes_however_stale() {
    let t = TestQueue::new().await;
    let path = t.db.file().to_owned();
    let pool = t.queue.start_workers(workers(1)).await.unwrap();
    let (_, pid, host) = rows(&path).remove(0);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let stale = |id: &str, pid: u32, host: &str| {
        conn.execute(
            "INSERT INTO workers (id, pid, host, started_at, heartbeat_at, lease_ms, concurrency, job_types) \
             VALUES (?1, ?2, ?3, 0, 0, 1000, 1, 'test:echo')",
            params![id, pid, host],
        )
        .unwrap();
    };
    // Paused: this very process (alive), silent for decades.
    stale("worker_paused", pid, &host);
    // Gone: a pid that does not exist on this host.
    stale("worker_gone", u32::MAX - 1, &host);
    // Elsewhere (another machine, boot or pid namespace): only its silence tells.
    stale("worker_elsewhere", pid, "another-host boot=x pidns=1");
    // A second handle's pool sweeps at its start.
    let other = open(&t.path(), fast_config()).await;
    let other_pool = other.start_workers(workers(1)).await.unwrap();
    let ids: Vec<String> = rows(&path).into_iter().map(|(id, _, _)| id).collect();
    assert!(ids.contains(&"worker_paused".to_owned()), "{ids:?}");
    assert!(!ids.contains(&"worker_gone".to_owned()), "{ids:?}");
    assert!(!ids.contains(&"worker_elsewhere".to_owned()), "{ids:?}");
    other_pool.shutdown(Duration::from_secs(5)).await;
    pool.shutdown(Duration::from_secs(5)).await;
}

#[test]
fn the_host_identity_names_the_boot_and_the_pid_namespace() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let t = runtime.block_on(async { TestQueue::new().await });
    let pool = runtime.block_on(t.queue.start_workers(workers(1))).unwrap();
    let (_, _, host) = rows(t.db.file()).remove(0);
    assert!(
        host.contains(" boot=") && host.contains(" pidns="),
        "{host}"
    );
    if std::path::Path::new("/proc/self/ns/pid").exists() {
        assert!(!host.ends_with("pidns=?"), "{host}");
    }
    runtime.block_on(pool.shutdown(Duration::from_secs(5)));
}
