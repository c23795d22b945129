//! End-to-end tests of `brain chat`. On a real pseudo-terminal (expectrl), with the byte
//! stream turned into a screen (vt100) so rows can be asserted: a live bar with a count and
//! an ETA while the typed line stays exactly as typed (also across a resize), the bar
//! becoming its summary line, two operations with two bars, Tab completion, history,
//! `/status`, `/jobs`, `/cancel`, errors, a question answered from the notes, Ctrl-C,
//! quitting with work unfinished (it goes back to the queue and the next chat resumes it),
//! and a chat killed mid-batch (its work waits for a worker until `brain start` runs it).
//! Piped, line by line: the script's output, its errors, and its exit code.
//!
//! The brain is paced so progress is visible: the offline generator pauses per section
//! (`[ai.local] delay_ms`) and the queue runs one job at a time.

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::Demo;
use crate::support::{brain, run};
use crate::term::{COLS, TIMEOUT, Term};

/// `brain chat` on a pseudo-terminal for the demo brain.
fn chat(demo: &Demo) -> Term {
    let mut command = brain(demo.tmp.path(), &["--dir", "demo", "chat"]);
    command.env("TERM", "xterm-256color").env("NO_COLOR", "1");
    Term::spawn(command)
}

/// A bar row of a generate batch with a count and an ETA: "⠋ Generating content [==> ]
/// 2/5  40% · 1s · ETA 2 s · …"; its count.
fn generate_bar(row: &str) -> Option<u64> {
    let rest = row.split_once(" Generating content [")?.1;
    let (_, rest) = rest.split_once("] ")?;
    let (count, rest) = rest.split_once('/')?;
    (rest.contains("% · ") && rest.contains("s · ETA ")).then_some(())?;
    count.parse().ok()
}

/// The batch id in the "Queued batch batch_…: …" line a site command printed.
fn started_id(term: &Term, nth: usize) -> String {
    term.rows()
        .iter()
        .filter_map(|r| {
            r.strip_prefix("Queued batch ")
                .or(r.strip_prefix("Started batch "))
        })
        .nth(nth)
        .and_then(|r| r.split(':').next())
        .unwrap_or_else(|| panic!("no batch {nth} started:\n{}", term.screen()))
        .to_owned()
}

/// A chat killed mid-batch (SIGKILL: it cleans nothing up) leaves its batch waiting for a
/// worker — never shown as running, no ETA — until `brain start` finishes it.
#[test]
fn a_killed_chat_leaves_its_work_waiting_for_a_worker() {
    // 30 s a section: the batch is surely unfinished when the chat is killed.
    let demo = Demo::paced(30_000, "");
    let mut term = chat(&demo);
    term.enter("/generate");
    term.wait_for("a bar", |t| generate_bar(&t.above_prompt(1)).is_some());
    let id = started_id(&term, 0);
    term.kill();
    let entry = demo.status(&id);
    assert_eq!(entry["waitingForWorker"], true, "{entry:#}");
    assert!(entry.get("estimatedCompletionMs").is_none(), "{entry:#}");
    let listed = run(brain(demo.tmp.path(), &["--dir", "demo", "jobs", "list"])).expect(0);
    assert!(
        listed
            .stdout
            .lines()
            .any(|l| l.starts_with(&id) && l.contains("waiting for a worker")),
        "{listed:#?}"
    );
    crate::support::edit_config(&demo.dir, "delay_ms = 30000", "delay_ms = 20");
    let worker = demo.start();
    let done = demo.wait_completed(&id);
    assert_eq!(done["waitingForWorker"], false, "{done:#}");
    assert_eq!(worker.interrupt(), 0);
}

