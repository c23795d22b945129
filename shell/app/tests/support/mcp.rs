//! `brain mcp` as a child process: over HTTP on a free port (stopped with SIGTERM), or on
//! stdio for raw JSON-RPC.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::Demo;
use super::process::wait_within;

/// `brain mcp --http 127.0.0.1:0` in the background; stopped with SIGTERM on drop.
pub(crate) struct HttpBrain {
    child: Child,
    pub(crate) url: String,
}

impl HttpBrain {
    pub(crate) fn start(demo: &Demo, addr: &str) -> HttpBrain {
        let mut child = super::brain(demo.tmp.path(), &["--dir", "demo", "mcp", "--http", addr])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("brain MCP server at ") {
                    let url = rest.split(';').next().unwrap().to_owned();
                    let _ = tx.send(url);
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("brain mcp --http said where it listens");
        HttpBrain { child, url }
    }

    /// SIGTERM, then the exit code (waiting up to a minute).
    pub(crate) fn stop(self) -> i32 {
        self.terminate_within(Duration::from_secs(60)).0
    }

    /// SIGTERM, then the exit code and how long it took; panics if it is still running after
    /// `bound` (it is then killed on drop).
    pub(crate) fn terminate_within(mut self, bound: Duration) -> (i32, Duration) {
        let sent = Instant::now();
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exited = wait_within(&mut self.child, bound)
            .unwrap_or_else(|| panic!("brain mcp --http still running {bound:?} after SIGTERM"));
        (exited.code().unwrap_or(-1), sent.elapsed())
    }
}

impl Drop for HttpBrain {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `brain mcp` on stdio for raw JSON-RPC: stdin and stdout piped, stderr dropped.
pub(crate) fn stdio_brain(demo: &Demo) -> Child {
    stdio_brain_with(demo, &[])
}

/// `brain mcp extra…` on stdio, as [`stdio_brain`].
pub(crate) fn stdio_brain_with(demo: &Demo, extra: &[&str]) -> Child {
    let mut args = vec!["--dir", "demo", "mcp"];
    args.extend_from_slice(extra);
    super::brain(demo.tmp.path(), &args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Sends JSON-RPC `request` (it has an `id`) on a raw stdio session and waits up to `bound`
/// for its answer; every message that arrives meanwhile goes to `seen`.
pub(crate) fn call(
    stdin: &mut impl Write,
    messages: &mpsc::Receiver<serde_json::Value>,
    seen: &mut Vec<serde_json::Value>,
    request: &serde_json::Value,
    bound: Duration,
) -> serde_json::Value {
    writeln!(stdin, "{request}").unwrap();
    stdin.flush().unwrap();
    let id = request["id"].clone();
    super::process::next_matching(messages, bound, seen, |m| m["id"] == id)
}

/// The `status` tool's entry for job or batch `id`, asked over a raw stdio session as
/// request `request` (see [`call`]).
pub(crate) fn status_entry(
    stdin: &mut impl Write,
    messages: &mpsc::Receiver<serde_json::Value>,
    seen: &mut Vec<serde_json::Value>,
    request: u64,
    id: &str,
) -> serde_json::Value {
    let status = serde_json::json!({"jsonrpc": "2.0", "id": request, "method": "tools/call",
        "params": {"name": "status", "arguments": {"id": id}}});
    let answer = call(stdin, messages, seen, &status, Duration::from_secs(60));
    answer["result"]["structuredContent"][id].clone()
}
