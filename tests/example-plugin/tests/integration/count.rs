//! `example_count` end to end: the immediate answer, progress to completion in the `start`
//! process, the result through `jobs status`, a clean stop on SIGINT — and input errors.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Running, run};

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: not JSON:\n{stdout}"))
}

/// Polls `jobs status id --json` until the job is finished; returns its entry.
fn wait_finished(dir: &std::path::Path, id: &str, timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let status = run(dir, &["jobs", "status", id, "--json"]).expect(0);
        let entry = json(&status.stdout);
        if matches!(
            entry["status"].as_str(),
            Some("completed" | "failed" | "cancelled")
        ) {
            return entry;
        }
        assert!(
            Instant::now() < deadline,
            "not finished after {timeout:?}: {entry:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_count_runs_in_the_background_and_is_followed_to_its_result() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("brain");
    run(&dir, &["init"]).expect(0);

    // Without `start`, nothing works on it: the tool enqueues and says so.
    let queued = run(
        &dir,
        &[
            "tool",
            "example_count",
            "--args",
            r#"{"to": 3}"#,
            "--detach",
        ],
    )
    .expect(0);
    let queued = json(&queued.stdout);
    assert_eq!(queued["status"], "queued", "{queued:#}");
    let queued_id = queued["jobId"].as_str().unwrap().to_owned();

    let brain = Running::start(&dir);
    let started = run(
        &dir,
        &[
            "tool",
            "example_count",
            "--args",
            r#"{"to": 5, "delay_ms": 50}"#,
            "--detach",
        ],
    )
    .expect(0);
    let response = json(&started.stdout);
    let id = response["jobId"].as_str().unwrap().to_owned();
    assert!(id.starts_with("job_"), "{response:#}");
    assert_eq!(response["success"], true);
    assert_eq!(response["type"], "job");
    assert_eq!(response["status"], "started", "{response:#}");
    assert!(response["estimatedDuration"].is_string(), "{response:#}");
    assert!(response["checkStatusIn"].is_string(), "{response:#}");
    assert!(response["checkStatusInMs"].is_u64(), "{response:#}");

    let entry = wait_finished(&dir, &id, Duration::from_secs(30));
    assert_eq!(entry["status"], "completed", "{entry:#}");
    assert_eq!(
        entry["result"],
        serde_json::json!({ "sum": 15 }),
        "{entry:#}"
    );
    assert_eq!(entry["progress"]["current"], 5, "{entry:#}");
    assert_eq!(entry["label"], "count to 5", "{entry:#}");

    // The job enqueued before `start` was picked up too.
    let entry = wait_finished(&dir, &queued_id, Duration::from_secs(30));
    assert_eq!(
        entry["result"],
        serde_json::json!({ "sum": 6 }),
        "{entry:#}"
    );

    // Text for people.
    let text = run(&dir, &["jobs", "status", &id]).expect(0);
    assert!(text.stdout.contains("completed"), "{}", text.stdout);

    assert_eq!(brain.interrupt(Duration::from_secs(15)), 0);
}

#[test]
fn bad_input_is_refused_before_anything_is_enqueued() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("brain");
    run(&dir, &["init"]).expect(0);

    let zero = run(&dir, &["tool", "example_count", "--args", r#"{"to": 0}"#]).expect(2);
    assert!(zero.stderr.contains("`to`"), "{}", zero.stderr);
    assert!(zero.stdout.is_empty(), "{}", zero.stdout);
    let wrong_type = run(
        &dir,
        &["tool", "example_count", "--args", r#"{"to": "five"}"#],
    )
    .expect(2);
    assert!(wrong_type.stderr.contains("`to`"), "{}", wrong_type.stderr);
    run(&dir, &["tool", "example_count", "--args", "not json"]).expect(2);

    let list = run(&dir, &["jobs", "list", "--json"]).expect(0);
    assert_eq!(json(&list.stdout), serde_json::json!([]));

    let hello = run(
        &dir,
        &["tool", "example_hello", "--args", r#"{"name": "Ada"}"#],
    )
    .expect(0);
    assert_eq!(json(&hello.stdout)["greeting"], "Hello, Ada!");
}
