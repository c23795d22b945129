//! Running `brain-example`: one-shot commands, and `start` as a background process that is
//! stopped with a signal.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What one run printed.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    #[track_caller]
    pub(crate) fn expect(self, code: i32) -> Run {
        assert_eq!(self.code, code, "exit code; {self:#?}");
        self
    }
}

/// `brain-example --dir dir args…` without `BRAIN_*` or `RUST_LOG` from the test's
/// environment.
pub(crate) fn command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_brain-example"));
    command.arg("--dir").arg(dir).args(args);
    for (name, _) in std::env::vars_os() {
        let text = name.to_string_lossy();
        if text.starts_with("BRAIN_") || text == "RUST_LOG" {
            command.env_remove(&name);
        }
    }
    command
}

pub(crate) fn run(dir: &Path, args: &[&str]) -> Run {
    let output = command(dir, args).output().expect("run brain-example");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

/// `brain-example start` in the background; killed on drop if still running.
pub(crate) struct Running {
    child: Child,
    /// Its stderr, line by line (read on a thread so the pipe never fills up).
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    /// Starts it and waits until it says it runs.
    pub(crate) fn start(dir: &Path) -> Running {
        let mut child = command(dir, &["start"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn brain-example start");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut running = Running {
            child,
            lines,
            seen: Vec::new(),
        };
        running.wait_for_line("brain running in", Duration::from_secs(30));
        running
    }

    fn wait_for_line(&mut self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(needle);
                    self.seen.push(line);
                    if found {
                        return;
                    }
                }
                Err(_) => panic!(
                    "no {needle:?} on stderr; it said:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Sends SIGINT (what Ctrl-C sends) and returns the exit code, waiting up to `timeout`.
    pub(crate) fn interrupt(mut self, timeout: Duration) -> i32 {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(100)) {
                    self.seen.push(line);
                }
                return status.code().unwrap_or_else(|| {
                    panic!("killed by a signal; it said:\n{}", self.seen.join("\n"))
                });
            }
            assert!(
                Instant::now() < deadline,
                "still running {timeout:?} after SIGINT; it said:\n{}",
                self.seen.join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
