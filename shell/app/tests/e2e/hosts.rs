//! Several hosts, one queue: two worker hosts and an MCP-server host, each in a network
//! namespace of its own (with a hostname of its own, so none takes another's processes for
//! its own), share one brain's queue on a real PostgreSQL server that listens only on the
//! test's own addresses. A batch of 200 jobs is spread over both workers and followed by an
//! MCP client to its end; one worker host is killed mid-batch (every process in its
//! namespace SIGKILLed) and the other finishes its jobs once their lease has expired; the
//! status counts those rescued runs.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::Demo;
use crate::support::mcp::status_entry;
use crate::support::process::{json_lines, next_matching};

#[allow(dead_code)]
#[path = "../../../job-queue/tests/support/pg_cluster.rs"]
mod pg_cluster;

/// Jobs in the batch.
const JOBS: usize = 200;
/// Jobs the whole batch has done when the first worker host is killed.
const KILL_AT: u64 = 40;

/// Network namespaces joined to this one by a veth pair each: namespace `i` is 10.T.i.2,
/// and reaches only 10.T.i.1, its end here. Removed (with every process in them) on drop.
struct Hosts {
    tag: u32,
    names: Vec<String>,
}

impl Hosts {
    fn create(count: u32) -> Hosts {
        let pid = std::process::id();
        let hosts = Hosts {
            tag: 20 + pid % 200,
            names: (0..count).map(|i| format!("brains-{pid}-{i}")).collect(),
        };
        for (i, ns) in hosts.names.iter().enumerate() {
            let (here, there) = (format!("bh{pid}x{i}"), format!("bn{pid}x{i}"));
            let gateway = format!("{}/24", hosts.gateway(i));
            let address = format!("10.{}.{i}.2/24", hosts.tag);
            ip(&["netns", "add", ns]);
            ip(&["link", "add", &here, "type", "veth", "peer", "name", &there]);
            ip(&["link", "set", &there, "netns", ns]);
            ip(&["addr", "add", &gateway, "dev", &here]);
            ip(&["link", "set", &here, "up"]);
            ip(&[
                "netns", "exec", ns, "ip", "addr", "add", &address, "dev", &there,
            ]);
            ip(&["netns", "exec", ns, "ip", "link", "set", &there, "up"]);
            // Wake-up datagrams between a host's own processes go over its loopback.
            ip(&["netns", "exec", ns, "ip", "link", "set", "lo", "up"]);
        }
        hosts
    }

    /// The address this namespace has on host `i`'s link: where its PostgreSQL is.
    fn gateway(&self, i: usize) -> String {
        format!("10.{}.{i}.1", self.tag)
    }