#[test]
fn typing_survives_a_live_bar_which_becomes_the_summary() {
    // 12.5 s of batch: the bar moves (one section done) and is redrawn after a resize
    // long before the end, even on a busy machine; then the summary replaces it.
    let demo = Demo::paced(2_500, "");
    let mut term = chat(&demo);
    term.enter("/generate");
    term.wait_for("a bar with a count and an ETA", |t| {
        generate_bar(&t.above_prompt(1)).is_some()
    });
    let id = started_id(&term, 0);

    // Typed without Enter while the bar moves: the prompt row stays exactly the text.
    term.send("hello wor");
    let mut counts = Vec::new();
    let mut bars = Vec::new();
    let deadline = Instant::now() + TIMEOUT;
    while counts.len() < 2 || bars.len() < 4 {
        assert!(
            Instant::now() < deadline,
            "the bar did not move:\n{}",
            term.screen()
        );
        std::thread::sleep(Duration::from_millis(50));
        term.pump();
        let prompt = term.prompt();
        if prompt == "brain>" {
            continue; // the typed text has not arrived yet
        }
        assert_eq!(prompt, "brain> hello wor", "\n{}", term.screen());
        assert_eq!(term.cursor_col(), 16, "\n{}", term.screen());
        let bar = term.above_prompt(1);
        let count = generate_bar(&bar).unwrap_or_else(|| panic!("{bar}\n{}", term.screen()));
        assert_eq!(
            term.rows()
                .iter()
                .filter(|r| r.contains("Generating content ["))
                .count(),
            1,
            "one bar:\n{}",
            term.screen()
        );
        if !counts.contains(&count) {
            counts.push(count);
        }
        if !bars.contains(&bar) {
            bars.push(bar);
        }
    }

    // A narrower terminal: still one bar row, one prompt row with the text, nothing wider.
    // Frames drawn before the resize are read at the old width.
    term.resize(60);
    // Redrawn rows are cut to 59 columns (vt100 cuts what was there to 60, ending in the
    // percentage's first digit, so the old row cannot pass for a new one).
    term.wait_for("a redraw at 60 columns", |t| {
        let bar = t.above_prompt(1);
        bar.contains("Generating content [") && bar.chars().count() <= 59
    });
    assert_eq!(term.prompt(), "brain> hello wor", "\n{}", term.screen());
    assert_eq!(term.cursor_col(), 16, "\n{}", term.screen());
    let rows = term.rows();
    assert_eq!(
        rows.iter().filter(|r| r.starts_with("brain> ")).count(),
        2,
        "the echoed /generate and the prompt:\n{}",
        term.screen()
    );
    assert_eq!(
        rows.iter()
            .filter(|r| r.contains("Generating content ["))
            .count(),
        1,
        "{}",
        term.screen()
    );
    term.resize(COLS);

    // Ctrl-U clears the line; the summary replaces the bar.
    term.send("\x15");
    term.wait_for("the summary line", |t| {
        t.prompt() == "brain>"
            && t.above_prompt(1).starts_with("✔ Generated 5 sections in ")
            && t.above_prompt(1).ends_with('s')
    });
    assert!(
        !term.has_row(|r| r.contains("Generating content [")),
        "{}",
        term.screen()
    );

    // Tab completion, then history.
    term.send("/gen\t");
    term.wait_for("/generate completed", |t| t.prompt() == "brain> /generate");
    assert_eq!(term.cursor_col(), 17, "a space after the command");
    term.send("lan\t");
    term.wait_for("the route completed", |t| {
        t.prompt() == "brain> /generate landing"
    });
    term.send("\x15/bu\tp");
    term.wait_for("/build p", |t| t.prompt() == "brain> /build p");
    term.send("\t");
    term.wait_for("the common prefix", |t| t.prompt() == "brain> /build pr");
    term.send("\t");
    term.wait_for("the choices listed", |t| {
        t.above_prompt(1) == "preview  production" && t.prompt() == "brain> /build pr"
    });
    term.send("\x15");
    term.send("\x1b[A");
    term.wait_for("Up to recall /generate", |t| {
        t.prompt() == "brain> /generate"
    });
    term.send("\x15");

    term.enter("/status");
    term.wait_for("the status", |t| {
        t.has_row(|r| r.starts_with(&format!("{id} completed 5/5 (100%)")))
    });
    term.enter(&format!("/status {id}"));
    term.enter("/jobs");
    term.wait_for("/status ID and /jobs to list the batch too", |t| {
        let line = format!("{id} completed 5/5 (100%)");
        t.rows().iter().filter(|r| r.starts_with(&line)).count() == 3
    });
    term.enter("/status nope");
    term.wait_for("the unknown id named", |t| {
        t.has_row(|r| {
            r == "error: /status: invalid input at `id`: no job or batch with id \"nope\""
        })
    });
    term.enter("/frobnicate now");
    term.wait_for("the unknown command named", |t| {
        t.has_row(|r| {
            r.starts_with("error: unknown command `/frobnicate`: the commands are /generate,")
        })
    });
    term.enter("/build staging");
    term.wait_for("the bad environment named", |t| {
        t.has_row(|r| {
            r == "error: /build: `staging` is not a valid env: expected preview or production"
        })
    });
    term.enter("what is my brain?");
    term.wait_for("an answer from the notes", |t| {
        t.has_row(|r| r.starts_with("From “Welcome to your brain”"))
    });
    term.enter("/help");
    term.wait_for("the help", |t| {
        t.has_row(|r| r.starts_with("  /cancel <id>"))
    });
    term.send("/quit\r");
    assert_eq!(term.exit_code(), 0);

    let history = std::fs::read_to_string(demo.dir.join(".brain/chat_history")).unwrap();
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(lines.first(), Some(&"/generate"), "{history}");
    assert_eq!(lines.last(), Some(&"/quit"), "{history}");
    assert!(lines.contains(&"what is my brain?"), "{history}");
}

