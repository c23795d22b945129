//! The plugin's words for the end of an operation are stored with it: another process
//! (here, a second queue on the same file) words a finished job or batch the same way, and
//! a wording without words is refused, naming the field.

use brain_job_queue::{NewBatch, NewJob, QueueConfig};
use brain_plugin_api::{Source, Wording};
use serde_json::json;

use crate::support::{TIMEOUT, TestQueue, wait_for, workers};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_process_words_a_finished_operation_as_its_plugin_declared() {
    let q = TestQueue::new().await;
    let batch = NewBatch::new(Source::cli())
        .label("Counting")
        .wording(Wording::batch("Counted", "number", "numbers"))
        .job(NewJob::new("test:echo", json!(1)))
        .job(NewJob::new("test:echo", json!(2)));
    let batch = q.queue.enqueue_batch(batch).await.unwrap().id;
    let job = q
        .queue
        .enqueue(NewJob::new("test:echo", json!(3)).wording(Wording::job("Echoed three")))
        .await
        .unwrap()
        .id;
    let plain = q
        .queue
        .enqueue(NewJob::new("test:echo", json!(4)).label("echo four"))
        .await
        .unwrap()
        .id;
    let pool = q.queue.start_workers(workers(2)).await.unwrap();
    for id in [&batch, &job, &plain] {
        wait_for("the work to finish", || async {
            q.queue
                .status(id)
                .await
                .unwrap()
                .event
                .status
                .is_finished()
                .then_some(())
        })
        .await;
    }
    pool.shutdown(TIMEOUT).await;

    let other = q.path().open(QueueConfig::default()).await.unwrap();
    let said = |id: &str| {
        let other = other.clone();
        let id = id.to_owned();
        async move {
            let state = other.status(&id).await.unwrap();
            state.event.outcome("1s").unwrap().text
        }
    };
    assert_eq!(said(&batch).await, "Counted 2 numbers in 1s");
    assert_eq!(said(&job).await, "Echoed three in 1s");
    // Without a wording: plain words, never a guess from the label.
    assert_eq!(said(&plain).await, "Done: echo four in 1s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wording_without_words_is_refused_naming_the_field() {
    let q = TestQueue::new().await;
    let error = q
        .queue
        .enqueue(NewJob::new("test:echo", json!(0)).wording(Wording::job("  ")))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("wording.done"), "{error}");
    let batch = NewBatch::new(Source::cli())
        .wording(Wording::batch("Did", "", "things"))
        .job(NewJob::new("test:echo", json!(1)));
    let error = q.queue.enqueue_batch(batch).await.unwrap_err();
    assert!(error.to_string().contains("wording.items"), "{error}");
    assert!(q.queue.list(Default::default()).await.unwrap().is_empty());
}
