//! The CLI interface through the binary: `brain site generate` following its batch in pipe
//! mode and with `--json` (checked line by line: the shape, progress never going back, the
//! final status last), `--detach`, `brain jobs watch` on a batch a second process (`brain
//! start`) runs, and Ctrl-C while attached — detaching when another process does the work,
//! cancelling when nobody else does — both exiting 130.
//!
//! The brain is paced so progress is visible: the offline generator pauses per section
//! (`[ai.local] delay_ms`) and the queue runs one job at a time.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Demo, json};
use crate::support::{Run, detached_id, edit_config, entry_of};

/// The JSON lines of a `--json` run; each must parse.
fn json_lines(stdout: &str) -> Vec<Value> {
    stdout.lines().map(json).collect()
}

/// Checks a `--json` stream: notifications of one id whose progress never goes back and
/// whose status never changes after it finished, then the final status entry, last.
#[track_caller]
fn check_json_stream(lines: &[Value], final_status: &str) -> String {
    assert!(lines.len() >= 2, "{lines:#?}");
    let (last, notifications) = lines.split_last().unwrap();
    let id = notifications[0]["jobId"].as_str().unwrap().to_owned();
    let mut current = 0;
    let mut finished = false;
    for n in notifications {
        assert_eq!(n["jobId"], id.as_str(), "{n}");
        assert_eq!(n["type"], "batch", "{n}");
        assert!(!finished, "a notification after the final one: {n}");
        let status = n["status"].as_str().unwrap();
        assert!(
            ["pending", "processing", "completed", "failed", "cancelled"].contains(&status),
            "{n}"
        );
        finished = !["pending", "processing"].contains(&status);
        let progress = &n["progress"];
        assert_eq!(progress["total"], 5, "{n}");
        let now = progress["current"].as_u64().unwrap();
        assert!(now >= current, "progress went back: {lines:#?}");
        current = now;
        assert!(progress["percentage"].as_u64().unwrap() <= 100, "{n}");
        // A ProgressNotification with what the line is and the timing (docs/json/).
        assert_eq!(n["event"], "progress", "{n}");
        assert!(n["elapsedMs"].is_u64(), "{n}");
        assert!(n["waitingForWorker"].is_boolean(), "{n}");
        let keys: Vec<&String> = n.as_object().unwrap().keys().collect();
        for key in keys {
            assert!(
                [
                    "event",
                    "jobId",
                    "type",
                    "status",
                    "progress",
                    "message",
                    "elapsedMs",
                    "estimatedCompletion",
                    "estimatedCompletionMs",
                    "waitingForWorker",
                    "waitingFor"
                ]
                .contains(&key.as_str()),
                "not a progress line: {n}"
            );
        }
    }
    assert!(finished, "no final notification: {lines:#?}");
    assert_eq!(notifications.last().unwrap()["status"], final_status);
    assert_eq!(last["event"], "end", "{last}");
    assert_eq!(last["jobId"], id.as_str(), "{last}");
    assert_eq!(last["status"], final_status, "{last}");
    assert!(
        last["createdAt"].is_string() && last["message"].is_string(),
        "{last}"
    );
    id
}

