//! Two handles on one file writing at once: each waits for the other's write lock
//! instead of failing with "database is locked".

use std::collections::HashSet;

use brain_job_queue::{ListFilter, NewJob, Queue};
use serde_json::json;
use tokio::task::JoinSet;

use crate::support::*;

const PER_HANDLE: usize = 2_000;
const CHUNK: usize = 100;

fn enqueue_all(queue: &Queue, tag: &'static str, tasks: &mut JoinSet<Vec<String>>) {
    for chunk in 0..PER_HANDLE / CHUNK {
        let queue = queue.clone();
        tasks.spawn(async move {
            let jobs = (0..CHUNK)
                .map(|i| NewJob::new("test:echo", json!({"from": tag, "n": chunk * CHUNK + i})))
                .collect();
            match queue.enqueue_many(jobs).await {
                Ok(ids) => ids,
                Err(error) => panic!("enqueue through handle {tag} failed: {error}"),
            }
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_handles_enqueue_thousands_at_once_without_lock_errors() {
    let t = TestQueue::with_config(fast_config()).await;
    let other = open(&t.path(), fast_config()).await;
    let mut tasks = JoinSet::new();
    enqueue_all(&t.queue, "a", &mut tasks);
    enqueue_all(&other, "b", &mut tasks);
    let mut ids = HashSet::new();
    let results = within("all enqueues", tasks.join_all()).await;
    for chunk in results {
        assert_eq!(chunk.len(), CHUNK);
        ids.extend(chunk);
    }
    assert_eq!(ids.len(), 2 * PER_HANDLE, "ids are unique");

    for queue in [&t.queue, &other] {
        let stored = queue
            .list(ListFilter {
                active: true,
                include_batch_items: true,
                limit: 3 * PER_HANDLE,
                ..ListFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(stored.len(), 2 * PER_HANDLE);
        assert!(stored.iter().all(|s| ids.contains(&s.event.id)));
    }
}
