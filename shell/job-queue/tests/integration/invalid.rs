//! Refusals of bad values: malformed job input, unknown job types, invalid arguments.
//! Nothing already stored is touched.

use std::time::Duration;

use async_trait::async_trait;
use brain_job_queue::{ListFilter, NewJob, QueueError};
use brain_plugin_api::{JobContext, JobError, JobHandler, JobStatus};
use serde::Deserialize;
use serde_json::json;

use crate::support::*;

#[derive(Deserialize)]
struct Page {
    path: String,
    words: u32,
}

struct Render(Log<String>);

#[async_trait]
impl JobHandler for Render {
    type Input = Page;
    type Output = String;
    async fn run(&self, input: Page, _ctx: JobContext) -> Result<String, JobError> {
        self.0.push(input.path.clone());
        Ok(format!("{} ({} words)", input.path, input.words))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_input_fails_at_once_without_retry() {
    let t = TestQueue::with_config(fast_config()).await;
    let ran = Log::default();
    t.queue
        .register("test:render", Render(ran.clone()))
        .unwrap();
    let pool = t.queue.start_workers(workers(2)).await.unwrap();
    let bad = t
        .queue
        .enqueue(NewJob::new("test:render", json!({"path": 42})))
        .await
        .unwrap();
    let good = t
        .queue
        .enqueue(NewJob::new(
            "test:render",
            json!({"path": "/about", "words": 3}),
        ))
        .await
        .unwrap();
    let record = finished(&t.queue, &bad.id).await;
    assert_eq!(record.status, JobStatus::Failed);
    assert_eq!(record.attempt, 1, "invalid input is never retried");
    assert_eq!(record.max_attempts, 3);
    let error = record.last_error.unwrap();
    assert!(error.contains("invalid job input"), "{error}");
    let record = finished(&t.queue, &good.id).await;
    assert_eq!(record.result, Some(json!("/about (3 words)")));
    assert_eq!(
        ran.items(),
        vec!["/about"],
        "the handler never saw the bad input"
    );
    pool.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_refuses_unknown_types_and_invalid_arguments() {
    let t = TestQueue::new().await;
    let err = t
        .queue
        .enqueue(NewJob::new("test:missing", json!(null)))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, QueueError::UnknownJobType { job_type, .. } if job_type == "test:missing"),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("test:missing"), "{message}");
    assert!(
        message.contains("test:echo"),
        "names what is registered: {message}"
    );

    let err = t
        .queue
        .enqueue(NewJob::new("test:echo", json!(null)).max_attempts(0))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            QueueError::InvalidArgument {
                field: "max_attempts",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("max_attempts"), "{err}");

    let err = t
        .queue
        .enqueue(NewJob::new("Not A Type", json!(null)))
        .await
        .unwrap_err();
    assert!(matches!(err, QueueError::InvalidJobType { .. }), "{err:?}");
    assert!(err.to_string().contains("Not A Type"), "{err}");

    // Nothing was stored by the refused calls.
    let stored = t
        .queue
        .list(ListFilter {
            include_batch_items: true,
            ..ListFilter::default()
        })
        .await
        .unwrap();
    assert!(stored.is_empty(), "{stored:?}");
}