#[test]
fn two_operations_two_bars_cancel_and_quitting_leaves_work_queued() {
    // 30 s a section: nothing here may finish by itself (both batches are cancelled or
    // left queued, and cancelling or quitting cuts the pause).
    let demo = Demo::paced(30_000, "");
    let mut term = chat(&demo);
    term.enter("/generate landing");
    term.enter("/generate about");
    term.wait_for("two bars", |t| {
        t.above_prompt(2).contains("Generating content [")
            && t.above_prompt(1).contains("Generating content [")
    });
    let landing = started_id(&term, 0);
    let about = started_id(&term, 1);

    // Tab completes an active id from its start; /cancel stops that one only.
    term.send(&format!("/cancel {}", &about[..about.len() - 3]));
    term.send("\t");
    term.wait_for("the id completed", |t| {
        t.prompt() == format!("brain> /cancel {about}")
    });
    term.send("\r");
    term.wait_for("the cancelled summary", |t| {
        t.has_row(|r| r.starts_with("✘ Cancelled: 0 of 1 section"))
    });
    assert!(
        term.above_prompt(1).contains("Generating content ["),
        "{}",
        term.screen()
    );
    assert!(
        !term.above_prompt(2).contains("Generating content ["),
        "{}",
        term.screen()
    );

    // A line longer than the terminal scrolls within the prompt row, under the live bar.
    let long = format!("{}end", "x".repeat(150));
    term.send(&long);
    term.wait_for("the long line's end at the cursor", |t| {
        t.prompt().starts_with("brain> xxx") && t.prompt().ends_with("xxend")
    });
    let prompt = term.prompt();
    assert!(prompt.chars().count() < usize::from(COLS), "{prompt}");
    assert_eq!(usize::from(term.cursor_col()), prompt.chars().count());
    assert!(
        term.above_prompt(1).contains("Generating content ["),
        "{}",
        term.screen()
    );
    term.send("\x15");
    term.wait_for("the line cleared", |t| t.prompt() == "brain>");

    // Quitting with the landing batch unfinished: it goes back to the queue.
    term.send("/quit\r");
    let code = {
        let mut t = term;
        t.wait_for("the farewell", |t| {
            t.has_row(|r| r.starts_with(&format!("Quitting with unfinished work: {landing}.")))
        });
        t.exit_code()
    };
    assert_eq!(code, 0);
    let entry = demo.status(&landing);
    let state = entry["status"].as_str().unwrap();
    assert!(["pending", "processing"].contains(&state), "{entry:#}");
    // No process runs it now: it is not shown as running.
    assert_eq!(entry["waitingForWorker"], true, "{entry:#}");
    assert!(entry.get("estimatedCompletionMs").is_none(), "{entry:#}");

    // The next chat picks it up and shows its bar; Ctrl-C twice on an empty line quits.
    let mut term = chat(&demo);
    term.wait_for("the resumed batch", |t| {
        t.has_row(|r| {
            r.starts_with(&format!(
                "Unfinished work in the queue, continuing: {landing}"
            ))
        }) && t.above_prompt(1).contains("Generating content [")
    });
    // With one operation running, /cancel needs no id.
    term.enter("/cancel");
    term.wait_for("the resumed batch cancelled", |t| {
        t.has_row(|r| r.starts_with("✘ Cancelled: ") && r.ends_with(" of 4 sections done"))
    });
    term.send("abc\x03");
    term.wait_for("Ctrl-C to clear the line", |t| t.prompt() == "brain>");
    term.send("\x03");
    term.wait_for("how to quit", |t| {
        t.has_row(|r| r.starts_with("(To quit: Ctrl-C again"))
    });
    term.send("\x03");
    assert_eq!(term.exit_code(), 0);
}

