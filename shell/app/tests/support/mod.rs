//! Test support shared by both tiers (tests/integration, hermetic; tests/e2e, with real
//! peers): running the `brain` binary in a clean environment and capturing what it printed,
//! a scaffolded demo brain, `brain mcp` and other children as processes.

use std::path::{Path, PathBuf};
use std::process::Command;

mod demo;
pub(crate) mod http;
pub(crate) mod mcp;
pub(crate) mod process;

pub(crate) use demo::{Demo, Running, json};

/// What one run of `brain` did.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    /// Panics with everything printed unless the exit code is `code`.
    #[track_caller]
    pub(crate) fn expect(self, code: i32) -> Run {
        assert_eq!(self.code, code, "exit code; {self:#?}");
        self
    }
}

/// `brain` with `args`, in `cwd`, with no `BRAIN_*` or `RUST_LOG` variables from the
/// environment running the tests.
pub(crate) fn brain(cwd: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_brain"));
    command.args(args).current_dir(cwd);
    for (name, _) in std::env::vars_os() {
        let text = name.to_string_lossy();
        if text.starts_with("BRAIN_") || text == "RUST_LOG" {
            command.env_remove(&name);
        }
    }
    command
}

pub(crate) fn run(mut command: Command) -> Run {
    let output = command.output().expect("run brain");
    Run {
        // A signal death has no code; -1 never matches an expected one.
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

/// Runs `brain args` in `cwd`.
pub(crate) fn brain_run(cwd: &Path, args: &[&str]) -> Run {
    run(brain(cwd, args))
}

/// A temporary folder with a brain scaffolded in `brain/` inside it.
pub(crate) fn scaffolded() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    brain_run(tmp.path(), &["init", "brain"]).expect(0);
    let dir = tmp.path().join("brain");
    (tmp, dir)
}

/// The entry of `id` in `jobs list --json` (an array) or `jobs status --json` (one object).
pub(crate) fn entry_of(listed: &serde_json::Value, id: &str) -> serde_json::Value {
    let all = match listed.as_array() {
        Some(all) => all.clone(),
        None => vec![listed.clone()],
    };
    all.into_iter()
        .find(|entry| entry["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {listed:#}"))
}

/// Replaces `from` (which must be there) with `to` in the brain's `brain.toml`.
pub(crate) fn edit_config(dir: &Path, from: &str, to: &str) {
    let path = dir.join("brain.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{from:?} not in brain.toml");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

/// The id a detached start printed: "Queued batch batch_…: …" (the third word).
pub(crate) fn detached_id(stdout: &str) -> String {
    stdout
        .split_whitespace()
        .nth(2)
        .unwrap_or_else(|| panic!("no id in {stdout:?}"))
        .trim_end_matches(':')
        .to_owned()
}

/// Polls `done` every 50 ms for at most a minute (an upper bound, never a pace).
pub(crate) fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
