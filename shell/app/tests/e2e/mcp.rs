//! End-to-end tests of `brain mcp` with real clients: the official Python SDK (PyPI `mcp`
//! 2.3.x) over stdio and streamable HTTP, and the TypeScript SDK (npm 1.32.x) over stdio,
//! both installed under target/test-deps/ by scripts/test-deps/mcp-clients.sh. The client
//! scripts live in interfaces/mcp/tests/clients/ and print a JSON report per scenario.
//! Brains are paced (`[ai.local] delay_ms`, one worker) so progress can be seen.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::mcp::HttpBrain;
use crate::support::process::{json_lines, next_matching, wait_within};
use crate::support::{Demo, wait_until};

const ANCHOR_SECRET: &str = "anchor-secret-0123456789";
const OTHER_SECRET: &str = "other-anchor-secret-0123456789";
const PUBLIC_SECRET: &str = "public-secret-0123456789";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// (the venv's python, the npm folder), installed once per test process.
fn clients() -> &'static (PathBuf, PathBuf) {
    static CLIENTS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    CLIENTS.get_or_init(|| {
        let out = Command::new("bash")
            .arg(repo().join("scripts/test-deps/mcp-clients.sh"))
            .stderr(Stdio::inherit())
            .output()
            .expect("run mcp-clients.sh");
        assert!(out.status.success(), "installing the MCP clients failed");
        let text = String::from_utf8(out.stdout).unwrap();
        let mut lines = text.lines();
        let python = PathBuf::from(lines.next().unwrap());
        let npm = PathBuf::from(lines.next().unwrap());
        (python, npm)
    })
}

fn tokens_toml(extra: &str) -> String {
    format!(
        "\n[mcp]\nmax_body_bytes = 65536\n{extra}\n\
         [mcp.tokens.owner]\nsecret = \"{ANCHOR_SECRET}\"\npermission = \"anchor\"\n\
         [mcp.tokens.other]\nsecret = \"{OTHER_SECRET}\"\npermission = \"anchor\"\n\
         [mcp.tokens.guest]\nsecret = \"{PUBLIC_SECRET}\"\npermission = \"public\"\n"
    )
}