#[test]
fn site_generate_in_pipe_mode_and_as_json_lines() {
    let demo = Demo::paced(150, "");
    let started = Instant::now();
    let pipe = demo.run(&["site", "generate"]).expect(0);
    let took = started.elapsed();
    assert!(
        pipe.stdout.starts_with("✔ Generated 5 sections in ") && pipe.stdout.ends_with("s\n"),
        "{pipe:#?}"
    );
    assert_eq!(pipe.stdout.lines().count(), 1, "{pipe:#?}");
    assert!(
        !pipe.stderr.contains('\x1b'),
        "escape codes in a pipe: {pipe:#?}"
    );
    let ours: Vec<&str> = pipe
        .stderr
        .lines()
        .filter(|l| !l.contains(" INFO ") && !l.contains(" WARN "))
        .collect();
    let statuses: Vec<&str> = ours
        .iter()
        .filter(|l| l.starts_with("batch_"))
        .map(|l| l.split(": ").nth(1).unwrap().split(' ').next().unwrap())
        .collect();
    // A status line per change: (pending,) processing, completed — the batch may have
    // started before the first event was read.
    let expected: &[&[&str]] = &[
        &["pending", "processing", "completed"],
        &["processing", "completed"],
    ];
    assert!(expected.contains(&statuses.as_slice()), "{pipe:#?}");
    let progress: Vec<u64> = ours
        .iter()
        .filter_map(|l| l.strip_prefix("Generating content: "))
        .map(|l| l.split('/').next().unwrap().parse().unwrap())
        .collect();
    assert!(!progress.is_empty(), "no progress line: {pipe:#?}");
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{pipe:#?}");
    // At most one progress line a second (the first may come at once).
    assert!(
        progress.len() as u64 <= took.as_secs() + 1,
        "{} progress lines in {took:?}: {pipe:#?}",
        progress.len()
    );
    // Plus the first line: what it started, and why.
    assert_eq!(
        ours[0], "Generating content for 5 sections (no content yet).",
        "{pipe:#?}"
    );
    assert_eq!(ours.len(), 1 + statuses.len() + progress.len(), "{pipe:#?}");

    // Everything has content now: --force regenerates it, as JSON lines.
    let lines = demo
        .run(&["site", "generate", "--force", "--json"])
        .expect(0);
    assert!(!lines.stderr.contains('\x1b'), "{lines:#?}");
    let values = json_lines(&lines.stdout);
    check_json_stream(&values, "completed");
    assert!(
        values.iter().any(|v| v["status"] == "processing"),
        "{values:#?}"
    );

    // Nothing to do is a result, not a job.
    let nothing = demo.run(&["site", "generate"]).expect(0);
    assert!(
        nothing.stdout.starts_with("Nothing to generate"),
        "{nothing:#?}"
    );
    let plan = demo
        .run(&["site", "generate", "--dry-run", "--force", "--json"])
        .expect(0);
    assert_eq!(json(&plan.stdout)["dryRun"], true, "{plan:#?}");

    // A single job: the build, summarised in one line.
    let built = demo.run(&["site", "build", "--quiet"]).expect(0);
    assert!(
        built.stdout.starts_with("✔ Built preview: 10 pages in "),
        "{built:#?}"
    );
    assert!(demo.dir.join("dist/preview/index.html").is_file());
}

#[test]
fn detach_says_whether_a_worker_runs_and_jobs_watch_follows_another_process() {
    let demo = Demo::paced(150, "");
    let queued = demo.run(&["site", "generate", "--detach"]).expect(0);
    assert!(
        queued.stdout.starts_with("Queued batch batch_"),
        "{queued:#?}"
    );
    assert!(
        queued
            .stdout
            .contains("No brain process is running workers"),
        "{queued:#?}"
    );
    let first = detached_id(&queued.stdout);

    let as_json = demo.run(&["site", "build", "--detach", "--json"]).expect(0);
    let response = json(&as_json.stdout);
    assert_eq!(response["status"], "queued", "{response:#}");
    assert_eq!(response["type"], "job", "{response:#}");
    assert!(response["estimatedDuration"].is_string(), "{response:#}");

    let running = demo.start();
    let watched = demo.run(&["jobs", "watch", &first, "--json"]).expect(0);
    let id = check_json_stream(&json_lines(&watched.stdout), "completed");
    assert_eq!(id, first);

    // Finished work: watching prints its summary at once.
    let again = demo.run(&["jobs", "watch", &first]).expect(0);
    assert!(
        again.stdout.starts_with("✔ Generated 5 sections in "),
        "{again:#?}"
    );

    let started = demo.run(&["site", "rollback", "--detach"]).expect(0);
    assert!(
        started.stdout.contains("Nothing to roll back"),
        "{started:#?}"
    );
    let started = demo.run(&["site", "promote", "--detach"]).expect(0);
    assert!(
        started
            .stdout
            .contains("A brain process is running workers"),
        "{started:#?}"
    );
    assert_eq!(running.interrupt(), 0);
}

/// A `brain` command in the background with its stdout read line by line.
struct Attached {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Attached {
    fn spawn(mut command: Command) -> Attached {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Attached {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a JSON line with `status`.
    fn wait_for(&mut self, status: &str) {
        self.wait_for_line(status, |line| line["status"] == status);
    }

    /// Waits for a JSON line that `pick` accepts (`what` names it in a failure).
    fn wait_for_line(&mut self, what: &str, pick: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no {what:?} line; saw {:#?}", self.seen));
            let value = json(&line);
            self.seen.push(line);
            if pick(&value) {
                return value;
            }
        }
    }

    /// The id of the work it follows, from its first JSON line.
    fn job_id(&self) -> String {
        let first = self.seen.first().expect("a JSON line");
        json(first)["jobId"].as_str().unwrap().to_owned()
    }

    /// SIGINT, as Ctrl-C sends; then everything it printed.
    fn interrupt(self) -> Run {
        self.signal("-INT")
    }

    /// Sends `signal` (`-INT`, `-TERM`, `-KILL`); then everything it printed.
    fn signal(self, signal: &str) -> Run {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args([signal, &pid])
                .status()
                .unwrap()
                .success()
        );
        self.ended(Duration::from_secs(20))
    }

    /// Waits up to `bound` for it to exit; then everything it printed.
    fn ended(mut self, bound: Duration) -> Run {
        let deadline = Instant::now() + bound;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "still running after {bound:?}");
            std::thread::sleep(Duration::from_millis(20));
        };
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.seen.push(line);
        }
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            std::io::Read::read_to_string(&mut pipe, &mut stderr).unwrap();
        }
        Run {
            code: status.code().unwrap_or(-1),
            stdout: self.seen.join("\n"),
            stderr,
        }
    }
}

