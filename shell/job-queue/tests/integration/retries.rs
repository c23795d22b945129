//! Failures: retryable ones back off and retry up to the job's attempts, permanent ones
//! fail at once, and a panicking handler fails only its own job.

use std::time::{Duration, Instant};

use brain_job_queue::NewJob;
use brain_plugin_api::{JobError, JobStatus};
use serde_json::json;

use crate::support::*;

/// The store's clock counts whole milliseconds, so a retry may start up to two
/// milliseconds (one rounding on each side) before its back-off has fully passed.
const CLOCK_SLACK: Duration = Duration::from_millis(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retryable_failures_back_off_then_succeed() {
    let config = fast_config();
    let base = config.retry_base;
    let t = TestQueue::with_config(config).await;
    let starts: Log<(u32, Instant)> = Log::default();
    let s = starts.clone();
    t.queue
        .register(
            "test:flaky",
            func(move |_input, ctx| {
                let s = s.clone();
                async move {
                    s.push((ctx.attempt(), Instant::now()));
                    if ctx.attempt() < 3 {
                        Err(JobError::retryable(format!(
                            "attempt {} timed out",
                            ctx.attempt()
                        )))
                    } else {
                        Ok(json!("third time lucky"))
                    }
                }
            }),
        )
        .unwrap();
    let pool = t.queue.start_workers(workers(2)).await.unwrap();
    let e = t
        .queue
        .enqueue(NewJob::new("test:flaky", json!(null)))
        .await
        .unwrap();
    let record = finished(&t.queue, &e.id).await;
    assert_eq!(record.status, JobStatus::Completed, "{record:?}");
    assert_eq!(record.attempt, 3);
    assert_eq!(record.result, Some(json!("third time lucky")));

    let starts = starts.items();
    assert_eq!(
        starts.iter().map(|(a, _)| *a).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    // Equal jitter: the delay after attempt n is at least half of base·2^(n-1).
    for (n, pair) in starts.windows(2).enumerate() {
        let gap = pair[1].1 - pair[0].1;
        let floor = base * (1 << n) / 2;
        assert!(
            gap + CLOCK_SLACK >= floor,
            "attempt {} started {gap:?} after attempt {}; the back-off is at least {floor:?}",
            n + 2,
            n + 1
        );
    }
    pool.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_failures_fail_at_once_and_retries_stop_at_max_attempts() {
    let t = TestQueue::with_config(fast_config()).await;
    let runs: Log<String> = Log::default();
    let r = runs.clone();
    t.queue
        .register(
            "test:fail",
            func(move |input, ctx| {
                let r = r.clone();
                async move {
                    r.push(ctx.job_id().to_owned());
                    let message = format!("attempt {}: the backend said no", ctx.attempt());
                    if input["permanent"] == json!(true) {
                        Err(JobError::permanent(message))
                    } else {
                        Err(JobError::retryable(message))
                    }
                }
            }),
        )
        .unwrap();
    let pool = t.queue.start_workers(workers(2)).await.unwrap();
    let permanent = t
        .queue
        .enqueue(NewJob::new("test:fail", json!({"permanent": true})).max_attempts(5))
        .await
        .unwrap();
    let retryable = t
        .queue
        .enqueue(NewJob::new("test:fail", json!({"permanent": false})).max_attempts(2))
        .await
        .unwrap();

    let record = finished(&t.queue, &permanent.id).await;
    assert_eq!(record.status, JobStatus::Failed);
    assert_eq!(record.attempt, 1);
    assert_eq!(record.max_attempts, 5);
    assert_eq!(
        record.last_error.as_deref(),
        Some("attempt 1: the backend said no")
    );
    assert!(record.finished_at.is_some());

    let record = finished(&t.queue, &retryable.id).await;
    assert_eq!(record.status, JobStatus::Failed);
    assert_eq!(record.attempt, 2);
    assert_eq!(
        record.last_error.as_deref(),
        Some("attempt 2: the backend said no")
    );

    let runs = runs.items();
    assert_eq!(
        runs.iter().filter(|id| **id == permanent.id).count(),
        1,
        "{runs:?}"
    );
    assert_eq!(
        runs.iter().filter(|id| **id == retryable.id).count(),
        2,
        "{runs:?}"
    );

    let entry = t.queue.status(&permanent.id).await.unwrap().status_entry();
    assert_eq!(entry.status, JobStatus::Failed);
    assert_eq!(entry.errors.len(), 1, "{:?}", entry.errors);
    assert_eq!(entry.errors[0].job_id, permanent.id);
    assert_eq!(entry.errors[0].error, "attempt 1: the backend said no");
    pool.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_fails_its_job_and_the_pool_keeps_running() {
    let t = TestQueue::with_config(fast_config()).await;
    let runs: Log<u32> = Log::default();
    let r = runs.clone();
    t.queue
        .register(
            "test:panic",
            func(move |_input, ctx| {
                let r = r.clone();
                async move {
                    r.push(ctx.attempt());
                    if ctx.attempt() < 100 {
                        panic!("the handler lost its mind on attempt {}", ctx.attempt());
                    }
                    Ok(json!(null))
                }
            }),
        )
        .unwrap();
    // One worker: if the panic lost the slot, nothing after it would run.
    let pool = t.queue.start_workers(workers(1)).await.unwrap();
    let bad = t
        .queue
        .enqueue(NewJob::new("test:panic", json!(null)).max_attempts(2))
        .await
        .unwrap();
    let record = finished(&t.queue, &bad.id).await;
    assert_eq!(record.status, JobStatus::Failed);
    // Retryable: it was tried again.
    assert_eq!(record.attempt, 2);
    assert_eq!(runs.items(), vec![1, 2]);
    let error = record.last_error.unwrap();
    assert!(error.contains("panicked"), "{error}");
    assert!(
        error.contains("the handler lost its mind on attempt 2"),
        "{error}"
    );

    let good = t
        .queue
        .enqueue(NewJob::new("test:echo", json!("still alive")))
        .await
        .unwrap();
    let record = finished(&t.queue, &good.id).await;
    assert_eq!(record.status, JobStatus::Completed);
    assert_eq!(record.result, Some(json!("still alive")));
    pool.shutdown(Duration::from_secs(5)).await;
}
