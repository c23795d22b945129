//! Child processes a test talks to: waiting for an exit within a bound, and reading what a
//! child prints as JSON lines while it runs.

use std::io::{BufRead, BufReader};
use std::process::{Child, ExitStatus};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The child's exit status once it exits, or None if it is still running after `bound`.
pub(crate) fn wait_within(child: &mut Child, bound: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + bound;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Each line a child prints on stdout, parsed as JSON, as it comes; a line that is not JSON
/// comes as `{"notJson": line}`.
pub(crate) fn json_lines(child: &mut Child) -> mpsc::Receiver<Value> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let msg = serde_json::from_str(&line).unwrap_or_else(|_| json!({ "notJson": line }));
            if tx.send(msg).is_err() {
                break;
            }
        }
    });
    rx
}

/// The next message `pick` accepts, skipping others, within `bound`.
pub(crate) fn next_matching(
    rx: &mpsc::Receiver<Value>,
    bound: Duration,
    seen: &mut Vec<Value>,
    pick: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + bound;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(msg) => {
                seen.push(msg.clone());
                if pick(&msg) {
                    return msg;
                }
            }
            Err(e) => panic!("{e} waiting {bound:?} for a message; seen: {seen:#?}"),
        }
    }
}