impl Drop for Attached {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn ctrl_c_cancels_when_no_other_process_runs_the_work() {
    // 30 s a section: the batch cannot end before Ctrl-C, and cancelling cuts the pause.
    let demo = Demo::paced(30_000, "");
    let mut attached = Attached::spawn(demo.command(&["site", "generate", "--json"]));
    attached.wait_for("processing");
    let done = attached.interrupt();
    assert_eq!(done.code, 130, "{done:#?}");
    assert!(done.stderr.contains("Cancelling batch_"), "{done:#?}");
    assert!(done.stderr.contains("Cancelled batch_"), "{done:#?}");
    let id = check_json_stream(&json_lines(&done.stdout), "cancelled");
    let entry = demo.status(&id);
    assert_eq!(entry["status"], "cancelled", "{entry:#}");
}

#[test]
fn ctrl_c_detaches_when_another_process_runs_the_work() {
    // 15 s of batch in all: Ctrl-C, sent as soon as it is processing, comes long before
    // its end even on a busy machine; then it runs to its end in `brain start`.
    let demo = Demo::paced(3_000, "");
    let started = demo
        .run(&["site", "generate", "--detach", "--json"])
        .expect(0);
    let id = json(&started.stdout)["jobId"].as_str().unwrap().to_owned();
    let running = demo.start();
    let mut attached = Attached::spawn(demo.command(&["jobs", "watch", &id, "--json"]));
    attached.wait_for("processing");
    let done = attached.interrupt();
    assert_eq!(done.code, 130, "{done:#?}");
    assert!(done.stderr.contains("Detached: brain process"), "{done:#?}");
    assert!(
        done.stderr.contains(&format!("brain jobs watch {id}")),
        "{done:#?}"
    );
    // The other process goes on: the batch finishes, not cancelled.
    let finished = demo.run(&["jobs", "watch", &id, "--json"]).expect(0);
    check_json_stream(&json_lines(&finished.stdout), "completed");
    assert_eq!(running.interrupt(), 0);
}

#[test]
fn a_terminal_shows_a_bar_with_a_count_and_an_eta_then_the_summary() {
    use expectrl::{Eof, Regex, Session};

    // 4 s of batch: several frames of the bar before the summary.
    let demo = Demo::paced(800, "");
    let mut command = demo.command(&["site", "generate"]);
    // A known terminal; no colour so the bar's text can be matched as is.
    command.env("TERM", "xterm-256color").env("NO_COLOR", "1");
    let mut session = Session::spawn(command).unwrap();
    session.set_expect_timeout(Some(Duration::from_secs(30)));
    let bar = session
        .expect(Regex(
            r"Generating content \[[=> ]+\] [0-4]/5 +\d+% · \d+s · ETA (\d+|<1) s",
        ))
        .unwrap();
    let bar = String::from_utf8_lossy(bar.get(0).unwrap()).into_owned();
    assert!(bar.contains("/5"), "{bar}");
    let summary = session
        .expect(Regex(r"✔ Generated 5 sections in \d+\.\ds"))
        .unwrap();
    assert!(!summary.get(0).unwrap().is_empty());
    session.expect(Eof).unwrap();
    let status = session.get_process().wait().unwrap();
    assert!(format!("{status:?}").ends_with(", 0)"), "{status:?}");
}

/// The bar fits the terminal from 40 to 200 columns: its row never wraps, the
/// count stays whole (never "8" then "0%" on the next row), and narrow terminals get the
/// count without the bar.
#[test]
fn the_bar_fits_40_to_200_columns() {
    use std::num::NonZeroU16;

    use expectrl::Session;

    let demo = Demo::paced(600, "");
    for cols in [40u16, 60, 120, 200] {
        let mut command = demo.command(&["site", "generate", "--force"]);
        command.env("TERM", "xterm-256color").env("NO_COLOR", "1");
        let mut session = Session::spawn(command).unwrap();
        session.get_process_mut().set_window_size(cols, 30).unwrap();
        let rows = NonZeroU16::new(30).unwrap();
        let mut parser = vt100::Parser::new(rows, NonZeroU16::new(cols).unwrap(), 0);
        let deadline = Instant::now() + Duration::from_secs(60);
        let (mut bars, mut done) = (Vec::new(), false);
        let mut buf = [0u8; 8192];
        while !done {
            assert!(
                Instant::now() < deadline,
                "{cols}: {}",
                parser.screen().contents()
            );
            match session.try_read(&mut buf) {
                Ok(0) | Err(_) if session.get_process().is_alive().ok() == Some(false) => {
                    done = true;
                }
                Ok(n) if n > 0 => parser.process(&buf[..n]),
                // Nothing to read yet: a poll interval, not a wait for the work (the loop
                // ends on the summary or the process's exit; the deadline is only a bound).
                _ => std::thread::sleep(Duration::from_millis(10)),
            }
            // Messages are text and may wrap like any; the bar's row never does.
            let screen = parser.screen();
            for (row, line) in (0..).zip(screen.rows(0, cols)) {
                if !line.contains("/5 ") {
                    continue;
                }
                assert!(
                    !screen.row_wrapped(row),
                    "{cols} columns: the bar wrapped:\n{}",
                    screen.contents()
                );
                if !bars.contains(&line) {
                    bars.push(line);
                }
            }
            done |= screen.contents().contains("✔ Generated 5 sections");
        }
        assert!(!bars.is_empty(), "{cols}: no bar was drawn");
        for bar in &bars {
            assert!(bar.chars().count() <= usize::from(cols), "{cols}: {bar}");
            assert!(
                has_whole_count(bar),
                "{cols}: the count and percentage are whole: {bar}"
            );
            assert_eq!(bar.contains('['), cols >= 70, "{cols}: {bar}");
        }
    }
}

/// "2/5  40%": a count and a percentage, whole, in the bar line.
fn has_whole_count(bar: &str) -> bool {
    let words: Vec<&str> = bar.split_whitespace().collect();
    words.windows(2).any(|w| {
        w[0].split_once('/')
            .is_some_and(|(a, b)| a.parse::<u8>().is_ok() && b == "5")
            && w[1]
                .strip_suffix('%')
                .is_some_and(|p| p.parse::<u8>().is_ok())
    })
}

#[test]
fn a_failed_batch_exits_1_and_lists_what_failed_by_label() {
    let demo = Demo::init();
    demo.failing_generator();
    let failed = demo
        .run(&["site", "generate", "--route", "landing"])
        .expect(1);
    assert_eq!(failed.stdout, "", "{failed:#?}");
    assert!(
        failed.stderr.contains("\n✘ 4 of 4 sections failed\n"),
        "{failed:#?}"
    );
    for section in ["hero", "features", "products", "cta"] {
        // Once: as it failed, or (failing with the last event) in the summary's reasons.
        let reported = failed
            .stderr
            .lines()
            .filter(|l| l.contains(&format!("landing:{section}: ")))
            .count();
        assert_eq!(reported, 1, "{section}: {failed:#?}");
    }
    assert!(
        !failed.stderr.lines().any(|l| l.starts_with("error:")),
        "no second report: {failed:#?}"
    );

    let as_json = demo
        .run(&["site", "generate", "--section", "hero", "--json"])
        .expect(1);
    let lines = json_lines(&as_json.stdout);
    let last = lines.last().unwrap();
    assert_eq!(last["status"], "failed", "{last:#}");
    assert_eq!(last["errors"][0]["label"], "landing:hero", "{last:#}");
}

/// Work whose process ended — killed, or stopped cleanly with the batch unfinished — is
/// never shown as running: every view says it waits for a worker, with no ETA and no
/// countdown, until `brain start` picks it up and finishes it.
#[test]
fn work_left_by_an_ended_process_waits_for_a_worker_until_brain_start_runs_it() {
    for signal in ["-KILL", "-TERM"] {
        // 30 s a section: the batch is mid-way, certainly unfinished, when the signal lands.
        let demo = Demo::paced(30_000, "");
        let mut attached = Attached::spawn(demo.command(&["site", "generate", "--json"]));
        attached.wait_for("processing");
        let id = attached.job_id();
        let ended = attached.signal(signal);
        if signal == "-TERM" {
            // Not the person's Ctrl-C: nothing is cancelled; it says where the work went.
            assert_eq!(ended.code, 143, "{ended:#?}");
            assert!(ended.stderr.contains("Terminated: "), "{ended:#?}");
            assert!(ended.stderr.contains("stays queued"), "{ended:#?}");
        }

        let listed = demo.run(&["jobs", "list"]).expect(0);
        let line = listed
            .stdout
            .lines()
            .find(|l| l.starts_with(&id))
            .unwrap_or_else(|| panic!("{signal}: {id} not listed: {listed:#?}"));
        assert!(
            line.contains("  waiting for a worker  "),
            "{signal}: {line}"
        );
        assert!(
            line.contains("start one (`brain start`)"),
            "{signal}: {line}"
        );
        assert!(
            !line.contains(" left") && !line.contains("check again in"),
            "{signal}: a countdown for work nothing runs: {line}"
        );
        for args in [
            vec!["jobs", "list", "--json"],
            vec!["jobs", "status", &id, "--json"],
        ] {
            let entry = entry_of(&json(&demo.run(&args).expect(0).stdout), &id);
            assert_eq!(
                entry["waitingForWorker"], true,
                "{signal} {args:?}: {entry:#}"
            );
            assert_eq!(entry["workerRunning"], false, "{signal}: {entry:#}");
            assert!(
                entry.get("estimatedCompletion").is_none(),
                "{signal}: {entry:#}"
            );
            assert!(entry.get("checkAgainInMs").is_none(), "{signal}: {entry:#}");
            assert!(
                entry["checkAgainIn"]
                    .as_str()
                    .unwrap()
                    .contains("brain start"),
                "{signal}: {entry:#}"
            );
            assert!(
                entry["progress"]["current"].as_u64().unwrap() < 5,
                "{entry:#}"
            );
        }
        // The status tool says the same, in its text.
        let tool = demo
            .run(&["tool", "status", "--args", &format!(r#"{{"id": "{id}"}}"#)])
            .expect(0);
        assert_eq!(
            json(&tool.stdout)[&id]["waitingForWorker"],
            true,
            "{tool:#?}"
        );

        // A watcher started now says so too, then follows the batch to its end once a
        // worker starts.
        let mut watcher = Attached::spawn(demo.command(&["jobs", "watch", &id, "--json"]));
        let first = watcher.wait_for_line("a progress line", |l| l["event"] == "progress");
        assert_eq!(first["waitingForWorker"], true, "{signal}: {first:#}");
        assert!(
            first.get("estimatedCompletionMs").is_none(),
            "{signal}: {first:#}"
        );
        edit_config(&demo.dir, "delay_ms = 30000", "delay_ms = 20");
        let running = demo.start();
        let watched = watcher.ended(Duration::from_secs(120));
        assert_eq!(watched.code, 0, "{signal}: {watched:#?}");
        let lines = json_lines(&watched.stdout);
        let last = lines.last().unwrap();
        assert_eq!(last["status"], "completed", "{signal}: {last:#}");
        assert_eq!(last["waitingForWorker"], false, "{signal}: {last:#}");
        let listed = demo.run(&["jobs", "list"]).expect(0);
        let row = listed
            .stdout
            .lines()
            .find(|l| l.starts_with(&id))
            .unwrap_or_else(|| panic!("{signal}: {listed:#?}"));
        let cells: Vec<&str> = row.split("  ").filter(|c| !c.is_empty()).collect();
        assert_eq!(cells[1..3], ["completed", "5/5"], "{signal}: {row}");
        assert_eq!(running.interrupt(), 0);
    }
}
