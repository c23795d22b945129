//! Benchmark of the durable SQLite job queue, on real database files in a temporary
//! directory. It measures (1) no-op job throughput: 100,000 jobs enqueued with
//! `enqueue_many` in chunks of 1,000 (the enqueue rate is reported too), then run by a
//! worker pool, timed from pool start to the last completion event (the monitor publishes
//! it after the commit; a list query, a status query and an SQL count then verify that
//! every job is stored as completed); (2) the same on a database already holding 1,000,000
//! finished jobs (inserted directly with the queue's schema, 2% failed, a tenth in
//! batches); (3) pickup latency of an idle pool, from the start of `enqueue` to the start
//! of the handler; (4) `Queue::status` latency of a running 100-job batch, and of single
//! finished jobs, in the 1,000,000-job database; (5) the cost of
//! `JobContext::report_progress` in a tight loop, and how many progress events reach a bus
//! subscriber while it runs; (6) fenced side effects: jobs that each write one small file,
//! staged through the outbox (`JobContext::stage`, applied after the commit) against the
//! same jobs writing it themselves (what handlers did before fencing). Each figure is
//! measured three times and the median is printed beside the target from the issue;
//! targets are shown, never asserted.
//!
//! Run it with `cargo run --release -p brain-job-queue --example queue-bench`. Options:
//! `--json` (one `{"name", "value", "unit"}` object per line on stdout; the header goes to
//! stderr), `--quick` (small sizes: a smoke run of a few seconds for CI), `--only NAME`
//! (repeatable or comma-separated: throughput, throughput_with_history, pickup_latency,
//! status_query, progress, effects), `--concurrency N` (the throughput pools; default 256, the best
//! of 16 to 2048 on a 2-core machine) and `--runs N` (default 3). Per-run notes go to
//! stderr.

#![allow(clippy::print_stdout)]

use std::error::Error;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use brain_job_queue::{ListFilter, NewBatch, NewJob, Queue, QueueConfig, WorkerConfig};
use brain_plugin_api::engine::Bus;
use brain_plugin_api::{
    Event, JobContext, JobError, JobHandler, JobKind, JobStatus, Source, Update,
};
use rusqlite::{Connection, OpenFlags, params};
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

#[path = "queue-bench/postgres.rs"]
mod postgres;
// For `server_of` (the rest is the tests' throwaway server).
#[allow(dead_code, clippy::unwrap_used)]
#[path = "../tests/support/pg_cluster.rs"]
mod pg_cluster;

type BoxError = Box<dyn Error + Send + Sync>;
type Res<T> = std::result::Result<T, BoxError>;

/// The figures, in the order they run; `--only` takes these names.
const FIGURES: [&str; 6] = [
    "throughput",
    "throughput_with_history",
    "pickup_latency",
    "status_query",
    "progress",
    "effects",
];

/// The longest any single wait may take before the run is declared stuck.
const STUCK: Duration = Duration::from_secs(600);

// ---------------------------------------------------------------------------------------
// Options and sizes
// ---------------------------------------------------------------------------------------

struct Options {
    json: bool,
    quick: bool,
    only: Vec<String>,
    concurrency: usize,
    runs: usize,
    /// `--driver postgres --url URL`: the PostgreSQL driver on that server.
    postgres: Option<String>,
}

impl Options {
    fn wants(&self, figure: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|f| f == figure)
    }
}

const USAGE: &str = "usage: queue-bench [--json] [--quick] [--only NAME[,NAME...]] \
[--concurrency N] [--runs N] [--driver sqlite|postgres --url URL]\nfigures: throughput, throughput_with_history, pickup_latency, \
status_query, progress, effects";

fn parse_args() -> Res<Options> {
    let mut options = Options {
        json: false,
        quick: false,
        only: Vec::new(),
        concurrency: 256,
        runs: 3,
        postgres: None,
    };
    let mut driver = "sqlite".to_owned();
    let mut args = std::env::args().skip(1);
    let number = |flag: &str, value: Option<String>| -> Res<usize> {
        let value = value.ok_or_else(|| format!("{flag} needs a number\n{USAGE}"))?;
        match value.parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("{flag}: expected a positive number, got {value:?}").into()),
        }
    };
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        match flag.as_str() {
            "--json" => options.json = true,
            "--quick" => options.quick = true,
            // `cargo bench`-style harness flag; harmless here.
            "--bench" => {}
            "--only" => {
                let value = inline
                    .or_else(|| args.next())
                    .ok_or_else(|| format!("--only needs a figure name\n{USAGE}"))?;
                for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                    if !FIGURES.contains(&name) {
                        return Err(format!("unknown figure {name:?}\n{USAGE}").into());
                    }
                    options.only.push(name.to_owned());
                }
            }
            "--concurrency" => {
                options.concurrency = number("--concurrency", inline.or_else(|| args.next()))?;
            }
            "--runs" => options.runs = number("--runs", inline.or_else(|| args.next()))?,
            "--driver" => {
                driver = inline
                    .or_else(|| args.next())
                    .ok_or_else(|| format!("--driver needs sqlite or postgres\n{USAGE}"))?;
            }
            "--url" => {
                options.postgres = Some(
                    inline
                        .or_else(|| args.next())
                        .ok_or_else(|| format!("--url needs a PostgreSQL url\n{USAGE}"))?,
                );
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            _ => return Err(format!("unknown argument {arg:?}\n{USAGE}").into()),
        }
    }
    match (driver.as_str(), &options.postgres) {
        ("sqlite", None) => {}
        ("postgres", Some(_)) => {}
        ("postgres", None) => {
            return Err(
                format!("--driver postgres needs --url (the server to run on)\n{USAGE}").into(),
            );
        }
        ("sqlite", Some(_)) => {
            return Err(format!("--url is for --driver postgres\n{USAGE}").into());
        }
        (other, _) => {
            return Err(
                format!("--driver: expected sqlite or postgres, got {other:?}\n{USAGE}").into(),
            );
        }
    }
    Ok(options)
}