    /// `brain args…` on host `i`, named `hostname`, with the queue at `url`.
    fn brain(&self, i: usize, hostname: &str, demo: &Demo, url: &str, args: &[&str]) -> Command {
        let mut command = Command::new("ip");
        command
            .args([
                "netns",
                "exec",
                &self.names[i],
                "unshare",
                "--uts",
                "--",
                "sh",
                "-c",
            ])
            .arg(r#"hostname "$0" && exec "$@""#)
            .arg(hostname)
            .arg(env!("CARGO_BIN_EXE_brain"))
            .args(["--dir", "demo"])
            .args(args)
            .current_dir(demo.tmp.path())
            .env("BRAIN_QUEUE__URL", url);
        for (name, _) in std::env::vars_os() {
            let text = name.to_string_lossy();
            if (text.starts_with("BRAIN_") && text != "BRAIN_QUEUE__URL") || text == "RUST_LOG" {
                command.env_remove(&name);
            }
        }
        command
    }

    /// SIGKILLs every process in host `i`'s namespace: the host is gone.
    fn kill(&self, i: usize) {
        let pids = Command::new("ip")
            .args(["netns", "pids", &self.names[i]])
            .output()
            .unwrap();
        for pid in String::from_utf8_lossy(&pids.stdout).split_whitespace() {
            let _ = Command::new("kill").args(["-KILL", pid]).status();
        }
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for i in 0..self.names.len() {
            self.kill(i);
            // Removing the namespace removes its end of the veth pair, and so the pair.
            let _ = Command::new("ip")
                .args(["netns", "del", &self.names[i]])
                .status();
        }
    }
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap_or_else(|e| {
        panic!("cannot run `ip` ({e}): the multi-host test needs iproute2 and root")
    });
    assert!(
        out.status.success(),
        "ip {args:?}: {} (the multi-host test needs root: network namespaces)",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A process of the test, its stderr in a file, printed if the test fails.
struct Process {
    child: Child,
    log: std::path::PathBuf,
}

impl Process {
    fn spawn(mut command: Command, log: std::path::PathBuf) -> Process {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Process { child, log }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            eprintln!("{}:\n{log}", self.log.display());
        }
    }
}

#[test]
fn two_worker_hosts_and_an_mcp_host_share_a_batch_and_survive_losing_a_host() {
    let hosts = Hosts::create(3);
    let listen: Vec<String> = (0..3).map(|i| hosts.gateway(i)).collect();
    let cluster =
        pg_cluster::Cluster::start(&format!("-c listen_addresses='{}'", listen.join(",")));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let local = rt.block_on(cluster.database());
    let db = rt.block_on(pg_cluster::client(&local));
    let name = local
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("dbname="))
        .unwrap()
        .to_owned();
    let url = |i: usize| {
        format!(
            "postgres://postgres@{}:{}/{name}",
            hosts.gateway(i),
            cluster.port()
        )
    };

    // 200 sections (the scaffold's 5 and 195 more), 300 ms each, 4 at once per host, and
    // a 3 s lease: 40 done leaves several seconds of work, so the kill lands mid-batch.
    let demo = Demo::init();
    demo.slow_generator(300);
    crate::support::edit_config(&demo.dir, "lease_seconds = 30", "lease_seconds = 3");
    let sections: Vec<String> = (0..JOBS - 5)
        .map(|i| format!("{{ id = \"s{i}\", template = \"text\" }}"))
        .collect();
    let path = demo.dir.join("brain.toml");
    let mut toml = std::fs::read_to_string(&path).unwrap();
    toml.push_str(&format!(
        "\n[[site.routes]]\nid = \"many\"\npath = \"/many\"\ntitle = \"Many\"\nsections = [{}]\n",
        sections.join(", ")
    ));
    std::fs::write(&path, toml).unwrap();

    let log = |name: &str| demo.tmp.path().join(format!("{name}.log"));
    let _a = Process::spawn(
        hosts.brain(0, "host-a", &demo, &url(0), &["start"]),
        log("a"),
    );
    let b = Process::spawn(
        hosts.brain(1, "host-b", &demo, &url(1), &["start"]),
        log("b"),
    );
    crate::support::wait_until("both worker hosts to register", || {
        // Before the first brain has made the schema, the table is not there yet.
        rt.block_on(db.query_one(
            "SELECT count(DISTINCT host) FROM brains.workers WHERE concurrency > 0",
            &[],
        ))
        .is_ok_and(|row| row.get::<_, i64>(0) == 2)
    });
    let a_workers: Vec<String> = rt
        .block_on(db.query(
            "SELECT id FROM brains.workers WHERE host LIKE 'host-a %'",
            &[],
        ))
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(a_workers.len(), 1, "{a_workers:?}");

    // The MCP host runs no workers: it starts the batch and follows it.
    let mut mcp = hosts
        .brain(
            2,
            "host-mcp",
            &demo,
            &url(2),
            &["mcp", "--no-workers", "--wait-seconds", "600"],
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = mcp.stdin.take().unwrap();
    let messages = json_lines(&mut mcp);
    for message in [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "site_generate", "arguments": {"force": true},
            "_meta": {"progressToken": "hosts"}}}),
    ] {
        writeln!(stdin, "{message}").unwrap();
    }
    stdin.flush().unwrap();
    let mut seen = Vec::new();
    let progress = |m: &Value| m["method"] == "notifications/progress";
    let first = next_matching(&messages, Duration::from_secs(60), &mut seen, progress);
    let id = first["params"]["_meta"]["jobId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        first["params"]["total"].as_f64(),
        Some(JOBS as f64),
        "{first:#}"
    );

    // Host A goes away once the batch is under way and A has done some of it.
    next_matching(&messages, Duration::from_secs(120), &mut seen, |m| {
        progress(m) && m["params"]["progress"].as_f64().unwrap_or(0.0) >= KILL_AT as f64
    });
    let done_by = |worker: &str| -> i64 {
        rt.block_on(db.query_one(
            "SELECT count(*) FROM brains.jobs WHERE worker_id = $1 AND status = 'completed'",
            &[&worker],
        ))
        .unwrap()
        .get(0)
    };
    assert!(done_by(&a_workers[0]) > 0, "host A did none");
    hosts.kill(0);

    // The MCP client sees the batch to its end: the last notification with the whole count,
    // then the completed result.
    let answer = next_matching(&messages, Duration::from_secs(180), &mut seen, |m| {
        m["id"] == 2
    });
    assert_eq!(
        answer["result"]["structuredContent"]["status"], "completed",
        "{answer:#}"
    );
    let last = seen.iter().rev().find(|m| progress(m)).unwrap();
    assert_eq!(
        last["params"]["progress"].as_f64(),
        Some(JOBS as f64),
        "{last:#}"
    );

    // Each job completed once; both hosts did some; the runs A held were rescued (run
    // again, a second attempt) and the status counts them.
    let rows = rt
        .block_on(db.query(
            "SELECT status, attempt, worker_id FROM brains.jobs j \
             JOIN brains.batches b ON j.batch_id = b.id WHERE b.id = $1",
            &[&id],
        ))
        .unwrap();
    assert_eq!(rows.len(), JOBS);
    let mut second_attempts = 0;
    for row in &rows {
        let status: String = row.get(0);
        assert_eq!(status, "completed");
        let attempt: i32 = row.get(1);
        assert!(attempt <= 2, "attempt {attempt}");
        if attempt == 2 {
            second_attempts += 1;
        }
    }
    let by_a = done_by(&a_workers[0]);
    assert!(by_a > 0 && by_a < JOBS as i64, "host A did {by_a}");
    let entry = status_entry(&mut stdin, &messages, &mut seen, 3, &id);
    let rescued = entry["rescued"].as_u64().unwrap_or(0);
    assert!(rescued >= 1, "nothing rescued: {entry:#}");
    assert_eq!(rescued, second_attempts, "{entry:#}");
    eprintln!(
        "{JOBS} jobs: host A did {by_a} before it was killed, host B the rest; \
         {rescued} runs rescued"
    );
    drop(stdin);
    let _ = mcp.kill();
    let _ = mcp.wait();
    drop(b);
}
