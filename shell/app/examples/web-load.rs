//! web-load: the queue's throughput with 50 dashboard event streams open, beside the same
//! run without them (the web issue's load figure), and whether every stream ends with the
//! batch's final state. A brain on SQLite in a temporary folder runs a batch of no-op jobs
//! with the shell's own workers; `brain-web` serves it; the streams are plain HTTP clients.
//! Prints medians; asserts nothing about speed.
//!
//! cargo run --release -p brain --example web-load -- [--jobs 10000] [--streams 50] [--runs 3]

// A benchmark prints its figures.
#![allow(clippy::print_stdout)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use brain_core::Shell;
use brain_plugin_api::{
    JobContext, JobError, JobHandler, JobStatus, NewBatch, NewJob, Plugin, PluginError, Registrar,
    Source,
};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Registers `load:noop`.
struct Load;

struct Noop;

#[async_trait]
impl JobHandler for Noop {
    type Input = Value;
    type Output = Value;
    async fn run(&self, _input: Value, _ctx: JobContext) -> Result<Value, JobError> {
        Ok(Value::Null)
    }
}

#[async_trait]
impl Plugin for Load {
    fn id(&self) -> &str {
        "load"
    }
    fn version(&self) -> &str {
        "0"
    }
    fn description(&self) -> &str {
        "no-op jobs for the dashboard's load figure"
    }
    fn register(&self, registrar: &mut Registrar) -> Result<(), PluginError> {
        registrar.job_handler("noop", Noop);
        Ok(())
    }
}

/// The newest state each stream saw of each operation: (status, current, total).
type Seen = Arc<Mutex<HashMap<String, (String, u64, u64)>>>;

/// Reads `/api/events` until the process ends, keeping the newest state per operation.
async fn stream(addr: std::net::SocketAddr, seen: Seen) -> std::io::Result<()> {
    let mut socket = tokio::net::TcpStream::connect(addr).await?;
    let request =
        format!("GET /api/events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n");
    socket.write_all(request.as_bytes()).await?;
    let mut lines = BufReader::new(socket).lines();
    while let Some(line) = lines.next_line().await? {
        let Some(data) = line.strip_prefix("data: ") else {
            continue;
        };
        let Ok(value) = serde_json::from_str::<Value>(data) else {
            continue;
        };
        for op in value["ops"].as_array().into_iter().flatten() {
            let state = (
                op["status"].as_str().unwrap_or_default().to_owned(),
                op["progress"]["current"].as_u64().unwrap_or(0),
                op["progress"]["total"].as_u64().unwrap_or(0),
            );
            let id = op["id"].as_str().unwrap_or_default().to_owned();
            seen.lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id, state);
        }
    }
    Ok(())
}

/// The process's resident memory in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

struct Run {
    jobs_per_second: f64,
    consistent: usize,
    rss_growth_kib: u64,
}

async fn run(jobs: usize, streams: usize) -> anyhow::Result<Run> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("brain.toml"), "[queue]\nconcurrency = 16\n")?;
    let shell = Shell::builder(dir.path())
        .env(Vec::new())
        .plugin(Load)
        .build()
        .await?;
    shell.start_workers().await?;
    let mut server = None;
    let mut seen = Vec::new();
    if streams > 0 {
        let web = brain_web::serve_web(
            shell.handle(),
            brain_web::WebConfig::default(),
            "127.0.0.1:0".parse()?,
        )
        .await?;
        for _ in 0..streams {
            let state: Seen = Arc::default();
            tokio::spawn(stream(web.local_addr(), state.clone()));
            seen.push(state);
        }
        server = Some(web);
        // Every stream connected and read its first state before the clock starts.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let before = rss_kib();
    let batch = (0..jobs).fold(NewBatch::new(Source::cli()).label("load"), |b, i| {
        b.job(NewJob::new("load:noop", json!(i)))
    });
    let started = Instant::now();
    let enqueued = shell.queue().enqueue_batch(batch).await?;
    let mut watch = shell.queue().watch(&enqueued.id).await?;
    while let Some(event) = watch.next().await {
        if event.status.is_finished() {
            anyhow::ensure!(
                event.status == JobStatus::Completed,
                "the batch ended {:?}",
                event.status
            );
            break;
        }
    }
    let elapsed = started.elapsed();
    // Each stream should end on the batch's final state; a bound, not a pace.
    let deadline = Instant::now() + Duration::from_secs(30);
    let done = |s: &Seen| {
        s.lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&enqueued.id)
            .is_some_and(|(status, current, total)| {
                status == "completed" && *current == jobs as u64 && *total == jobs as u64
            })
    };
    while Instant::now() < deadline && !seen.iter().all(done) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let consistent = seen.iter().filter(|s| done(s)).count();
    let rss_growth_kib = rss_kib().saturating_sub(before);
    if let Some(web) = server {
        web.stop().await;
    }
    shell.shutdown(Duration::from_secs(5)).await;
    Ok(Run {
        jobs_per_second: jobs as f64 / elapsed.as_secs_f64(),
        consistent,
        rss_growth_kib,
    })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (mut jobs, mut streams, mut runs) = (10_000usize, 50usize, 3usize);
    while let Some(flag) = args.next() {
        let value: usize = args
            .next()
            .ok_or_else(|| anyhow::anyhow!("{flag} needs a number"))?
            .parse()?;
        match flag.as_str() {
            "--jobs" => jobs = value,
            "--streams" => streams = value,
            "--runs" => runs = value,
            other => anyhow::bail!("unknown flag {other}; use --jobs, --streams, --runs"),
        }
    }
    let (mut without, mut with) = (Vec::new(), Vec::new());
    for i in 0..runs {
        // Interleaved, so that a machine that gets busier hurts both alike.
        let plain = run(jobs, 0).await?;
        let watched = run(jobs, streams).await?;
        println!(
            "run {}: {:.0} jobs/s without the dashboard (memory +{} KiB), {:.0} with {streams} \
             streams (memory +{} KiB; {} of {streams} streams ended on the final state)",
            i + 1,
            plain.jobs_per_second,
            plain.rss_growth_kib,
            watched.jobs_per_second,
            watched.rss_growth_kib,
            watched.consistent,
        );
        without.push(plain.jobs_per_second);
        with.push(watched.jobs_per_second);
    }
    let (a, b) = (median(without), median(with));
    println!(
        "median of {runs}: {a:.0} jobs/s without, {b:.0} jobs/s with {streams} streams ({:+.1} %)",
        (b - a) / a * 100.0
    );
    Ok(())
}
