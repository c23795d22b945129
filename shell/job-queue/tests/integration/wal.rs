//! The write-ahead log does not stay at its largest while the queue runs: a burst of
//! writes (held from being checkpointed by a reader) grows it far past the limit, and once
//! the reader lets go it is cut back to `WAL_SIZE_LIMIT` by the queue's own next writes.

use brain_job_queue::{NewJob, WAL_SIZE_LIMIT};
use serde_json::json;

use crate::support::{TIMEOUT, TestQueue};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_is_cut_back_after_a_burst_while_the_queue_runs() {
    let q = TestQueue::new().await;
    let wal = q.dir.path().join("queue.db-wal");
    let size = || std::fs::metadata(&wal).map_or(0, |m| m.len());

    // A reader's snapshot keeps every frame written after it in the log.
    let reader = rusqlite::Connection::open(q.db.file()).unwrap();
    reader.execute_batch("BEGIN").unwrap();
    let _: i64 = reader
        .query_row("SELECT count(*) FROM jobs", [], |r| r.get(0))
        .unwrap();
    let payload = "x".repeat(8 * 1024);
    let limit = u64::try_from(WAL_SIZE_LIMIT).unwrap();
    while size() <= 3 * limit {
        let jobs = (0..100)
            .map(|_| NewJob::new("test:echo", json!({ "pad": payload })))
            .collect();
        q.queue.enqueue_many(jobs).await.unwrap();
    }
    reader.execute_batch("COMMIT").unwrap();
    drop(reader);

    // Small writes go on; a checkpoint catches up, and the next write starts the log over,
    // cutting the file. Bounded, never paced: the test ends as soon as it is cut.
    let deadline = std::time::Instant::now() + TIMEOUT;
    while size() > limit {
        assert!(
            std::time::Instant::now() < deadline,
            "the log stayed at {} bytes (limit {limit})",
            size()
        );
        q.queue
            .enqueue(NewJob::new("test:echo", json!({})))
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
