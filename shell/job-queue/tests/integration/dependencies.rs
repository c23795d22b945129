//! Dependencies between operations (`after`): a job waits for jobs and batches to end, is
//! cancelled with the reason when one did not complete (unless it runs after failures),
//! refuses ids that do not exist, survives a restart, and is woken in another process the
//! moment its last dependency ends. Scoped pools run only the work they were given.

use std::time::Duration;

use brain_job_queue::{ListFilter, NewBatch, NewJob, QueueError, WorkerConfig};
use brain_plugin_api::{AfterFailure, JobError, JobStatus, Source};
use serde_json::json;
use tokio::sync::watch;

use crate::support::*;

/// A handler that holds every job until the gate opens.
fn gated(gate: watch::Receiver<bool>) -> Func {
    func(move |input, _ctx| {
        let mut gate = gate.clone();
        async move {
            let _ = gate.wait_for(|open| *open).await;
            Ok(input)
        }
    })
}

fn failing() -> Func {
    func(|_input, _ctx| async { Err(JobError::permanent("the disk is full")) })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_waits_for_a_batch_and_starts_after_it_ends() {
    let t = TestQueue::new().await;
    let (open, gate) = watch::channel(false);
    t.queue.register("test:gated", gated(gate)).unwrap();
    let batch = (0..3).fold(NewBatch::new(Source::cli()).label("Generating"), |b, i| {
        b.job(NewJob::new("test:gated", json!(i)))
    });
    let batch = t.queue.enqueue_batch(batch).await.unwrap();
    let build = t
        .queue
        .enqueue(NewJob::new("test:echo", json!("build")).after(batch.id.clone()))
        .await
        .unwrap();
    // Four free slots and four due jobs: one claim would take the build too if it could.
    let pool = t.queue.start_workers(workers(4)).await.unwrap();
    wait_for("the batch's jobs to run", || async {
        let s = t.queue.status(&batch.id).await.unwrap();
        (s.event.status == JobStatus::Processing
            && t.queue
                .job(&batch.job_ids[2])
                .await
                .unwrap()
                .unwrap()
                .status
                == JobStatus::Processing)
            .then_some(())
    })
    .await;
    let ahead = t.queue.status(&batch.id).await.unwrap();
    let waiting = t.queue.status(&build.id).await.unwrap();
    assert_eq!(waiting.event.status, JobStatus::Pending);
    // Its estimate starts where the batch's ends (a few seconds of its own on top).
    assert!(
        waiting.event.timing.estimated_completion_ms.unwrap()
            > ahead.event.timing.estimated_completion_ms.unwrap(),
        "{:?} vs {:?}",
        waiting.event.timing,
        ahead.event.timing
    );
    assert_eq!(waiting.waiting_for.len(), 1, "{:?}", waiting.waiting_for);
    assert_eq!(waiting.waiting_for[0].id, batch.id);
    let line = waiting.status_entry().describe(&build.id);
    assert!(
        line.contains(&format!("waiting for {} (Generating, 0/3)", batch.id)),
        "{line}"
    );
    let json = serde_json::to_value(waiting.status_entry()).unwrap();
    assert_eq!(json["waitingFor"][0]["id"], batch.id.as_str(), "{json}");
    assert_eq!(
        t.queue.waits_for(&build.id).await.unwrap(),
        vec![batch.id.clone()]
    );

    open.send_replace(true);
    let built = finished(&t.queue, &build.id).await;
    assert_eq!(built.status, JobStatus::Completed);
    for id in &batch.job_ids {
        let item = t.queue.job(id).await.unwrap().unwrap();
        assert!(
            item.finished_at.unwrap() <= built.started_at.unwrap(),
            "the build started before {id} ended"
        );
    }
    assert!(
        t.queue
            .status(&build.id)
            .await
            .unwrap()
            .waiting_for
            .is_empty()
    );
    pool.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_dependency_cancels_what_waits_for_it_with_the_reason() {
    let t = TestQueue::new().await;
    let (open, gate) = watch::channel(false);
    t.queue
        .register("test:gated-fail", {
            func(move |_input, _ctx| {
                let mut gate = gate.clone();
                async move {
                    let _ = gate.wait_for(|open| *open).await;
                    Err::<serde_json::Value, _>(JobError::permanent("the disk is full"))
                }
            })
        })
        .unwrap();
    let first = t
        .queue
        .enqueue(NewJob::new("test:gated-fail", json!(null)).max_attempts(1))
        .await
        .unwrap();
    let second = t
        .queue
        .enqueue(NewJob::new("test:echo", json!(2)).after(first.id.clone()))
        .await
        .unwrap();
    // It waits for `second`, which will never run: cancelled in turn.
    let third = t
        .queue
        .enqueue_batch(
            NewBatch::new(Source::cli())
                .after(second.id.clone())
                .job(NewJob::new("test:echo", json!(3)))
                .job(NewJob::new("test:echo", json!(4))),
        )
        .await
        .unwrap();
    let anyway = t
        .queue
        .enqueue(
            NewJob::new("test:echo", json!("cleanup"))
                .after(first.id.clone())
                .after_failure(AfterFailure::Run),
        )
        .await
        .unwrap();
    let pool = t.queue.start_workers(workers(2)).await.unwrap();
    open.send_replace(true);
    assert_eq!(
        finished(&t.queue, &first.id).await.status,
        JobStatus::Failed
    );
    let second = finished(&t.queue, &second.id).await;
    assert_eq!(second.status, JobStatus::Cancelled);
    assert_eq!(second.attempt, 0, "it never ran");
    let reason = second.last_error.unwrap();
    assert!(
        reason.contains(&first.id) && reason.contains("did not complete"),
        "{reason}"
    );
    let batch = wait_for("the dependent batch to end", || async {
        Some(t.queue.status(&third.id).await.unwrap()).filter(|s| s.event.status.is_finished())
    })
    .await;
    assert_eq!(batch.event.status, JobStatus::Cancelled);
    let item = t.queue.job(&third.job_ids[0]).await.unwrap().unwrap();
    assert!(item.last_error.unwrap().contains(&second.id));
    assert_eq!(
        finished(&t.queue, &anyway.id).await.status,
        JobStatus::Completed
    );

    // Naming work that already failed: cancelled at once; that already completed: runs.
    let late = t
        .queue
        .enqueue(NewJob::new("test:echo", json!(5)).after(first.id.clone()))
        .await
        .unwrap();
    let late = t.queue.job(&late.id).await.unwrap().unwrap();
    assert_eq!(late.status, JobStatus::Cancelled);
    let fine = t
        .queue
        .enqueue(NewJob::new("test:echo", json!(6)).after(anyway.id.clone()))
        .await
        .unwrap();
    assert_eq!(
        finished(&t.queue, &fine.id).await.status,
        JobStatus::Completed
    );
    pool.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_or_malformed_dependencies_are_refused_and_nothing_is_stored() {
    let t = TestQueue::new().await;
    let kept = t
        .queue
        .enqueue(NewJob::new("test:echo", json!(1)))
        .await
        .unwrap();
    // Ids are made by the queue, so a job can only name work that exists before it: a
    // dependency cycle cannot be written, and an id that does not exist is refused.
    let err = t
        .queue
        .enqueue(NewJob::new("test:echo", json!(2)).after("job_doesnotexist"))
        .await
        .unwrap_err();
    assert!(matches!(err, QueueError::UnknownDependency { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("after") && text.contains("job_doesnotexist"),
        "{text}"
    );

    let err = t
        .queue
        .enqueue_batch(
            NewBatch::new(Source::cli())
                .after(kept.id.clone())
                .after("batch_nothere")
                .job(NewJob::new("test:echo", json!(3))),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("batch_nothere"), "{err}");

    let err = t
        .queue
        .enqueue(NewJob::new("test:echo", json!(4)).after("landing:hero"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, QueueError::InvalidArgument { field: "after", .. }),
        "{err}"
    );
    assert!(err.to_string().contains("\"landing:hero\""), "{err}");

    // An item of a batch is not an operation of its own: the batch is what is waited for.
    let batch = t
        .queue
        .enqueue_batch(NewBatch::new(Source::cli()).job(NewJob::new("test:echo", json!(6))))
        .await
        .unwrap();
    let err = t
        .queue
        .enqueue(NewJob::new("test:echo", json!(7)).after(batch.job_ids[0].clone()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, QueueError::InvalidArgument { field: "after", .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains(&format!("name {}", batch.id)),
        "{err}"
    );

    let many = (0..101).fold(NewJob::new("test:echo", json!(5)), |j, i| {
        j.after(format!("job_{i}"))
    });
    let err = t.queue.enqueue(many).await.unwrap_err();
    assert!(err.to_string().contains("at most 100"), "{err}");

    let stored = t
        .queue
        .list(ListFilter {
            include_batch_items: true,
            ..ListFilter::default()
        })
        .await
        .unwrap();
    let mut ids: Vec<&str> = stored.iter().map(|s| s.event.id.as_str()).collect();
    ids.sort_unstable();
    // (Listed with batch items, the batch shows as its item.)
    let mut expected = vec![kept.id.as_str(), batch.job_ids[0].as_str()];
    expected.sort_unstable();
    assert_eq!(ids, expected, "nothing refused is stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dependencies_survive_a_restart() {
    let t = TestQueue::new().await;
    let order = Log::default();
    // No workers before the restart: the first process only enqueues.
    t.queue.register("test:ordered", Echo).unwrap();
    let first = t
        .queue
        .enqueue(NewJob::new("test:ordered", json!("first")))
        .await
        .unwrap();
    let second = t
        .queue
        .enqueue(NewJob::new("test:ordered", json!("second")).after(first.id.clone()))
        .await
        .unwrap();
    let path = t.path();
    drop(t.queue);
    let queue = open(&path, fast_config()).await;
    let log = order.clone();
    queue
        .register(
            "test:ordered",
            func(move |input, _ctx| {
                let log = log.clone();
                async move {
                    log.push(input.to_string());
                    Ok(input)
                }
            }),
        )
        .unwrap();
    let state = queue.status(&second.id).await.unwrap();
    assert_eq!(state.waiting_for.len(), 1, "still waits after the restart");
    let pool = queue.start_workers(workers(4)).await.unwrap();
    finished(&queue, &second.id).await;
    assert_eq!(order.items(), vec!["\"first\"", "\"second\""]);
    pool.shutdown(Duration::from_secs(5)).await;
}

/// Two handles on one file, as two processes: the dependency runs in one, the dependent
/// in the other, whose pool only checks by itself once a minute — the wake-up when the
/// last dependency ends is what starts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_of_another_process_is_woken_when_the_last_dependency_ends() {
    let t = TestQueue::new().await;
    let (open_gate, gate) = watch::channel(false);
    t.queue.register("test:gated", gated(gate)).unwrap();
    let other = open(&t.path(), fast_config()).await;
    other.register("test:gated", Echo).unwrap();
    let slow = WorkerConfig {
        concurrency: 2,
        lease: Duration::from_secs(180),
        heartbeat: Some(Duration::from_secs(60)),
        ..WorkerConfig::default()
    };
    let here = t
        .queue
        .start_workers(WorkerConfig {
            job_types: Some(vec!["test:gated".into()]),
            ..slow.clone()
        })
        .await
        .unwrap();
    let there = other
        .start_workers(WorkerConfig {
            job_types: Some(vec!["test:echo".into()]),
            ..slow
        })
        .await
        .unwrap();
    let first = t
        .queue
        .enqueue(NewJob::new("test:gated", json!(1)))
        .await
        .unwrap();
    let second = other
        .enqueue(NewJob::new("test:echo", json!(2)).after(first.id.clone()))
        .await
        .unwrap();
    wait_for("the first job to start", || async {
        (t.queue.job(&first.id).await.unwrap().unwrap().status == JobStatus::Processing)
            .then_some(())
    })
    .await;
    open_gate.send_replace(true);
    let done = finished(&other, &second.id).await;
    assert_eq!(done.status, JobStatus::Completed);
    here.shutdown(Duration::from_secs(5)).await;
    there.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scoped_pool_runs_only_the_work_it_was_given() {
    let t = TestQueue::new().await;
    let leftover = t
        .queue
        .enqueue(NewJob::new("test:echo", json!("old")))
        .await
        .unwrap();
    let mine = t
        .queue
        .enqueue(NewJob::new("test:echo", json!("mine")))
        .await
        .unwrap();
    let pool = t
        .queue
        .start_workers(WorkerConfig {
            scope: Some(vec![mine.id.clone()]),
            ..workers(4)
        })
        .await
        .unwrap();
    assert_eq!(
        finished(&t.queue, &mine.id).await.status,
        JobStatus::Completed
    );
    // Another process's view: nothing runs the whole brain, so the leftover waits for a
    // worker; the scoped pool is listed with its scope.
    let other = open(&t.path(), fast_config()).await;
    let entry = other.status(&leftover.id).await.unwrap().status_entry();
    assert!(entry.waiting_for_worker, "{entry:?}");
    assert!(!other.any_worker_running().await);
    let listed = other.workers().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].scope.as_deref(), Some(&[mine.id.clone()][..]));
    assert!(!listed[0].runs("test:echo", &[&leftover.id]));
    assert!(listed[0].runs("test:echo", &[&mine.id]));
    let stored = t.queue.job(&leftover.id).await.unwrap().unwrap();
    assert_eq!(
        stored.status,
        JobStatus::Pending,
        "the leftover was not run"
    );

    pool.extend_scope(std::slice::from_ref(&leftover.id))
        .await
        .unwrap();
    assert_eq!(
        finished(&t.queue, &leftover.id).await.status,
        JobStatus::Completed
    );
    pool.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_handler_ends_the_batch_it_is_in() {
    // The batch a dependent waits for can fail in any of its items.
    let t = TestQueue::new().await;
    t.queue.register("test:fail", failing()).unwrap();
    let batch = t
        .queue
        .enqueue_batch(
            NewBatch::new(Source::cli())
                .job(NewJob::new("test:echo", json!(1)))
                .job(NewJob::new("test:fail", json!(2)).max_attempts(1)),
        )
        .await
        .unwrap();
    let after = t
        .queue
        .enqueue(NewJob::new("test:echo", json!(3)).after(batch.id.clone()))
        .await
        .unwrap();
    let pool = t.queue.start_workers(workers(2)).await.unwrap();
    let record = finished(&t.queue, &after.id).await;
    assert_eq!(record.status, JobStatus::Cancelled);
    assert!(record.last_error.unwrap().contains(&batch.id));
    pool.shutdown(Duration::from_secs(5)).await;
}

/// What waits for an operation waits for its files too: a job after another starts only
/// once the files that one staged are in place (a build after a generate renders what the
/// generate wrote). Ten pairs on four workers, each reader failing if its writer's file is
/// not there yet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dependent_job_starts_after_its_dependency_s_files_are_in_place() {
    let t = TestQueue::new().await;
    let dir = t.dir.path().join("out");
    t.queue
        .register(
            "test:writer",
            func(move |input, ctx| {
                let path = std::path::PathBuf::from(input.as_str().unwrap_or_default());
                async move {
                    ctx.stage(brain_plugin_api::SideEffect::WriteFile {
                        path,
                        bytes: b"written".to_vec(),
                    });
                    Ok(json!(null))
                }
            }),
        )
        .unwrap();
    t.queue
        .register(
            "test:reader",
            func(|input, _ctx| async move {
                let path = std::path::PathBuf::from(input.as_str().unwrap_or_default());
                match std::fs::read_to_string(&path) {
                    Ok(text) if text == "written" => Ok(json!(null)),
                    _ => Err(JobError::permanent(format!(
                        "{} is not there",
                        path.display()
                    ))),
                }
            }),
        )
        .unwrap();
    let mut readers = Vec::new();
    for i in 0..10 {
        let file = dir.join(format!("{i}.txt"));
        let file = json!(file.to_string_lossy());
        let writer = t
            .queue
            .enqueue(NewJob::new("test:writer", file.clone()))
            .await
            .unwrap();
        let reader = t
            .queue
            .enqueue(NewJob::new("test:reader", file).after(writer.id.clone()))
            .await
            .unwrap();
        readers.push(reader.id);
    }
    let pool = t.queue.start_workers(workers(4)).await.unwrap();
    for id in &readers {
        let read = finished(&t.queue, id).await;
        assert_eq!(read.status, JobStatus::Completed, "{:?}", read.last_error);
    }
    pool.shutdown(Duration::from_secs(5)).await;
}

/// An operation that ended with files still to be put in place (its process stopped in
/// between, say) is not over for new work: it is among the active operations of its type,
/// work enqueued after it waits, and the files being applied releases that work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_enqueued_after_an_operation_whose_files_are_pending_waits_for_them() {
    let t = TestQueue::new().await;
    let writer = t
        .queue
        .enqueue(NewJob::new("test:echo", json!("write")))
        .await
        .unwrap();
    let pool = t.queue.start_workers(workers(1)).await.unwrap();
    assert_eq!(
        finished(&t.queue, &writer.id).await.status,
        JobStatus::Completed
    );
    pool.shutdown(Duration::from_secs(5)).await;

    // Its files, as a process that stopped before applying them leaves them.
    let file = t.dir.path().join("out/written.txt");
    t.db.insert_outbox(&writer.id, &file, b"written").await;
    assert_eq!(
        t.queue.active_of_type("test:echo").await.unwrap(),
        vec![writer.id.clone()]
    );
    let reader = t
        .queue
        .enqueue(NewJob::new("test:echo", json!("read")).after(writer.id.clone()))
        .await
        .unwrap();
    let waiting = t.queue.status(&reader.id).await.unwrap();
    assert_eq!(waiting.event.status, JobStatus::Pending);

    // The next pool applies the files first, which releases the reader.
    let pool = t.queue.start_workers(workers(1)).await.unwrap();
    let read = finished(&t.queue, &reader.id).await;
    assert_eq!(read.status, JobStatus::Completed);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "written");
    assert!(
        t.queue
            .active_of_type("test:echo")
            .await
            .unwrap()
            .is_empty()
    );
    pool.shutdown(Duration::from_secs(5)).await;
}
