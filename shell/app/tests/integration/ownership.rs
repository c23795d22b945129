//! Who runs what: a one-shot `brain site …` runs its own operation and what that depends
//! on — saying so first — and leaves other work to the brain's workers; a build waits for
//! the generate writing its content, across processes and restarts, and does not run when
//! that generate is cancelled.

use serde_json::Value;

use crate::support::{Demo, detached_id, edit_config, json, wait_until};

/// The id in a "job_…: pending — build preview" status line on stderr.
fn id_in_status_line(stderr: &str, prefix: &str) -> String {
    stderr
        .lines()
        .find_map(|l| l.split(':').next().filter(|id| id.starts_with(prefix)))
        .unwrap_or_else(|| panic!("no {prefix} status line in:\n{stderr}"))
        .to_owned()
}

fn millis(entry: &Value, field: &str) -> i64 {
    let text = entry[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {entry:#}"));
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{field} {text:?}: {e}"))
        .timestamp_millis()
}

#[test]
fn a_one_shot_build_runs_only_its_own_work_and_says_what_it_left() {
    let demo = Demo::paced(0, "");
    demo.run(&["site", "generate"]).expect(0);
    // Left for a worker: a promote nobody runs (production content; a preview build does
    // not depend on it).
    let left = demo.run(&["site", "promote", "--detach"]).expect(0);
    let promote = detached_id(&left.stdout);
    assert!(promote.starts_with("batch_"), "{left:#?}");

    let built = demo.run(&["site", "build"]).expect(0);
    assert!(
        built.stdout.starts_with("✔ Built preview: 10 pages in "),
        "{built:#?}"
    );
    assert!(
        built
            .stderr
            .contains("1 other operation is waiting for a worker: `brain start` runs it."),
        "{built:#?}"
    );
    assert!(!built.stdout.contains("waited"), "{built:#?}");
    // The promote was left alone.
    let entry = demo.status(&promote);
    assert_eq!(entry["status"], "pending", "{entry:#}");
    assert_eq!(entry["waitingForWorker"], true, "{entry:#}");
    assert_eq!(entry["progress"]["current"], 0, "{entry:#}");

    // The duration printed is the build's own run, as stored.
    let build = id_in_status_line(&built.stderr, "job_");
    let entry = demo.status(&build);
    let own = millis(&entry, "finishedAt") - millis(&entry, "startedAt");
    let printed = built
        .stdout
        .trim()
        .trim_start_matches("✔ Built preview: 10 pages in ")
        .trim_end_matches(" → dist/preview/")
        .trim_end_matches('s')
        .parse::<f64>()
        .unwrap_or_else(|e| panic!("{e}: {built:#?}"));
    assert!(
        (printed * 1000.0 - own as f64).abs() <= 100.0,
        "printed {printed}s, stored {own} ms"
    );
}

#[test]
fn a_build_runs_the_generate_it_depends_on_first_and_says_so() {
    // 300 ms a section (a lower bound): the build certainly waits over a second.
    let demo = Demo::paced(300, "");
    // Nothing runs it yet: the build below certainly finds it unfinished.
    let queued = demo.run(&["site", "generate", "--detach"]).expect(0);
    let generate = detached_id(&queued.stdout);

    let built = demo.run(&["site", "build"]).expect(0);
    assert!(
        built.stderr.contains(&format!(
            "First finishing {generate} (Generating content, 0/5), which job_"
        )),
        "{built:#?}"
    );
    assert!(
        built.stdout.contains("✔ Generated 5 sections in "),
        "{built:#?}"
    );
    let last = built.stdout.lines().last().unwrap();
    assert!(
        last.starts_with("✔ Built preview: 10 pages in "),
        "{built:#?}"
    );
    assert!(
        last.contains("waited "),
        "the wait is said apart: {built:#?}"
    );
    let build = id_in_status_line(&built.stderr, "job_");
    assert!(
        millis(&demo.status(&build), "startedAt") >= millis(&demo.status(&generate), "finishedAt")
    );
    assert!(demo.dir.join("dist/preview/index.html").is_file());
}

/// Enqueued by one process, run by another, across a restart of the worker in the middle
/// of the generate: the build waits (and is shown waiting), then runs after it.
#[test]
fn build_after_generate_across_processes_and_a_restart() {
    // 30 s a section: the generate is certainly mid-way when the worker stops.
    let demo = Demo::paced(30_000, "");
    let generate = detached_id(&demo.run(&["site", "generate", "--detach"]).expect(0).stdout);
    let queued = demo.run(&["site", "build", "--detach"]).expect(0);
    let build = detached_id(&queued.stdout);
    assert!(
        queued
            .stdout
            .contains(&format!("once {generate} has ended")),
        "{queued:#?}"
    );

    let listed = demo.run(&["jobs", "list"]).expect(0);
    let line = listed
        .stdout
        .lines()
        .find(|l| l.starts_with(&build))
        .unwrap_or_else(|| panic!("{listed:#?}"));
    assert!(
        line.contains(&format!("waiting for {generate} (Generating content, 0/5)")),
        "{line}"
    );

    let running = demo.start();
    wait_until("the generate to run", || {
        demo.status(&generate)["status"] == "processing"
    });
    assert_eq!(running.interrupt(), 0);
    let entry = demo.status(&build);
    assert_eq!(entry["status"], "pending", "{entry:#}");
    assert_eq!(entry["waitingFor"][0]["id"], generate.as_str(), "{entry:#}");

    edit_config(&demo.dir, "delay_ms = 30000", "delay_ms = 20");
    let running = demo.start();
    let built = demo.wait_completed(&build);
    assert!(millis(&built, "startedAt") >= millis(&demo.status(&generate), "finishedAt"));
    assert_eq!(demo.status(&generate)["status"], "completed");
    assert_eq!(running.interrupt(), 0);
}

#[test]
fn a_cancelled_generate_cancels_the_build_waiting_for_it_with_the_reason() {
    let demo = Demo::paced(20, "");
    let generate = detached_id(&demo.run(&["site", "generate", "--detach"]).expect(0).stdout);
    let build = detached_id(&demo.run(&["site", "build", "--detach"]).expect(0).stdout);
    demo.run(&["jobs", "cancel", &generate]).expect(0);
    let entry = demo.status(&build);
    assert_eq!(entry["status"], "cancelled", "{entry:#}");
    let reason = entry["errors"][0]["error"].as_str().unwrap_or_default();
    assert!(
        reason.contains(&generate) && reason.contains("did not complete"),
        "{entry:#}"
    );
    // Nothing of it ran: no site was built.
    assert!(!demo.dir.join("dist/preview/index.html").exists());
}

/// Two overlapping generates of the same sections share the work: the second is told the
/// first is under way and gets its handle; nothing is generated twice.
#[test]
fn overlapping_generates_share_the_work() {
    let demo = Demo::paced(20, "");
    let first = demo
        .run(&["site", "generate", "--force", "--detach"])
        .expect(0);
    let batch = detached_id(&first.stdout);
    let second = demo
        .run(&["site", "generate", "--force", "--detach"])
        .expect(0);
    assert!(
        second
            .stdout
            .contains("already under way, and this request shares it"),
        "{second:#?}"
    );
    assert_eq!(detached_id(&second.stdout), batch, "{second:#?}");
    let listed = json(&demo.run(&["jobs", "list", "--json"]).expect(0).stdout);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed:#}");
    // The one batch is followed to its end by the attached command, which runs it.
    let attached = demo.run(&["site", "generate", "--force"]).expect(0);
    assert!(
        attached.stdout.contains("✔ Generated 5 sections"),
        "{attached:#?}"
    );
    assert_eq!(demo.status(&batch)["status"], "completed");
}
