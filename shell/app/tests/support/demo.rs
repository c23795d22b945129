//! A brain made by `brain init demo` in a temporary folder, driven through the binary as a
//! person would (`brain --dir demo …`), and `brain start` running in the background.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use super::{Run, brain, brain_run};

/// How long any one job or batch may take to finish.
const JOB_TIMEOUT: Duration = Duration::from_secs(60);

pub(crate) fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: not JSON:\n{stdout}"))
}

/// A brain made by `brain init demo` in a temporary folder. Commands run from that folder
/// with `--dir demo`, as the README shows.
pub(crate) struct Demo {
    pub(crate) tmp: tempfile::TempDir,
    /// The brain directory: `<tmp>/demo`.
    pub(crate) dir: PathBuf,
}

impl Demo {
    pub(crate) fn init() -> Demo {
        let tmp = tempfile::tempdir().unwrap();
        brain_run(tmp.path(), &["init", "demo"]).expect(0);
        let dir = tmp.path().join("demo");
        Demo { tmp, dir }
    }

    /// A brain paced for watching progress: one worker, `delay_ms` per generated section,
    /// plus `extra` TOML at the end of brain.toml.
    pub(crate) fn paced(delay_ms: u32, extra: &str) -> Demo {
        let demo = Demo::init();
        demo.slow_generator(delay_ms);
        super::edit_config(&demo.dir, "concurrency = 4", "concurrency = 1");
        demo.append_config(extra);
        demo
    }

    /// Adds `toml` at the end of brain.toml.
    pub(crate) fn append_config(&self, toml: &str) {
        let path = self.dir.join("brain.toml");
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(toml);
        std::fs::write(path, text).unwrap();
    }

    /// `brain --dir demo args…`, not yet run.
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut all = vec!["--dir", "demo"];
        all.extend_from_slice(args);
        brain(self.tmp.path(), &all)
    }

    /// `brain --dir demo args…`.
    pub(crate) fn run(&self, args: &[&str]) -> Run {
        super::run(self.command(args))
    }

    /// `brain --dir demo tool name --args args --detach`: exit code 0 and the JSON it
    /// printed (a tool that starts work only starts it: its handle).
    pub(crate) fn tool(&self, name: &str, args: &Value) -> Value {
        json(
            &self
                .run(&["tool", name, "--args", &args.to_string(), "--detach"])
                .expect(0)
                .stdout,
        )
    }

    /// Starts a tool that answers with a job or batch (`kind`), checks the answer and
    /// follows it to completion; returns (the answer, the finished entry).
    pub(crate) fn tool_until_done(&self, name: &str, args: &Value, kind: &str) -> (Value, Value) {
        let started = self.tool(name, args);
        assert_eq!(started["success"], true, "{started:#}");
        assert_eq!(started["type"], kind, "{started:#}");
        assert_eq!(started["status"], "started", "{started:#}");
        let id = started["jobId"].as_str().unwrap().to_owned();
        assert!(id.starts_with(&format!("{kind}_")), "{started:#}");
        let finished = self.wait_completed(&id);
        (started, finished)
    }

    /// Makes the offline generator pause `ms` per section, so that a batch's progress can
    /// be seen between polls.
    pub(crate) fn slow_generator(&self, ms: u32) {
        super::edit_config(
            &self.dir,
            "provider = \"local\"\n",
            &format!("provider = \"local\"\nlocal = {{ delay_ms = {ms} }}\n"),
        );
    }

    /// Points the generator at an endpoint nobody listens on, with no retries: every
    /// section fails, fast.
    pub(crate) fn failing_generator(&self) {
        super::edit_config(
            &self.dir,
            "provider = \"local\"\n",
            "provider = \"openai\"\nopenai = { base_url = \"http://127.0.0.1:9/v1\", model = \"m\", \
             api_key = \"k\", max_retries = 0, timeout_seconds = 2 }\n",
        );
    }

    pub(crate) fn write_note(&self, name: &str, text: &str) {
        std::fs::write(self.dir.join("notes").join(name), text).unwrap();
    }

    /// `brain --dir demo start` in the background, once it says it runs.
    pub(crate) fn start(&self) -> Running {
        Running::start(self.command(&["start"]))
    }

    /// `brain jobs status id --json`: the entry of `id` (exit code 0 checked).
    pub(crate) fn status(&self, id: &str) -> Value {
        json(&self.run(&["jobs", "status", id, "--json"]).expect(0).stdout)
    }

    /// Polls `jobs status id --json` until the job or batch is finished; asserts that its
    /// progress never went back (nor its total changed) between polls and that it
    /// completed. Returns its last entry.
    pub(crate) fn wait_completed(&self, id: &str) -> Value {
        let deadline = Instant::now() + JOB_TIMEOUT;
        let mut last: Option<(u64, u64)> = None;
        let mut seen = Vec::new();
        loop {
            let entry = self.status(id);
            if let (Some(current), Some(total)) = (
                entry["progress"]["current"].as_u64(),
                entry["progress"]["total"].as_u64(),
            ) {
                if let Some((before, before_total)) = last {
                    assert!(
                        current >= before,
                        "{id}: progress went back from {before} to {current}: {seen:?}"
                    );
                    assert_eq!(total, before_total, "{id}: the total changed: {seen:?}");
                }
                assert!(current <= total, "{id}: {entry:#}");
                last = Some((current, total));
                if seen.last() != Some(&current) {
                    seen.push(current);
                }
            }
            match entry["status"].as_str() {
                // Its files are written just after the completion commits: once no staged
                // effect is left to apply, they are in place.
                Some("completed") if self.effects_left() == 0 => return entry,
                Some("completed") => {}
                Some("failed" | "cancelled") => panic!("{id} did not complete: {entry:#}"),
                _ => {}
            }
            assert!(
                Instant::now() < deadline,
                "{id} not finished after {JOB_TIMEOUT:?}: {entry:#}"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Side effects committed and not applied yet (the queue's outbox).
    pub(crate) fn effects_left(&self) -> i64 {
        let db = self.dir.join(".brain/brain.db");
        let conn =
            rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .unwrap();
        conn.busy_timeout(Duration::from_secs(5)).unwrap();
        conn.query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))
            .unwrap()
    }

    /// Every file under `content/<environment>/` (relative to it) with its bytes and mtime.
    pub(crate) fn content(&self, environment: &str) -> BTreeMap<String, (Vec<u8>, SystemTime)> {
        fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, (Vec<u8>, SystemTime)>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(root, &path, out);
                } else {
                    let modified = path.metadata().unwrap().modified().unwrap();
                    let relative = path.strip_prefix(root).unwrap().to_string_lossy();
                    out.insert(
                        relative.replace('\\', "/"),
                        (std::fs::read(&path).unwrap(), modified),
                    );
                }
            }
        }
        let root = self.dir.join("content").join(environment);
        let mut out = BTreeMap::new();
        walk(&root, &root, &mut out);
        out
    }

    pub(crate) fn read(&self, relative: &str) -> String {
        let path = self.dir.join(relative);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }
}