struct Sizes {
    jobs: usize,
    chunk: usize,
    history: usize,
    batch: usize,
    latency_samples: usize,
    status_calls: usize,
    progress_calls: u64,
    effect_jobs: usize,
}

impl Sizes {
    fn new(quick: bool) -> Self {
        if quick {
            Self {
                jobs: 5_000,
                chunk: 500,
                history: 20_000,
                batch: 100,
                latency_samples: 50,
                status_calls: 200,
                progress_calls: 100_000_000, // ~0.5 s: long enough to span several publish windows
                effect_jobs: 500,
            }
        } else {
            Self {
                jobs: 100_000,
                chunk: 1_000,
                history: 1_000_000,
                batch: 100,
                latency_samples: 500,
                status_calls: 1_000,
                progress_calls: 50_000_000,
                effect_jobs: 5_000,
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------

enum Goal {
    AtLeast(f64),
    Below(f64),
    Between(f64, f64),
    None,
}

/// Unit, printed target and the check behind the "met" column of each row.
fn describe(name: &str) -> (&'static str, &'static str, Goal) {
    match name {
        "throughput" => ("jobs/s", ">= 50,000", Goal::AtLeast(50_000.0)),
        "throughput_enqueue" => ("jobs/s", "-", Goal::None),
        "throughput_with_history" => ("jobs/s", "within 10% of throughput", Goal::None),
        "throughput_with_history_enqueue" => ("jobs/s", "-", Goal::None),
        "history_vs_empty" => ("%", ">= 90 %", Goal::AtLeast(90.0)),
        "pickup_latency_p50" => ("ms", "< 0.5 ms", Goal::Below(0.5)),
        "pickup_latency_p99" => ("ms", "< 2 ms", Goal::Below(2.0)),
        "status_batch_p50" => ("ms", "-", Goal::None),
        "status_batch_p99" => ("ms", "< 1 ms", Goal::Below(1.0)),
        "status_job_p50" => ("ms", "-", Goal::None),
        "status_job_p99" => ("ms", "< 1 ms", Goal::Below(1.0)),
        "history_page_p50" => ("ms", "-", Goal::None),
        "history_page_p99" => ("ms", "< 10 ms", Goal::Below(10.0)),
        "history_deep_page_p50" => ("ms", "< 10 ms", Goal::Below(10.0)),
        "history_search_all" => ("ms", "reported", Goal::None),
        "progress_calls" => ("calls/s", ">= 10,000,000", Goal::AtLeast(10_000_000.0)),
        "progress_events" => ("events/s", "~10 (the bus rate)", Goal::Between(5.0, 12.0)),
        "effects_direct" => ("jobs/s", "-", Goal::None),
        "effects_staged" => ("jobs/s", "-", Goal::None),
        "staged_vs_direct" => ("%", ">= 90 %", Goal::AtLeast(90.0)),
        "pg_throughput" => ("jobs/s", ">= 25,000", Goal::AtLeast(25_000.0)),
        "pg_throughput_enqueue" => ("jobs/s", "-", Goal::None),
        "pg_throughput_with_history" => ("jobs/s", "within 10% of pg_throughput", Goal::None),
        "pg_throughput_with_history_enqueue" => ("jobs/s", "-", Goal::None),
        "pg_history_vs_empty" => ("%", ">= 90 %", Goal::AtLeast(90.0)),
        "pg_dead_tuples" | "pg_history_dead_tuples" => ("rows", "reported", Goal::None),
        "pg_jobs_size" | "pg_history_jobs_size" => ("MB", "reported", Goal::None),
        "pg_pickup_latency_p50" => ("ms", "< 2 ms", Goal::Below(2.0)),
        "pg_pickup_latency_p99" => ("ms", "< 5 ms", Goal::Below(5.0)),
        _ => ("", "-", Goal::None),
    }
}

struct Printer {
    json: bool,
}

impl Printer {
    /// The header: to stdout for the table, to stderr when stdout carries JSON lines.
    fn header(&self, text: &str) {
        if self.json {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    }

    fn table_head(&self, runs: usize) {
        if !self.json {
            println!();
            println!(
                "{:<32} {:>14}  {:<9} {:<26} met   (median of {runs} run{})",
                "name",
                "value",
                "unit",
                "target",
                if runs == 1 { "" } else { "s" }
            );
            println!("{}", "-".repeat(100));
        }
    }

    fn row(&self, name: &str, value: f64) {
        let (unit, target, goal) = describe(name);
        if self.json {
            // Keys in the documented order; a value that is not a number is `null`.
            let value = serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number);
            println!(
                "{{\"name\":{},\"value\":{value},\"unit\":{}}}",
                Value::from(name),
                Value::from(unit)
            );
            return;
        }
        let met = match goal {
            Goal::AtLeast(t) => yes_no(value >= t),
            Goal::Below(t) => yes_no(value < t),
            Goal::Between(lo, hi) => yes_no((lo..=hi).contains(&value)),
            Goal::None => "",
        };
        println!(
            "{name:<32} {:>14}  {unit:<9} {target:<26} {met}",
            format_value(value, unit)
        );
    }
}

fn yes_no(ok: bool) -> &'static str {
    if ok { "yes" } else { "NO" }
}

fn format_value(value: f64, unit: &str) -> String {
    match unit {
        "ms" => format!("{value:.3}"),
        "%" => format!("{value:.1}"),
        _ if value.abs() >= 100.0 => thousands(value.round() as u64),
        _ => format!("{value:.2}"),
    }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn note(text: impl AsRef<str>) {
    eprintln!("  .. {}", text.as_ref());
}

// ---------------------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------------------

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// Nearest-rank percentile of `samples` (any order), in milliseconds.
fn percentile_ms(samples: &[Duration], p: f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort();
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

/// Runs `run` `runs` times and returns the median of each named value, in first-run order.
fn repeat(
    figure: &str,
    runs: usize,
    mut run: impl FnMut(usize) -> Res<Vec<(&'static str, f64)>>,
) -> Res<Vec<(&'static str, f64)>> {
    let mut all: Vec<Vec<(&'static str, f64)>> = Vec::with_capacity(runs);
    for i in 0..runs {
        eprintln!("[{figure}] run {}/{runs}", i + 1);
        all.push(run(i)?);
    }
    let names: Vec<&'static str> = all.first().map_or_else(Vec::new, |r| {
        r.iter().map(|(name, _)| *name).collect::<Vec<_>>()
    });
    Ok(names
        .into_iter()
        .map(|name| {
            let values: Vec<f64> = all
                .iter()
                .filter_map(|r| r.iter().find(|(n, _)| *n == name).map(|(_, v)| *v))
                .collect();
            (name, median(&values))
        })
        .collect())
}

// ---------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------

/// A count that wakes a waiter when it reaches `target`; `hit` is cheap enough for a bus
/// filter or a handler.
struct Counter {
    count: AtomicU64,
    target: AtomicU64,
    notify: Notify,
}

impl Counter {
    fn new(target: u64) -> Arc<Self> {
        Arc::new(Self {
            count: AtomicU64::new(0),
            target: AtomicU64::new(target),
            notify: Notify::new(),
        })
    }

    fn hit(&self) {
        let now = self.count.fetch_add(1, Ordering::AcqRel) + 1;
        if now >= self.target.load(Ordering::Acquire) {
            self.notify.notify_one();
        }
    }

    fn get(&self) -> u64 {
        self.count.load(Ordering::Acquire)
    }

    /// Waits until the count reaches `target` (no polling: woken by the hit that gets there).
    async fn wait_for(&self, target: u64, what: &str) -> Res<()> {
        self.target.store(target, Ordering::Release);
        let deadline = tokio::time::Instant::now() + STUCK;
        while self.get() < target {
            if tokio::time::timeout_at(deadline, self.notify.notified())
                .await
                .is_err()
            {
                return Err(
                    format!("timed out waiting for {what}: {} of {target}", self.get()).into(),
                );
            }
        }
        Ok(())
    }
}

fn runtime() -> Res<tokio::runtime::Runtime> {
    let threads = cores().max(2);
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?)
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn open_queue(path: &Path) -> Res<Queue> {
    Ok(Queue::open(path, QueueConfig::default(), Bus::new())?)
}

/// Where a run's queue lives.
enum Store {
    File(PathBuf),
    /// A PostgreSQL connection string of a database of its own.
    Postgres(String),
}

impl Store {
    async fn open(&self) -> Res<Queue> {
        match self {
            Store::File(path) => open_queue(path),
            Store::Postgres(url) => {
                Ok(Queue::connect(url, QueueConfig::default(), Bus::new()).await?)
            }
        }
    }

    /// How many jobs of `job_type` are stored with `status`.
    async fn count_jobs(&self, job_type: &str, status: &str) -> Res<u64> {
        match self {
            Store::File(path) => count_jobs(path, job_type, status),
            Store::Postgres(url) => postgres::count_jobs(url, job_type, status).await,
        }
    }
}

/// Copies a closed database (and its WAL, should one be left) to `to`.
fn copy_db(from: &Path, to: &Path) -> Res<()> {
    std::fs::copy(from, to)?;
    for suffix in ["-wal", "-shm"] {
        let side = sidecar(from, suffix);
        if side.exists() {
            std::fs::copy(&side, sidecar(to, suffix))?;
        }
    }
    Ok(())
}

fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn read_only(path: &Path) -> Res<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(10))?;
    Ok(conn)
}

fn count_jobs(path: &Path, job_type: &str, status: &str) -> Res<u64> {
    let conn = read_only(path)?;
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM jobs WHERE job_type = ?1 AND status = ?2",
        params![job_type, status],
        |r| r.get(0),
    )?;
    Ok(n.max(0) as u64)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// splitmix64: deterministic ids and picks without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// An id shaped like the queue's: prefix plus 26 Crockford base32 characters.
    fn id(&mut self, prefix: &str) -> String {
        const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
        let mut value = (u128::from(self.next()) << 64) | u128::from(self.next());
        let mut id = String::with_capacity(prefix.len() + 26);
        id.push_str(prefix);
        for _ in 0..26 {
            id.push(ALPHABET[(value & 31) as usize] as char);
            value >>= 5;
        }
        id
    }
}

// ---------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------

/// Does nothing but count itself.
struct NoOp {
    done: Arc<Counter>,
}

#[async_trait]
impl JobHandler for NoOp {
    type Input = Value;
    type Output = ();
    async fn run(&self, _input: Value, _ctx: JobContext) -> Result<(), JobError> {
        self.done.hit();
        Ok(())
    }
}

/// Writes one small file: itself, or staged for the queue to write after the commit.
struct WriteOne {
    dir: PathBuf,
    staged: bool,
}

#[async_trait]
impl JobHandler for WriteOne {
    type Input = Value;
    type Output = ();
    async fn run(&self, input: Value, ctx: JobContext) -> Result<(), JobError> {
        let path = self.dir.join(format!("{}.txt", input["n"]));
        let bytes = format!("job {}\n", input["n"]).into_bytes();
        if self.staged {
            ctx.stage(brain_plugin_api::SideEffect::WriteFile { path, bytes });
        } else {
            brain_plugin_api::write_atomic(&path, &bytes)
                .map_err(|e| JobError::permanent(e.to_string()))?;
        }
        Ok(())
    }
}

/// Records when it started.
struct Ping {
    started: Arc<Mutex<Option<Instant>>>,
    notify: Arc<Notify>,
}

#[async_trait]
impl JobHandler for Ping {
    type Input = Value;
    type Output = ();
    async fn run(&self, _input: Value, _ctx: JobContext) -> Result<(), JobError> {
        let now = Instant::now();
        *self.started.lock().unwrap_or_else(|e| e.into_inner()) = Some(now);
        self.notify.notify_one();
        Ok(())
    }
}

/// Runs until released (or cancelled), so its batch stays in progress.
struct Block {
    started: Arc<Counter>,
    release: CancellationToken,
}

#[async_trait]
impl JobHandler for Block {
    type Input = Value;
    type Output = ();
    async fn run(&self, _input: Value, ctx: JobContext) -> Result<(), JobError> {
        self.started.hit();
        ctx.report_progress(1, 2, "waiting for the benchmark");
        tokio::select! {
            _ = self.release.cancelled() => Ok(()),
            _ = ctx.cancellation().cancelled() => Err(JobError::Cancelled),
        }
    }
}

/// Reports progress in a tight loop and records how fast. The loop never awaits, as a
/// CPU-bound handler would not; events must still reach subscribers meanwhile.
struct Spin {
    calls: u64,
    events: Arc<AtomicU64>,
    /// (loop duration, progress events received meanwhile)
    out: Arc<Mutex<Option<(Duration, u64)>>>,
    done: Arc<Notify>,
}

#[async_trait]
impl JobHandler for Spin {
    type Input = Value;
    type Output = ();
    async fn run(&self, _input: Value, ctx: JobContext) -> Result<(), JobError> {
        let n = self.calls;
        let events_before = self.events.load(Ordering::Acquire);
        let start = Instant::now();
        for i in 0..n {
            ctx.report_progress(std::hint::black_box(i), n, "step");
        }
        let took = start.elapsed();
        let events = self.events.load(Ordering::Acquire) - events_before;
        *self.out.lock().unwrap_or_else(|e| e.into_inner()) = Some((took, events));
        self.done.notify_one();
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Figures 1 and 2: throughput
// ---------------------------------------------------------------------------------------

struct ThroughputRun {
    enqueue_rate: f64,
    rate: f64,
}

/// Jobs that each write one file, run by a pool of 16, timed from the pool's start until
/// every completion is stored and every file written (the pool's shutdown waits for the
/// effects it is applying); then every file is checked. Returns jobs per second.
fn effects_run(sizes: &Sizes, dir: &Path, staged: bool) -> Res<f64> {
    let rt = runtime()?;
    let rate = rt.block_on(async {
        let n = sizes.effect_jobs;
        let queue = open_queue(&dir.join("effects.db"))?;
        let out = dir.join("out");
        std::fs::create_dir_all(&out)?;
        queue.register(
            "bench:write",
            WriteOne {
                dir: out.clone(),
                staged,
            },
        )?;
        let completed = Counter::new(n as u64);
        let _subscription = {
            let completed = completed.clone();
            queue.bus().subscribe(move |event| {
                if let Event::JobProgress(e) = event
                    && e.update == Update::Lifecycle
                    && e.status == JobStatus::Completed
                {
                    completed.hit();
                }
                false
            })
        };
        let jobs = (0..n)
            .map(|i| NewJob::new("bench:write", json!({ "n": i })))
            .collect();
        queue.enqueue_many(jobs).await?;
        let start = Instant::now();
        let pool = queue
            .start_workers(WorkerConfig {
                concurrency: 16,
                ..WorkerConfig::default()
            })
            .await?;
        completed.wait_for(n as u64, "completions").await?;
        pool.shutdown(STUCK).await;
        let elapsed = start.elapsed();
        let written = std::fs::read_dir(&out)?.count();
        if written != n {
            return Err(format!("{written} of {n} files written").into());
        }
        Ok::<_, BoxError>(n as f64 / elapsed.as_secs_f64())
    })?;
    note(format!(
        "{} jobs writing a file {}: {} jobs/s",
        sizes.effect_jobs,
        if staged { "staged" } else { "directly" },
        thousands(rate as u64)
    ));
    Ok(rate)
}

fn throughput_run(
    sizes: &Sizes,
    concurrency: usize,
    dir: &Path,
    history: Option<&Path>,
) -> Res<ThroughputRun> {
    let path = dir.join("throughput.db");
    if let Some(master) = history {
        copy_db(master, &path)?;
    }
    let rt = runtime()?;
    let out = rt.block_on(throughput_async(sizes, concurrency, &Store::File(path)));
    drop(rt);
    out
}

async fn throughput_async(sizes: &Sizes, concurrency: usize, store: &Store) -> Res<ThroughputRun> {
    let n = sizes.jobs as u64;
    let queue = store.open().await?;
    let handled = Counter::new(n);
    queue.register(
        "bench:noop",
        NoOp {
            done: handled.clone(),
        },
    )?;
    // Lifecycle events are published by the monitor after the writer's commit, so the
    // N-th "completed" event marks the last completion as stored. Counting happens in the
    // filter (which runs on the publisher) and it accepts nothing, so no inbox fills up.
    let queued = Counter::new(n);
    let completed = Counter::new(n);
    let _subscription = {
        let (queued, completed) = (queued.clone(), completed.clone());
        queue.bus().subscribe(move |event| {
            if let Event::JobProgress(e) = event
                && e.kind == JobKind::Job
                && e.update == Update::Lifecycle
            {
                match e.status {
                    JobStatus::Pending => queued.hit(),
                    JobStatus::Completed => completed.hit(),
                    _ => {}
                }
            }
            false
        })
    };

    let chunks: Vec<Vec<NewJob>> = (0..sizes.jobs)
        .collect::<Vec<_>>()
        .chunks(sizes.chunk)
        .map(|c| {
            c.iter()
                .map(|i| NewJob::new("bench:noop", json!({ "n": i })))
                .collect()
        })
        .collect();
    let start = Instant::now();
    let mut first_id = None;
    let mut last_id = None;
    for chunk in chunks {
        let ids = queue.enqueue_many(chunk).await?;
        if first_id.is_none() {
            first_id = ids.first().cloned();
        }
        last_id = ids.last().cloned().or(last_id);
    }
    let enqueue = start.elapsed();
    queued.wait_for(n, "queued events").await?;
    let monitor_lag = start.elapsed() - enqueue;

    let start = Instant::now();
    let pool = queue
        .start_workers(WorkerConfig {
            concurrency,
            ..WorkerConfig::default()
        })
        .await?;
    handled.wait_for(n, "handlers").await?;
    let handlers_done = start.elapsed();
    completed.wait_for(n, "completion events").await?;
    let elapsed = start.elapsed();

    // Verify once, outside the timing: nothing active, the first and last jobs completed,
    // and the stored count matches.
    pool.shutdown(Duration::from_secs(10)).await;
    let active = queue
        .list(ListFilter {
            active: true,
            include_batch_items: true,
            limit: 10,
            ..ListFilter::default()
        })
        .await?;
    if !active.is_empty() {
        return Err(format!("{} jobs still active after the run", active.len()).into());
    }
    for id in [first_id, last_id].into_iter().flatten() {
        let record = queue.job(&id).await?.ok_or("an enqueued job is missing")?;
        if record.status != JobStatus::Completed {
            return Err(format!("job {id} ended {:?}", record.status).into());
        }
    }
    drop(queue);
    let stored = store.count_jobs("bench:noop", "completed").await?;
    if stored != n {
        return Err(format!("{stored} of {n} jobs stored as completed").into());
    }
    let enqueue_rate = n as f64 / enqueue.as_secs_f64();
    let rate = n as f64 / elapsed.as_secs_f64();
    note(format!(
        "enqueue {:.2} s ({} jobs/s; monitor caught up {:.0} ms later); \
         pool c={concurrency}: handlers done {:.3} s, last completion {:.3} s -> {} jobs/s",
        enqueue.as_secs_f64(),
        thousands(enqueue_rate as u64),
        monitor_lag.as_secs_f64() * 1000.0,
        handlers_done.as_secs_f64(),
        elapsed.as_secs_f64(),
        thousands(rate as u64),
    ));
    Ok(ThroughputRun { enqueue_rate, rate })
}

// ---------------------------------------------------------------------------------------
// History: a database holding many finished jobs
// ---------------------------------------------------------------------------------------

const HISTORY_TYPE: &str = "bench:history";
/// Of every 1,000 history jobs, the last 100 form a batch.
const HISTORY_BLOCK: usize = 1_000;
const HISTORY_BATCH: usize = 100;

struct History {
    path: PathBuf,
    /// Ids of finished jobs spread over the history, in random order.
    sample_ids: Vec<String>,
}

/// Builds a database with `rows` finished jobs of the last six days, inserted directly
/// with the queue's schema (created by opening a queue): 98% completed, 2% failed, and a
/// tenth of them in finished batches of 100.
fn build_history(dir: &Path, rows: usize) -> Res<History> {
    let path = dir.join("history.db");
    {
        let rt = runtime()?;
        rt.block_on(async { open_queue(&path).map(drop) })?;
    }
    let started = Instant::now();
    let mut conn = Connection::open(&path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "cache_size", -1_000_000)?;
    conn.pragma_update(None, "synchronous", "OFF")?;
    let mut rng = Rng(0x5eed_cafe);
    let span_ms: i64 = 6 * 24 * 3600 * 1000;
    let base = now_ms() - span_ms - 60_000;
    let step = (span_ms / rows.max(1) as i64).max(1);
    let created = |i: usize| base + i as i64 * step;
    let every = (rows / 4_000).max(1);
    let mut sample_ids = Vec::new();
    let tx = conn.transaction()?;
    {
        let mut insert_job = tx.prepare(
            "INSERT INTO jobs (id, job_type, input, result, source, status, priority, attempt, \
             max_attempts, last_error, created_at, scheduled_at, started_at, finished_at, worker_id, \
             progress_current, progress_total, progress_message, batch_id, label) \
             VALUES (?1, ?2, ?3, ?4, 'system', ?5, 0, ?6, 3, ?7, ?8, ?8, ?9, ?10, 'worker_bench', \
             ?11, ?11, ?12, ?13, ?14)",
        )?;
        let mut insert_batch = tx.prepare(
            "INSERT INTO batches (id, source, label, job_type, created_at, started_at, finished_at) \
             VALUES (?1, 'system', 'history batch', ?2, ?3, ?4, ?5)",
        )?;
        let mut batch_id: Option<String> = None;
        for i in 0..rows {
            let in_block = i % HISTORY_BLOCK;
            let batched = in_block >= HISTORY_BLOCK - HISTORY_BATCH;
            if in_block == HISTORY_BLOCK - HISTORY_BATCH {
                let id = rng.id("batch_");
                let last = (i + HISTORY_BATCH - 1).min(rows - 1);
                insert_batch.execute(params![
                    id,
                    HISTORY_TYPE,
                    created(i),
                    created(i) + 3,
                    created(last) + 60
                ])?;
                batch_id = Some(id);
            }
            let id = rng.id("job_");
            let failed = i % 50 == 49;
            let at = created(i);
            insert_job.execute(params![
                id,
                HISTORY_TYPE,
                format!("{{\"n\":{i}}}"),
                (!failed).then_some("null"),
                if failed { "failed" } else { "completed" },
                if failed { 3 } else { 1 },
                failed.then_some("bench: simulated failure"),
                at,
                at + 3,
                at + 13 + (i % 40) as i64,
                if failed { 0 } else { 1 },
                (!failed).then_some("done"),
                if batched { batch_id.as_deref() } else { None },
                batched.then(|| format!("item {in_block}")),
            ])?;
            if i % every == 0 {
                sample_ids.push(id);
            }
        }
    }
    tx.commit()?;
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
    drop(conn);
    // Random order, so consecutive status queries touch unrelated pages.
    for i in (1..sample_ids.len()).rev() {
        let j = (rng.next() % (i as u64 + 1)) as usize;
        sample_ids.swap(i, j);
    }
    let bytes = std::fs::metadata(&path)?.len();
    note(format!(
        "history: {} finished jobs ({} MB file) built in {:.1} s",
        thousands(rows as u64),
        bytes / 1_000_000,
        started.elapsed().as_secs_f64()
    ));
    Ok(History { path, sample_ids })
}

// ---------------------------------------------------------------------------------------
// Figure 3: pickup latency
// ---------------------------------------------------------------------------------------

fn pickup_run(sizes: &Sizes, store: &Store) -> Res<Vec<(&'static str, f64)>> {
    let rt = runtime()?;
    let out = rt.block_on(async {
        let queue = store.open().await?;
        let started = Arc::new(Mutex::new(None));
        let notify = Arc::new(Notify::new());
        queue.register(
            "bench:ping",
            Ping {
                started: started.clone(),
                notify: notify.clone(),
            },
        )?;
        let completed = Counter::new(u64::MAX);
        let _subscription = {
            let completed = completed.clone();
            queue.bus().subscribe(move |event| {
                if let Event::JobProgress(e) = event
                    && e.kind == JobKind::Job
                    && e.status == JobStatus::Completed
                {
                    completed.hit();
                }
                false
            })
        };
        let pool = queue.start_workers(WorkerConfig::default()).await?;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let warmup = 10;
        let mut samples = Vec::with_capacity(sizes.latency_samples);
        let mut enqueue_calls = Vec::with_capacity(sizes.latency_samples);
        for i in 0..warmup + sizes.latency_samples {
            // The pool is idle: the previous job's completion is committed and published.
            tokio::time::sleep(Duration::from_millis(3)).await;
            let start = Instant::now();
            queue
                .enqueue(NewJob::new("bench:ping", json!({ "n": i })))
                .await?;
            let enqueued = start.elapsed();
            tokio::time::timeout(STUCK, notify.notified())
                .await
                .map_err(|_| "the ping job never started")?;
            let at = started
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
                .ok_or("the handler did not record its start")?;
            if i >= warmup {
                samples.push(at.saturating_duration_since(start));
                enqueue_calls.push(enqueued);
            }
            completed
                .wait_for(i as u64 + 1, "the ping job's completion")
                .await?;
        }
        pool.shutdown(Duration::from_secs(10)).await;
        Ok::<_, BoxError>((samples, enqueue_calls))
    });
    drop(rt);
    let (samples, enqueue_calls) = out?;
    let (p50, p99) = (percentile_ms(&samples, 50.0), percentile_ms(&samples, 99.0));
    note(format!(
        "{} samples: p50 {p50:.3} ms, p99 {p99:.3} ms, max {:.3} ms (the enqueue call \
         itself: p50 {:.3} ms, p99 {:.3} ms)",
        samples.len(),
        percentile_ms(&samples, 100.0),
        percentile_ms(&enqueue_calls, 50.0),
        percentile_ms(&enqueue_calls, 99.0),
    ));
    Ok(vec![
        ("pickup_latency_p50", p50),
        ("pickup_latency_p99", p99),
    ])
}

// ---------------------------------------------------------------------------------------
// Figure 4: status queries
// ---------------------------------------------------------------------------------------

fn status_run(sizes: &Sizes, dir: &Path, history: &History) -> Res<Vec<(&'static str, f64)>> {
    let path = dir.join("status.db");
    copy_db(&history.path, &path)?;
    let rt = runtime()?;
    let out = rt.block_on(async {
        let queue = open_queue(&path)?;
        let running = 4usize;
        let started = Counter::new(running as u64);
        let release = CancellationToken::new();
        queue.register(
            "bench:block",
            Block {
                started: started.clone(),
                release: release.clone(),
            },
        )?;
        let mut batch = NewBatch::new(Source::cli()).label("Benchmark batch");
        for i in 0..sizes.batch {
            batch =
                batch.job(NewJob::new("bench:block", json!({ "n": i })).label(format!("item {i}")));
        }
        let batch = queue.enqueue_batch(batch).await?;
        let pool = queue
            .start_workers(WorkerConfig {
                concurrency: running,
                ..WorkerConfig::default()
            })
            .await?;
        started
            .wait_for(running as u64, "the batch's first jobs")
            .await?;

        let warmup = 20;
        let mut batch_samples = Vec::with_capacity(sizes.status_calls);
        for i in 0..warmup + sizes.status_calls {
            let start = Instant::now();
            let state = queue.status(&batch.id).await?;
            let took = start.elapsed();
            if state.event.status != JobStatus::Processing {
                return Err(
                    format!("the batch is {:?}, not processing", state.event.status).into(),
                );
            }
            if i >= warmup {
                batch_samples.push(took);
            }
        }
        let mut job_samples = Vec::with_capacity(sizes.status_calls);
        let ids = &history.sample_ids;
        for i in 0..warmup + sizes.status_calls {
            let id = &ids[i % ids.len()];
            let start = Instant::now();
            let state = queue.status(id).await?;
            let took = start.elapsed();
            if !state.event.status.is_finished() {
                return Err(format!("history job {id} is {:?}", state.event.status).into());
            }
            if i >= warmup {
                job_samples.push(took);
            }
        }
        // The dashboard's history pages: the newest, then 200 pages deep by cursor, and a
        // search that matches nothing (it reads every label and error: the worst case).
        let page = |before: Option<String>, search: Option<&str>| brain_plugin_api::HistoryQuery {
            limit: 50,
            before,
            search: search.map(str::to_owned),
            ..brain_plugin_api::HistoryQuery::default()
        };
        let mut newest = Vec::with_capacity(sizes.status_calls);
        for i in 0..warmup + sizes.status_calls {
            let start = Instant::now();
            let ops = queue.history(page(None, None)).await?.ops;
            if i >= warmup {
                newest.push(start.elapsed());
            }
            if ops.len() != 50 {
                return Err(format!("a history page of {} operations", ops.len()).into());
            }
        }
        let mut deep = Vec::new();
        let mut before = None;
        for _ in 0..200 {
            let start = Instant::now();
            let next = queue.history(page(before.take(), None)).await?.next;
            deep.push(start.elapsed());
            match next {
                Some(next) => before = Some(next),
                None => break,
            }
        }
        let mut search = Vec::new();
        for _ in 0..5 {
            let start = Instant::now();
            let found = queue.history(page(None, Some("no such text"))).await?.ops;
            search.push(start.elapsed());
            if !found.is_empty() {
                return Err("the search found something".into());
            }
        }
        release.cancel();
        pool.shutdown(Duration::from_secs(10)).await;
        Ok::<_, BoxError>((batch_samples, job_samples, newest, deep, search))
    });
    drop(rt);
    let (batch, job, newest, deep, search) = out?;
    let rows = vec![
        ("status_batch_p50", percentile_ms(&batch, 50.0)),
        ("status_batch_p99", percentile_ms(&batch, 99.0)),
        ("status_job_p50", percentile_ms(&job, 50.0)),
        ("status_job_p99", percentile_ms(&job, 99.0)),
        ("history_page_p50", percentile_ms(&newest, 50.0)),
        ("history_page_p99", percentile_ms(&newest, 99.0)),
        ("history_deep_page_p50", percentile_ms(&deep, 50.0)),
        ("history_search_all", percentile_ms(&search, 50.0)),
    ];
    note(format!(
        "history pages of 50: newest p50 {:.3} ms, p99 {:.3} ms; {} pages deep by cursor \
         p50 {:.3} ms, max {:.3} ms; a search through everything {:.1} ms",
        rows[4].1,
        rows[5].1,
        deep.len(),
        rows[6].1,
        percentile_ms(&deep, 100.0),
        rows[7].1
    ));
    note(format!(
        "batch status: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms; job status: p50 {:.3} ms, \
         p99 {:.3} ms, max {:.3} ms",
        rows[0].1,
        rows[1].1,
        percentile_ms(&batch, 100.0),
        rows[2].1,
        rows[3].1,
        percentile_ms(&job, 100.0)
    ));
    Ok(rows)
}

// ---------------------------------------------------------------------------------------
// Figure 5: progress reporting
// ---------------------------------------------------------------------------------------

fn progress_run(sizes: &Sizes, dir: &Path) -> Res<Vec<(&'static str, f64)>> {
    let path = dir.join("progress.db");
    let rt = runtime()?;
    let out = rt.block_on(async {
        let queue = open_queue(&path)?;
        let events = Arc::new(AtomicU64::new(0));
        let out = Arc::new(Mutex::new(None));
        let done = Arc::new(Notify::new());
        queue.register(
            "bench:progress",
            Spin {
                calls: sizes.progress_calls,
                events: events.clone(),
                out: out.clone(),
                done: done.clone(),
            },
        )?;
        // A real subscriber: progress events are delivered to its inbox and received.
        let mut subscription = queue.bus().subscribe(
            |event| matches!(event, Event::JobProgress(e) if e.update == Update::Progress),
        );
        let receiver = {
            let events = events.clone();
            tokio::spawn(async move {
                while subscription.recv().await.is_some() {
                    events.fetch_add(1, Ordering::AcqRel);
                }
            })
        };
        let pool = queue
            .start_workers(WorkerConfig {
                concurrency: 1,
                ..WorkerConfig::default()
            })
            .await?;
        queue
            .enqueue(NewJob::new("bench:progress", json!({})))
            .await?;
        tokio::time::timeout(STUCK, done.notified())
            .await
            .map_err(|_| "the progress job never finished")?;
        pool.shutdown(Duration::from_secs(10)).await;
        receiver.abort();
        let result = *out.lock().unwrap_or_else(|e| e.into_inner());
        result.ok_or_else(|| BoxError::from("the progress handler recorded nothing"))
    });
    drop(rt);
    let (took, events) = out?;
    let secs = took.as_secs_f64();
    let calls = sizes.progress_calls as f64 / secs;
    note(format!(
        "{} calls in {secs:.2} s ({:.1} ns each); {events} progress events received meanwhile",
        thousands(sizes.progress_calls),
        secs * 1e9 / sizes.progress_calls as f64
    ));
    Ok(vec![
        ("progress_calls", calls),
        ("progress_events", events as f64 / secs),
    ])
}

// ---------------------------------------------------------------------------------------
// Header and main
// ---------------------------------------------------------------------------------------

fn first_line_with(path: &str, key: &str) -> Option<String> {
    std::fs::read_to_string(path).ok().and_then(|text| {
        text.lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
    })
}

/// What the queue's connections are set to: the journal mode is read back from a queue
/// file; the per-connection pragmas are those `schema::connect` sets.
fn sqlite_settings(dir: &Path) -> Res<String> {
    let path = dir.join("probe.db");
    {
        let rt = runtime()?;
        rt.block_on(async { open_queue(&path).map(drop) })?;
    }
    let conn = read_only(&path)?;
    let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
    let page: i64 = conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
    drop(conn);
    std::fs::remove_file(&path)?;
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(sidecar(&path, suffix));
    }
    Ok(format!(
        "journal_mode={mode} (read back from a queue file), synchronous=NORMAL, \
         temp_store=MEMORY, cache_size=-16000 (16 MB), page_size={page}; set by the queue \
         on each connection; SQLite {} (bundled)",
        rusqlite::version()
    ))
}

fn print_header(printer: &Printer, options: &Options, sizes: &Sizes, dir: &Path) -> Res<()> {
    let cpu = first_line_with("/proc/cpuinfo", "model name").unwrap_or_else(|| "unknown".into());
    let memory = first_line_with("/proc/meminfo", "MemTotal")
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or_else(|| "unknown".into(), |kb| format!("{} GB", kb / 1_000_000));
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown".into(), |s| s.trim().to_owned());
    let build = if cfg!(debug_assertions) {
        "DEBUG build (figures meaningless: use --release)"
    } else {
        "release build"
    };
    printer.header(&format!(
        "queue-bench: brain-job-queue{} — every figure is the median of {} run{}",
        if options.quick {
            " (--quick sizes)"
        } else {
            ""
        },
        options.runs,
        if options.runs == 1 { "" } else { "s" }
    ));
    printer.header(&format!(
        "machine: {} cores (available_parallelism), {cpu}, {memory} RAM, {} {} (kernel {kernel}), {build}",
        cores(),
        std::env::consts::OS,
        std::env::consts::ARCH,
    ));
    printer.header(&format!(
        "runtime: tokio multi-thread, {} worker threads; the queue's writer is its own thread",
        cores().max(2)
    ));
    printer.header(&format!("sqlite: {}", sqlite_settings(dir)?));
    printer.header(&format!("files: real SQLite files under {}", dir.display()));
    printer.header(&format!(
        "sizes: throughput {} no-op jobs via enqueue_many in chunks of {}, pool concurrency {}; \
         history {} finished jobs; pickup {} samples (idle pool of 4, 3 ms apart, after 10 \
         warm-up); status {} calls each (after 20 warm-up), batch of {} with 4 running; progress \
         {} calls",
        thousands(sizes.jobs as u64),
        thousands(sizes.chunk as u64),
        options.concurrency,
        thousands(sizes.history as u64),
        sizes.latency_samples,
        thousands(sizes.status_calls as u64),
        sizes.batch,
        thousands(sizes.progress_calls),
    ));
    Ok(())
}

fn main() {
    if let Err(error) = run() {
        eprintln!("queue-bench: {error}");
        std::process::exit(1);
    }
}

fn run() -> Res<()> {
    let options = parse_args()?;
    let sizes = Sizes::new(options.quick);
    let printer = Printer { json: options.json };
    if let Some(url) = &options.postgres {
        return postgres::run(&options, &sizes, &printer, url);
    }
    let root = tempfile::Builder::new().prefix("queue-bench-").tempdir()?;
    print_header(&printer, &options, &sizes, root.path())?;
    printer.table_head(options.runs);
    let runs = options.runs;
    let fresh_dir = || tempfile::tempdir_in(root.path());

    let mut empty_rate = None;
    if options.wants("throughput") {
        let rows = repeat("throughput", runs, |_| {
            let dir = fresh_dir()?;
            let r = throughput_run(&sizes, options.concurrency, dir.path(), None)?;
            Ok(vec![
                ("throughput", r.rate),
                ("throughput_enqueue", r.enqueue_rate),
            ])
        })?;
        empty_rate = rows.first().map(|(_, v)| *v);
        rows.iter()
            .for_each(|(name, value)| printer.row(name, *value));
    }

    let history = if options.wants("throughput_with_history") || options.wants("status_query") {
        eprintln!(
            "[history] building {} finished jobs",
            thousands(sizes.history as u64)
        );
        Some(build_history(root.path(), sizes.history)?)
    } else {
        None
    };

    if let (true, Some(history)) = (options.wants("throughput_with_history"), &history) {
        let rows = repeat("throughput_with_history", runs, |_| {
            let dir = fresh_dir()?;
            let r = throughput_run(&sizes, options.concurrency, dir.path(), Some(&history.path))?;
            Ok(vec![
                ("throughput_with_history", r.rate),
                ("throughput_with_history_enqueue", r.enqueue_rate),
            ])
        })?;
        rows.iter()
            .for_each(|(name, value)| printer.row(name, *value));
        if let (Some(empty), Some((_, with))) = (empty_rate, rows.first()) {
            printer.row("history_vs_empty", with / empty * 100.0);
        }
    }

    if options.wants("pickup_latency") {
        let rows = repeat("pickup_latency", runs, |_| {
            let dir = fresh_dir()?;
            pickup_run(&sizes, &Store::File(dir.path().join("pickup.db")))
        })?;
        rows.iter()
            .for_each(|(name, value)| printer.row(name, *value));
    }

    if let (true, Some(history)) = (options.wants("status_query"), &history) {
        let rows = repeat("status_query", runs, |_| {
            let dir = fresh_dir()?;
            status_run(&sizes, dir.path(), history)
        })?;
        rows.iter()
            .for_each(|(name, value)| printer.row(name, *value));
    }

    if options.wants("effects") {
        let rows = repeat("effects", runs, |_| {
            let direct = effects_run(&sizes, fresh_dir()?.path(), false)?;
            let staged = effects_run(&sizes, fresh_dir()?.path(), true)?;
            Ok(vec![
                ("effects_direct", direct),
                ("effects_staged", staged),
                ("staged_vs_direct", staged / direct * 100.0),
            ])
        })?;
        rows.iter()
            .for_each(|(name, value)| printer.row(name, *value));
    }

    if options.wants("progress") {
        let rows = repeat("progress", runs, |_| {
            let dir = fresh_dir()?;
            progress_run(&sizes, dir.path())
        })?;
        rows.iter()
            .for_each(|(name, value)| printer.row(name, *value));
    }
    Ok(())
}