#[test]
fn piped_commands_run_in_order_with_plain_output() {
    let demo = Demo::paced(100, "");
    let mut command = brain(demo.tmp.path(), &["--dir", "demo", "chat"]);
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            b"/generate about\n/build\n/frob\n/build staging\n\nwhat is my brain?\n/status nope\n/jobs\n/quit\n/jobs\n",
        )
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a command failed:\n{stdout}\n{stderr}"
    );
    assert!(
        !stdout.contains('\x1b') && !stderr.contains('\x1b'),
        "{stdout}\n{stderr}"
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("✔ Generated 1 section in "),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with("✔ Built preview: 10 pages in "),
        "{stdout}"
    );
    assert!(
        lines[2].starts_with("From “Welcome to your brain”"),
        "{stdout}"
    );
    let listed: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("batch_") || l.starts_with("job_"))
        .collect();
    assert_eq!(
        listed.len(),
        2,
        "one /jobs listing (none after /quit):\n{stdout}"
    );
    assert!(demo.dir.join("dist/preview/index.html").is_file());
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(
        errors,
        [
            "error: unknown command `/frob`: the commands are /generate, /build, /promote, /serve, /rollback, /status, /jobs, /cancel, /retry, /logs, /help, /quit",
            "error: /build: `staging` is not a valid env: expected preview or production",
            "error: /status: invalid input at `id`: no job or batch with id \"nope\"",
        ],
        "{stderr}"
    );
    // The plain progress of `brain site …` in a pipe, in order.
    let about = stderr.find(": completed — Generating content").unwrap();
    let build = stderr.find(": completed — build preview").unwrap();
    assert!(about < build, "{stderr}");

    let quiet = run({
        let mut c = brain(demo.tmp.path(), &["--dir", "demo", "chat"]);
        c.stdin(Stdio::null());
        c
    })
    .expect(0);
    assert_eq!(quiet.stdout, "", "{quiet:#?}");

    let help = run(brain(demo.tmp.path(), &["chat", "--help"])).expect(0);
    for command in [
        "/generate",
        "/build [preview|production]",
        "/promote",
        "/rollback",
        "/status [id]",
        "/jobs",
        "/cancel",
        "/help",
        "/quit",
    ] {
        assert!(help.stdout.contains(command), "{command}: {help:#?}");
    }
}
