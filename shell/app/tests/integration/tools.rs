//! `brain tool` and `brain jobs`: results on stdout, exit 2 for what the caller must fix.

use serde_json::Value;

use crate::support::{brain_run, scaffolded};

#[test]
fn invalid_input_names_the_field() {
    let (_tmp, dir) = scaffolded();
    let run = brain_run(&dir, &["tool", "status", "--args", r#"{"id": 5}"#]).expect(2);
    assert!(run.stderr.contains("`id`"), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    // Not an object: refused before anything starts, and nothing is queued.
    for args in ["[]", "null", "5"] {
        let run = brain_run(&dir, &["tool", "site_generate", "--args", args]).expect(2);
        assert!(
            run.stderr.contains("--args must be a JSON object"),
            "{args}: {}",
            run.stderr
        );
    }
    let listed = brain_run(&dir, &["jobs", "list", "--json"]).expect(0);
    assert_eq!(listed.stdout.trim(), "[]", "{listed:#?}");
}

#[test]
fn unknown_tools_and_bad_json_are_usage_errors() {
    let (_tmp, dir) = scaffolded();
    let run = brain_run(&dir, &["tool", "nope"]).expect(2);
    assert!(run.stderr.contains("nope"), "{}", run.stderr);
    let run = brain_run(&dir, &["tool", "jobs_list", "--args", "not json"]).expect(2);
    assert!(run.stderr.contains("--args"), "{}", run.stderr);
}

#[test]
fn results_are_json_on_stdout_and_logs_on_stderr() {
    let (_tmp, dir) = scaffolded();
    let run = brain_run(&dir, &["--log-level", "debug", "tool", "jobs_list"]).expect(0);
    let result: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: stdout is not JSON:\n{}", run.stdout));
    assert_eq!(result, serde_json::json!({ "jobs": [] }));
    assert!(run.stderr.contains("DEBUG"), "{}", run.stderr);
}

#[test]
fn unknown_jobs_are_usage_errors() {
    let (_tmp, dir) = scaffolded();
    for command in ["status", "cancel", "watch"] {
        let run = brain_run(&dir, &["jobs", command, "job_nope"]).expect(2);
        assert!(run.stderr.contains("job_nope"), "{command}: {}", run.stderr);
        // Said once, in the CLI's words: no log line repeats it at the default level.
        assert_eq!(run.stderr.lines().count(), 1, "{command}: {}", run.stderr);
        assert!(!run.stderr.contains("INFO"), "{command}: {}", run.stderr);
    }
    let run = brain_run(&dir, &["jobs", "list", "--limit", "0"]).expect(2);
    assert!(run.stderr.contains("--limit"), "{}", run.stderr);
}

#[test]
fn brain_tool_alone_lists_the_tools_the_owner_may_run() {
    let (_tmp, dir) = scaffolded();
    let listed = brain_run(&dir, &["tool"]).expect(0);
    let line = |name: &str| {
        listed
            .stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} in {}", listed.stdout))
            .to_owned()
    };
    assert!(line("site_generate").ends_with("(background job)"));
    assert!(line("notes_index").ends_with("(background job)"));
    assert!(!line("status").contains("background"), "{}", line("status"));
    assert_eq!(
        brain_run(&dir, &["tool", "--list"]).expect(0).stdout,
        listed.stdout
    );

    let json: Value = serde_json::from_str(
        &brain_run(&dir, &["tool", "--list", "--json"])
            .expect(0)
            .stdout,
    )
    .unwrap();
    let tools = json.as_array().unwrap();
    assert_eq!(
        tools.len(),
        listed.stdout.lines().filter(|l| l.contains("  ")).count()
    );
    let generate = tools.iter().find(|t| t["name"] == "site_generate").unwrap();
    assert_eq!(generate["startsWork"], true);
    assert!(generate["inputSchema"]["properties"].get("force").is_some());
    // A name and --list together are a usage error, and so is detaching a list.
    brain_run(&dir, &["tool", "--list", "--detach"]).expect(2);
    brain_run(&dir, &["tool", "status", "--list"]).expect(2);
}

/// A tool that starts work is a one-shot command, like `brain site generate`: without
/// `brain start` it runs its operation here to the end (with `--json`, progress lines and
/// then the final status); with `--detach` it only starts it and prints the handle.
#[test]
fn a_tool_that_starts_work_runs_it_here_unless_detached() {
    let demo = crate::support::Demo::init();
    let detached = demo.tool("site_generate", &serde_json::json!({"force": true}));
    assert_eq!(detached["status"], "queued", "{detached:#}");
    let id = detached["jobId"].as_str().unwrap().to_owned();
    assert_eq!(demo.status(&id)["status"], "pending");
    // The same operation (it is shared while unfinished), now run here.
    let ran = demo
        .run(&[
            "tool",
            "site_generate",
            "--args",
            r#"{"force": true}"#,
            "--json",
        ])
        .expect(0);
    let last: Value = serde_json::from_str(ran.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["event"], "end", "{ran:#?}");
    assert_eq!(last["jobId"], id.as_str(), "{ran:#?}");
    assert_eq!(last["status"], "completed", "{ran:#?}");
    assert_eq!(demo.status(&id)["status"], "completed");
}
