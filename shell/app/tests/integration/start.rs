//! `brain start`: runs until SIGTERM (what service managers send) or SIGINT, then stops
//! cleanly with exit code 0.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{brain, scaffolded};

fn start_and_stop(signal: &str) {
    let (_tmp, dir) = scaffolded();
    let mut child = brain(&dir, &["start"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    while !said.contains("Ctrl-C to stop") {
        assert_ne!(
            stderr.read_line(&mut said).unwrap(),
            0,
            "exited early:\n{said}"
        );
    }
    assert!(said.contains("(workers: 4)"), "{said}");
    // It indexes the notes as a job of its own, so the first search is quick.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let listed = crate::support::brain_run(&dir, &["jobs", "list", "--json"]).expect(0);
        let jobs: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
        let indexed = jobs.as_array().unwrap().iter().any(|j| {
            j["label"] == "notes" && j["status"] == "completed" && j["result"]["scanned"] == 4
        });
        if indexed {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no completed notes index job: {jobs:#}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args([signal, &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "still running after {signal}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert_eq!(status.code(), Some(0), "{said}{rest}");
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    assert!(stdout.is_empty(), "start printed to stdout: {stdout}");
}

#[test]
fn stops_cleanly_on_sigterm() {
    start_and_stop("-TERM");
}

#[test]
fn stops_cleanly_on_sigint() {
    start_and_stop("-INT");
}
