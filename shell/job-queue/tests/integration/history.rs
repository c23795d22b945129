//! What a dashboard reads: history pages newest first that follow each other without gaps
//! or repeats, filtered by state, type, source, time and text (in labels and errors, a
//! batch's failed items' too); bad values refused by name; the queue's counts and last
//! hour; an operation's whole record; and this process's counters.

use brain_job_queue::{NewBatch, NewJob};
use brain_plugin_api::{HistoryQuery, JobError, JobStatus, Source};
use serde_json::json;

use crate::support::*;

fn query() -> HistoryQuery {
    HistoryQuery {
        limit: 50,
        ..HistoryQuery::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_filters_search_counts_and_records() {
    let t = TestQueue::new().await;
    t.queue
        .register(
            "test:fail",
            func(|input, _| async move { Err(JobError::permanent(format!("boom: {input}"))) }),
        )
        .unwrap();
    let started = now_ms();
    let mut made = Vec::new();
    for i in 0..7 {
        let e = t
            .queue
            .enqueue(NewJob::new("test:echo", json!(i)).label(format!("alpha {i}")))
            .await
            .unwrap();
        made.push(e.id);
    }
    let batch = t
        .queue
        .enqueue_batch(
            NewBatch::new(Source::with_detail("mcp", "s1").unwrap())
                .label("batch of three")
                .job(NewJob::new("test:echo", json!("a")))
                .job(NewJob::new("test:fail", json!("needle_x")).label("the failing one"))
                .job(NewJob::new("test:echo", json!("c"))),
        )
        .await
        .unwrap();
    made.push(batch.id.clone());
    let failing = t
        .queue
        .enqueue(NewJob::new("test:fail", json!("100% wrong")).label("lone failure"))
        .await
        .unwrap();
    made.push(failing.id.clone());
    let pool = t.queue.start_workers(workers(2)).await.unwrap();
    finished(&t.queue, &failing.id).await;
    for id in &batch.job_ids {
        finished(&t.queue, id).await;
    }
    for id in &made[..7] {
        finished(&t.queue, id).await;
    }

    // Pages of 4: newest first, each page older than the one before, nothing twice.
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = t
            .queue
            .history(HistoryQuery {
                limit: 4,
                before: before.clone(),
                ..query()
            })
            .await
            .unwrap();
        seen.extend(page.ops.iter().map(|op| op.id.clone()));
        match page.next {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    // Ids begin with their creation time (to the millisecond; then random), and pages
    // follow that order.
    let time_part = |id: &String| id.split_once('_').map(|(_, t)| t.to_owned());
    let mut newest_first = made.clone();
    newest_first.sort_by_key(|id| std::cmp::Reverse(time_part(id)));
    assert_eq!(
        seen, newest_first,
        "a batch's items are listed as their batch"
    );

    let ids = |ops: &[brain_plugin_api::ListedJob]| -> Vec<String> {
        ops.iter().map(|op| op.id.clone()).collect()
    };
    let page = |q: HistoryQuery| {
        let queue = t.queue.clone();
        async move { queue.history(q).await.unwrap().ops }
    };
    // By state: the batch failed (one item did), and so did the lone job.
    let failed = page(HistoryQuery {
        status: Some(JobStatus::Failed),
        ..query()
    })
    .await;
    let mut expected = vec![failing.id.clone(), batch.id.clone()];
    expected.sort_by_key(|id| std::cmp::Reverse(time_part(id)));
    assert_eq!(ids(&failed), expected);
    // By type, by source kind.
    let fails = page(HistoryQuery {
        job_type: Some("test:fail".into()),
        ..query()
    })
    .await;
    assert_eq!(ids(&fails), vec![failing.id.clone()]);
    let from_mcp = page(HistoryQuery {
        source: Some("mcp".into()),
        ..query()
    })
    .await;
    assert_eq!(ids(&from_mcp), vec![batch.id.clone()]);
    // Text: in a label (any case), in an error, in a batch item's error; `%` is literal.
    for (text, expected) in [
        ("ALPHA 3", vec![made[3].clone()]),
        ("needle_x", vec![batch.id.clone()]),
        ("100%", vec![failing.id.clone()]),
        ("0%w", vec![]),
    ] {
        let found = page(HistoryQuery {
            search: Some(text.into()),
            ..query()
        })
        .await;
        assert_eq!(ids(&found), expected, "searching {text:?}");
    }
    // Time: nothing was made before the test started, everything after it.
    let before_start = page(HistoryQuery {
        until: Some(started - 1),
        ..query()
    })
    .await;
    assert!(before_start.is_empty(), "{before_start:?}");
    let since_start = page(HistoryQuery {
        since: Some(started - 1),
        ..query()
    })
    .await;
    assert_eq!(since_start.len(), made.len());

    // Bad values are refused by name.
    for (bad, field) in [
        (
            HistoryQuery {
                limit: 501,
                ..query()
            },
            "limit",
        ),
        (
            HistoryQuery {
                before: Some("not a cursor".into()),
                ..query()
            },
            "before",
        ),
        (
            HistoryQuery {
                source: Some("Web Site".into()),
                ..query()
            },
            "source",
        ),
        (
            HistoryQuery {
                since: Some(10),
                until: Some(5),
                ..query()
            },
            "until",
        ),
    ] {
        let error = t.queue.history(bad).await.unwrap_err().to_string();
        assert!(error.contains(field), "{error}");
    }

    // The counts: nothing unfinished, and this hour's endings by outcome.
    let stats = t.queue.stats().await.unwrap();
    assert!(stats.active.is_empty(), "{:?}", stats.active);
    assert_eq!(stats.minutes.len(), 60);
    let completed: u64 = stats.minutes.iter().map(|m| m.completed).sum();
    let failed: u64 = stats.minutes.iter().map(|m| m.failed).sum();
    assert_eq!((completed, failed), (9, 2));
    assert_eq!(stats.workers.len(), 1);
    assert_eq!(stats.workers[0].pid, std::process::id());

    // Each run kept the estimate it was given; the estimates list the latest runs.
    let estimates = t.queue.estimates().await.unwrap();
    let echo = estimates
        .iter()
        .find(|e| e.job_type == "test:echo")
        .unwrap();
    assert_eq!(echo.recent.len(), 9, "{echo:?}");
    assert!(
        echo.recent.iter().all(|r| r.estimated_ms.is_some()),
        "{echo:?}"
    );
    assert!(
        echo.recent
            .windows(2)
            .all(|w| w[0].finished_at <= w[1].finished_at),
        "oldest first: {echo:?}"
    );

    // A job's record, and a batch's items.
    let detail = t.queue.detail(&failing.id).await.unwrap();
    let job = detail.job.unwrap();
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(job.input, json!("100% wrong"));
    assert!(job.error.unwrap_or_default().contains("boom"));
    assert!(job.estimated_ms.is_some());
    assert!(detail.log.iter().any(|l| l.kind == "failed"));
    let detail = t.queue.detail(&batch.id).await.unwrap();
    let items = detail.items.unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(
        items
            .iter()
            .filter(|i| i.status == JobStatus::Failed)
            .count(),
        1
    );

    // This process's counters saw every job once.
    let metrics = t.queue.process_metrics();
    let echo = metrics
        .types
        .iter()
        .find(|m| m.job_type == "test:echo")
        .unwrap();
    assert_eq!((echo.enqueued, echo.completed, echo.failed), (9, 9, 0));
    assert_eq!(echo.run_seconds.count(), 9);
    assert_eq!(echo.wait_seconds.count(), 9);
    let fail = metrics
        .types
        .iter()
        .find(|m| m.job_type == "test:fail")
        .unwrap();
    assert_eq!((fail.enqueued, fail.failed), (2, 2));
    pool.shutdown(std::time::Duration::from_secs(5)).await;
}