/// `brain start` in the background; killed on drop if still running.
pub(crate) struct Running {
    child: Child,
    /// Its stderr, line by line (read on a thread so the pipe never fills up).
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    /// Runs `command` (a `brain … start`) in the background, once it says it runs.
    pub(crate) fn start(command: Command) -> Running {
        let mut running = Running::spawn(command);
        running.wait_for_line("brain running in", Duration::from_secs(30));
        running
    }

    /// Runs `command` in the background, its stderr read line by line.
    pub(crate) fn spawn(mut command: Command) -> Running {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn brain");
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
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Sends SIGINT (what Ctrl-C sends); returns the exit code, waiting up to 15 s.
    pub(crate) fn interrupt(self) -> i32 {
        self.interrupt_and_read().0
    }

    /// Sends SIGINT; returns the exit code and everything it wrote to stderr.
    pub(crate) fn interrupt_and_read(self) -> (i32, String) {
        let pid = self.child.id();
        self.interrupt_pid_and_read(pid)
    }

    /// Waits (up to `bound`) for a line of its stderr containing `needle`; returns it.
    pub(crate) fn wait_for_line(&mut self, needle: &str, bound: Duration) -> String {
        let deadline = Instant::now() + bound;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line with {needle:?} within {bound:?}; it said:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// The pid of what was started (for a wrapper such as `unshare`, the wrapper's).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGINT to `pid` (the process itself, or one a wrapper started), then waits
    /// for what was started to exit; its exit code and stderr.
    pub(crate) fn interrupt_pid_and_read(mut self, pid: u32) -> (i32, String) {
        assert!(
            Command::new("kill")
                .args(["-INT", &pid.to_string()])
                .status()
                .unwrap()
                .success()
        );
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(100)) {
                    self.seen.push(line);
                }
                let code = status.code().unwrap_or_else(|| {
                    panic!("killed by a signal; it said:\n{}", self.seen.join("\n"))
                });
                return (code, self.seen.join("\n"));
            }
            assert!(
                Instant::now() < deadline,
                "still running 15 s after SIGINT; it said:\n{}",
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