/// Runs a scenario of py_client.py; its JSON report.
fn py(scenario: &str, target: &[&str], extra: &[&str]) -> Value {
    let (python, _) = clients();
    let out = Command::new(python)
        .arg(repo().join("interfaces/mcp/tests/clients/py_client.py"))
        .arg(scenario)
        .args(target)
        .args(extra)
        .output()
        .expect("run the python client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "py_client {scenario} failed:\n{stdout}\n{stderr}"
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: not JSON:\n{stdout}\n{stderr}"))
}

fn stdio_target(demo: &Demo) -> Vec<String> {
    vec![
        "--stdio".into(),
        env!("CARGO_BIN_EXE_brain").into(),
        demo.dir.display().to_string(),
    ]
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Checks a progress report: increasing progress with messages, then the final result.
/// No progress notification arrived after the answer to its call (the order on the wire), and
/// the SDK raised no error other than its own race: an "unknown token" for a notification that
/// arrived *before* the answer, in the same read (typescript-sdk issue #2580).
fn assert_no_late_progress(report: &Value) {
    let wire = report["wire"].as_array().unwrap();
    let answered: Vec<&Value> = wire.iter().filter_map(|m| m.get("response")).collect();
    assert!(
        wire.iter().any(|m| m.get("progressToken").is_some()) && !answered.is_empty(),
        "the client saw progress and answers: {wire:?}"
    );
    for (at, message) in wire.iter().enumerate() {
        if let Some(token) = message.get("progressToken") {
            assert!(
                !wire[..at].iter().any(|m| m.get("response") == Some(token)),
                "progress for {token} after its answer: {wire:?}"
            );
            assert!(
                answered.contains(&token),
                "progress for an unknown call {token}"
            );
        }
    }
    for error in report["errors"].as_array().unwrap() {
        let error = error.as_str().unwrap();
        assert!(
            error.starts_with("Received a progress notification for an unknown token"),
            "{report:#}"
        );
        eprintln!("the SDK's race (issue #2580), the notification came first on the wire: {error}");
    }
}

fn assert_progress_then_result(report: &Value) {
    let progress = report["progress"].as_array().unwrap();
    assert!(progress.len() >= 3, "{report:#}");
    let mut last = -1.0;
    for p in progress {
        let value = p["progress"].as_f64().unwrap();
        assert!(value > last, "progress must increase: {progress:#?}");
        last = value;
        assert_eq!(p["total"], 5.0, "{p}");
        assert!(!p["message"].as_str().unwrap().is_empty(), "{p}");
    }
    assert!(
        progress.iter().any(|p| p["message"]
            .as_str()
            .unwrap()
            .contains("Generating landing:")),
        "{progress:#?}"
    );
    let result = &report["result"];
    assert_eq!(result["isError"], false, "{result:#}");
    assert_eq!(result["structured"]["status"], "completed", "{result:#}");
    if let Some(nowait) = report.get("nowait") {
        assert_eq!(nowait["structured"]["success"], true, "{nowait:#}");
        assert_eq!(
            report["nowait_progress"],
            json!([]),
            "wait: false answers at once"
        );
    }
    assert_eq!(result["structured"]["progress"]["current"], 5, "{result:#}");
    assert!(result["text"].as_str().unwrap().contains("completed"));
}

#[test]
fn python_over_stdio_progress_polling_tasks_and_subscriptions() {
    // Slow enough that a task is still working at its first poll (2 s at the least).
    let demo = Demo::paced(600, "");
    let target = stdio_target(&demo);
    let target = strs(&target);

    for mode in ["auto", "legacy"] {
        let report = py("progress", &target, &["--mode", mode, "--log"]);
        let expected = if mode == "auto" {
            "2026-07-28"
        } else {
            "2025-11-25"
        };
        assert_eq!(report["protocol"], expected);
        let tools = report["tools"].as_array().unwrap();
        let generate = tools.iter().find(|t| t["name"] == "site_generate").unwrap();
        assert!(
            generate["inputSchema"]["properties"]["wait"].is_object(),
            "{generate:#}"
        );
        let status = tools.iter().find(|t| t["name"] == "status").unwrap();
        assert_eq!(status["outputSchema"]["type"], "object", "{status:#}");
        assert_progress_then_result(&report);
        // Asked for (logLevel in _meta, or logging/setLevel): the job's lifecycle.
        let logs = report["logs"].as_array().unwrap();
        for status in ["processing", "completed"] {
            assert!(
                logs.iter()
                    .any(|l| l["data"]["status"] == status && l["logger"] == "brain.jobs"),
                "{mode}: no {status} log: {logs:#?}"
            );
        }
    }

    // No progress token: the immediate answer, then status polls as checkStatusIn says.
    let report = py("poll", &target, &[]);
    let started = &report["started"];
    assert_eq!(started["structured"]["success"], true, "{started:#}");
    assert_eq!(started["structured"]["type"], "batch");
    assert!(
        started["text"]
            .as_str()
            .unwrap()
            .contains("Check status in"),
        "{started:#}"
    );
    let polls = report["polls"].as_array().unwrap();
    assert_eq!(polls.last().unwrap()["status"], "completed", "{polls:#?}");
    eprintln!("status polls until completed (stdio): {}", polls.len());

    // SEP-2663 tasks: one polled to completion, one cancelled.
    let report = py("tasks", &target, &[]);
    let created = &report["created"][0];
    assert_eq!(created["status"], "working", "{report:#}");
    assert!(created["pollIntervalMs"].as_u64().unwrap() >= 500);
    assert_eq!(created["ttlMs"], 7 * 86_400_000_u64);
    assert!(created["taskId"].as_str().unwrap().starts_with("batch_"));
    // Polled as told (pollIntervalMs aims at the expected end), it ends completed…
    let polls = report["polls"].as_array().unwrap();
    assert_eq!(polls.last().unwrap()["status"], "completed", "{polls:#?}");
    // …and a look while it works shows its progress.
    let first = &report["firstPoll"];
    assert_eq!(first["status"], "working", "{report:#}");
    assert!(
        first["message"].as_str().is_some_and(|m| m.contains("/5")),
        "{report:#}"
    );
    assert_eq!(report["completed"]["structured"]["status"], "completed");
    assert_eq!(report["cancelled"]["status"], "cancelled", "{report:#}");

    // Resource subscriptions, in both eras.
    for mode in ["auto", "legacy"] {
        let report = py("subscribe", &target, &["--mode", mode]);
        let id = report["jobId"].as_str().unwrap();
        assert_eq!(report["honored"][0], format!("brain://jobs/{id}"));
        assert!(
            !report["updates"].as_array().unwrap().is_empty(),
            "{report:#}"
        );
        let reads = report["reads"].as_array().unwrap();
        assert_eq!(reads.last().unwrap()["status"], "completed", "{report:#}");
        // Rate-limited: at most two updates a second (plus the first).
        let updates = report["updates"].as_array().unwrap().len() as u64;
        let elapsed_ms = report["elapsed_ms"].as_u64().unwrap();
        assert!(
            updates <= elapsed_ms / 500 + 2,
            "{updates} updates in {elapsed_ms} ms"
        );
        assert!(
            report["jobs"]["jobs"]
                .as_array()
                .unwrap()
                .iter()
                .any(|j| j["id"] == *id),
            "brain://jobs lists it: {report:#}"
        );
    }
}

#[test]
fn progress_stops_at_the_bound_and_typescript_sees_no_late_progress() {
    let demo = Demo::paced(400, "");
    let target = stdio_target(&demo);
    let mut target = strs(&target);
    target.extend(["--extra=--wait-seconds", "--extra=1"]);
    let report = py("progress", &target, &[]);
    let result = &report["result"];
    assert_eq!(result["isError"], false);
    assert_eq!(
        result["structured"]["success"], true,
        "the bound answers with the job handle: {result:#}"
    );
    assert!(
        result["text"].as_str().unwrap().contains("Still running"),
        "{result:#}"
    );
    // That batch is left unfinished; the TypeScript call below regenerates every section,
    // which would share the sections still under way (unique operations). Cancelled and
    // ended first, so the new call's batch has all five.
    let left = result["structured"]["jobId"].as_str().unwrap().to_owned();
    demo.run(&["jobs", "cancel", &left]).expect(0);
    wait_until("the cancelled batch to end", || {
        ["cancelled", "completed"].contains(&demo.status(&left)["status"].as_str().unwrap())
    });

    // The TypeScript SDK: onprogress + resetTimeoutOnProgress, no unknown-token error.
    let (_, npm) = clients();
    let out = Command::new("node")
        .arg(repo().join("interfaces/mcp/tests/clients/ts_client.mjs"))
        .arg(env!("CARGO_BIN_EXE_brain"))
        .arg(&demo.dir)
        .env("MCP_NPM_DIR", npm)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_no_late_progress(&report);
    assert_progress_then_result(&report);
    assert!(
        report["tools"]
            .as_array()
            .unwrap()
            .contains(&json!("site_generate"))
    );
}

#[test]
fn python_over_http_with_tokens_and_bad_input() {
    let demo = Demo::paced(250, &tokens_toml(""));
    let server = HttpBrain::start(&demo, "127.0.0.1:0");
    let owner = ["--url", &server.url, "--token", ANCHOR_SECRET];

    let report = py("progress", &owner, &[]);
    assert_eq!(report["protocol"], "2026-07-28");
    assert_progress_then_result(&report);
    assert_eq!(
        report["logs"],
        json!([]),
        "no log messages unless asked for"
    );
    let report = py("progress", &owner, &["--mode", "legacy"]);
    assert_progress_then_result(&report);

    let report = py("poll", &owner, &[]);
    assert_eq!(
        report["polls"].as_array().unwrap().last().unwrap()["status"],
        "completed"
    );
    eprintln!(
        "status polls until completed (http): {}",
        report["polls"].as_array().unwrap().len()
    );

    let report = py("tasks", &owner, &[]);
    assert_eq!(
        report["completed"]["structured"]["status"], "completed",
        "{report:#}"
    );
    assert_eq!(report["cancelled"]["status"], "cancelled", "{report:#}");
    let owners_task = report["cancelHandle"]["taskId"]
        .as_str()
        .unwrap()
        .to_owned();

    for mode in ["auto", "legacy"] {
        let report = py("subscribe", &owner, &["--mode", mode]);
        assert!(
            !report["updates"].as_array().unwrap().is_empty(),
            "{mode}: {report:#}"
        );
        assert_eq!(
            report["reads"].as_array().unwrap().last().unwrap()["status"],
            "completed"
        );
    }

    // Bad input through the client, as the owner and as others.
    let report = py("bad", &owner, &[]);
    let wrong = &report["wrong_type"];
    assert_eq!(wrong["isError"], true);
    assert!(
        wrong["text"].as_str().unwrap().contains("`force`"),
        "{wrong:#}"
    );
    assert!(
        report["wrong_wait"]["text"]
            .as_str()
            .unwrap()
            .contains("`wait`")
    );
    assert_eq!(report["unknown_tool"]["code"], -32602, "{report:#}");
    assert!(
        report["unknown_tool"]["message"]
            .as_str()
            .unwrap()
            .contains("no_such_tool")
    );
    assert_eq!(report["still_serving"]["isError"], false);

    let other = ["--url", &server.url, "--token", OTHER_SECRET];
    let report = py("bad", &other, &["--task", &owners_task]);
    for method in ["get", "cancel"] {
        let error = &report[format!("foreign_task_{method}")];
        assert_eq!(error["code"], -32602, "{method}: {report:#}");
    }

    let guest = ["--url", &server.url, "--token", PUBLIC_SECRET];
    let report = py("bad", &guest, &[]);
    let tools = report["tools"].as_array().unwrap();
    assert!(!tools.contains(&json!("site_build")), "{tools:?}");
    assert!(tools.contains(&json!("site_routes")), "{tools:?}");
    let above = &report["above_level"];
    assert_eq!(above["isError"], true);
    assert!(
        above["text"]
            .as_str()
            .unwrap()
            .contains("permission denied"),
        "{above:#}"
    );
    assert_eq!(report["still_serving"]["isError"], false);

    // Bad HTTP.
    let report = py("bad_http", &owner, &[]);
    for (case, status) in [
        ("no_token", 401),
        ("wrong_token", 401),
        ("foreign_origin", 403),
        ("foreign_host", 403),
        ("oversized", 413),
        ("good", 200),
    ] {
        assert_eq!(report[case]["status"], status, "{case}: {report:#}");
    }
    assert!(
        report["no_token"]["www_authenticate"]
            .as_str()
            .unwrap()
            .starts_with("Bearer")
    );
    assert!(
        report["no_token"]["body"]
            .as_str()
            .unwrap()
            .contains("missing bearer token")
    );
    for case in ["malformed", "not_jsonrpc"] {
        let status = report[case]["status"].as_u64().unwrap();
        assert!((400..500).contains(&status), "{case}: {report:#}");
    }
    assert_eq!(server.stop(), 0);
}

#[test]
fn a_task_survives_a_server_restart() {
    let demo = Demo::paced(1500, &tokens_toml(""));
    let server = HttpBrain::start(&demo, "127.0.0.1:0");
    let owner = ["--url", &server.url, "--token", ANCHOR_SECRET];
    let report = py("task_start", &owner, &[]);
    let task = report["task"]["taskId"].as_str().unwrap().to_owned();
    // Stopped once the first section is done: under way, and far from its end (the
    // stopping server lets at most the running section finish).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let entry = demo.status(&task);
        if entry["progress"]["current"].as_u64().unwrap_or(0) >= 1 {
            assert_ne!(entry["status"], "completed", "{entry:#}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no section done in 60 s: {entry:#}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(server.stop(), 0);

    let server = HttpBrain::start(&demo, "127.0.0.1:0");
    let owner = ["--url", &server.url, "--token", ANCHOR_SECRET];
    let report = py("task_get", &owner, &["--task", &task]);
    assert_eq!(report["ok"]["taskId"], task.as_str(), "{report:#}");
    let report = py("task_wait", &owner, &["--task", &task]);
    let last = &report["final"];
    assert_eq!(last["status"], "completed", "{report:#}");
    assert_eq!(
        last["result"]["structuredContent"]["progress"]["current"],
        5
    );
    let other = ["--url", &server.url, "--token", OTHER_SECRET];
    let report = py("task_get", &other, &["--task", &task]);
    assert_eq!(report["error"]["code"], -32602, "{report:#}");
}

/// A stdio server's caller is the OS user, not the process: the next `brain mcp` on the
/// same brain answers for the tasks an earlier one started.
#[test]
fn a_stdio_task_survives_a_server_restart() {
    let demo = Demo::paced(1500, "");
    let target = stdio_target(&demo);
    let target = strs(&target);
    let report = py("task_start", &target, &[]);
    let task = report["task"]["taskId"].as_str().unwrap().to_owned();
    // That server has exited (the client closed its stdin); a new one answers.
    let report = py("task_get", &target, &["--task", &task]);
    assert_eq!(report["ok"]["taskId"], task.as_str(), "{report:#}");
}

#[test]
fn brain_start_serves_mcp_over_http_when_configured() {
    // A free port for [mcp] http (brain start has no --http flag to ask for port 0).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let demo = Demo::paced(400, &format!("\n[mcp]\nhttp = \"127.0.0.1:{port}\"\n"));
    let running = demo.start();
    let url = format!("http://127.0.0.1:{port}/mcp");
    let report = py("progress", &["--url", &url], &[]);
    assert_progress_then_result(&report);
    assert_eq!(running.interrupt(), 0);
}

#[test]
fn keep_alive_progress_while_a_job_is_silent() {
    // One section paced 6 s: the batch reports nothing while it is generated, so only the
    // keep-alive (1 s, the smallest allowed) can fill the silence.
    let demo = Demo::paced(6000, "\n[mcp]\nkeep_alive_seconds = 1\n");
    let target = stdio_target(&demo);
    let report = py(
        "keepalive",
        &strs(&target),
        &[
            "--args",
            r#"{"force": true, "route": "about", "section": "text"}"#,
            "--linger",
            "2.5",
        ],
    );
    let result = &report["result"];
    assert_eq!(result["structured"]["status"], "completed", "{report:#}");
    let notes = report["notifications"].as_array().unwrap();
    let answered_ms = report["answered_ms"].as_u64().unwrap();

    // Gaps from the call through every notification to the answer: keep-alive + 2 s margin
    // for a busy machine, still half the 6 s silence there would be without keep-alive.
    let mut times = vec![0];
    times.extend(notes.iter().map(|n| n["at_ms"].as_u64().unwrap()));
    times.push(answered_ms);
    let longest = times.windows(2).map(|w| w[1].saturating_sub(w[0])).max();
    assert!(
        longest.unwrap() <= 3000,
        "a silence of {longest:?} ms with keep_alive_seconds = 1: {report:#}"
    );
    // The job really was silent: several notifications in a row with no news.
    let repeats = notes
        .windows(2)
        .filter(|w| {
            w[0]["message"] == w[1]["message"] && w[0]["meta"]["status"] == w[1]["meta"]["status"]
        })
        .count();
    assert!(
        repeats >= 2,
        "expected keep-alives with no news: {report:#}"
    );

    let mut last = -1.0;
    for n in notes {
        let value = n["progress"].as_f64().unwrap();
        assert!(value > last, "progress must increase: {notes:#?}");
        last = value;
        assert_eq!(n["meta"]["type"], "batch", "{n}");
    }
    // Nothing for the call after its answer, not even a keep-alive (2.5 periods listened).
    assert_eq!(
        report["seen_at_answer"].as_u64().unwrap(),
        notes.len() as u64,
        "{report:#}"
    );
    assert!(
        notes
            .iter()
            .all(|n| n["at_ms"].as_u64().unwrap() <= answered_ms),
        "{report:#}"
    );
}

#[test]
fn sigterm_while_a_call_waits_exits_cleanly_and_the_batch_goes_on_after_a_restart() {
    let demo = Demo::paced(1200, "");
    let server = HttpBrain::start(&demo, "127.0.0.1:0");
    let (python, _) = clients();
    let mut client = Command::new(python)
        .arg(repo().join("interfaces/mcp/tests/clients/py_client.py"))
        .args(["hold", "--url", &server.url])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let events = json_lines(&mut client);
    let mut seen = Vec::new();
    // Stopped once the first section is done: the batch is well under way, far from done.
    let first = next_matching(&events, Duration::from_secs(20), &mut seen, |e| {
        e["event"] == "progress" && e["progress"].as_f64().is_some_and(|p| p >= 1.0)
    });
    let id = first["meta"]["jobId"].as_str().unwrap().to_owned();

    let (code, took) = server.terminate_within(Duration::from_secs(20));
    assert_eq!(code, 0, "exit code after SIGTERM");
    eprintln!("brain mcp --http stopped {took:?} after SIGTERM with a call open");

    // The open call answers before the stream closes: with the job handle, so the client
    // knows what to ask for after a restart.
    let end = next_matching(&events, Duration::from_secs(20), &mut seen, |e| {
        e["event"] == "result" || e["event"] == "closed"
    });
    assert_eq!(end["event"], "result", "{seen:#?}");
    let result = &end["result"];
    assert_eq!(result["isError"], false, "{end:#}");
    assert_eq!(result["structured"]["jobId"], id.as_str(), "{end:#}");
    let status = wait_within(&mut client, Duration::from_secs(20)).expect("the client ended");
    assert!(status.success(), "{seen:#?}");

    // While no server runs the batch waits in the queue, unfinished.
    let entry = demo.status(&id);
    assert!(
        ["pending", "processing"].contains(&entry["status"].as_str().unwrap()),
        "{entry:#}"
    );
    assert!(
        entry["progress"]["current"].as_u64().unwrap() < 5,
        "{entry:#}"
    );

    let server = HttpBrain::start(&demo, "127.0.0.1:0");
    let report = py("status_wait", &["--url", &server.url], &["--task", &id]);
    let polls = report["polls"].as_array().unwrap();
    let last = polls.last().unwrap();
    assert_eq!(last["status"], "completed", "{report:#}");
    assert_eq!(last["progress"]["current"], 5, "{report:#}");
    assert_eq!(server.stop(), 0);
}
