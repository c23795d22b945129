//! Test handlers, a queue on the driver under test (a temporary SQLite file, or a fresh
//! database on a PostgreSQL cluster), and waiting helpers that fail after a generous
//! timeout instead of hanging.
//!
//! The suite is compiled twice from the same files: `tests/integration` on SQLite and
//! `tests/postgres` on PostgreSQL; each binary's root says which (`crate::DRIVER`).

use std::ffi::OsString;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use brain_job_queue::{JobRecord, Queue, QueueConfig, QueueError, WorkerConfig};
use brain_plugin_api::engine::Bus;
use brain_plugin_api::{Event, JobContext, JobError, JobHandler, JobProgressEvent, Subscription};
use serde_json::Value;

/// How long any single wait in these tests may take before the test fails.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(30);

/// Returns its input.
pub(crate) struct Echo;

#[async_trait]
impl JobHandler for Echo {
    type Input = Value;
    type Output = Value;
    async fn run(&self, input: Value, _ctx: JobContext) -> Result<Value, JobError> {
        Ok(input)
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type BoxedRun = Box<dyn Fn(Value, JobContext) -> BoxFuture<Result<Value, JobError>> + Send + Sync>;

/// A handler made from a closure over JSON input, with a chosen default duration.
pub(crate) struct Func {
    run: BoxedRun,
    default: Duration,
}

/// A handler running `f(input, ctx)`.
pub(crate) fn func<F, Fut>(f: F) -> Func
where
    F: Fn(Value, JobContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, JobError>> + Send + 'static,
{
    Func {
        run: Box::new(move |input, ctx| Box::pin(f(input, ctx))),
        default: Duration::from_secs(5),
    }
}

impl Func {
    pub(crate) fn default_duration(mut self, default: Duration) -> Self {
        self.default = default;
        self
    }
}

#[async_trait]
impl JobHandler for Func {
    type Input = Value;
    type Output = Value;
    async fn run(&self, input: Value, ctx: JobContext) -> Result<Value, JobError> {
        (self.run)(input, ctx).await
    }

    fn default_duration(&self) -> Duration {
        self.default
    }
}

/// A list handlers append to (job ids, labels, times), shared with the test.
#[derive(Clone)]
pub(crate) struct Log<T>(Arc<Mutex<Vec<T>>>);

impl<T> Default for Log<T> {
    fn default() -> Self {
        Self(Arc::new(Mutex::new(Vec::new())))
    }
}

impl<T: Clone> Log<T> {
    pub(crate) fn push(&self, value: T) {
        self.0.lock().unwrap().push(value);
    }

    pub(crate) fn items(&self) -> Vec<T> {
        self.0.lock().unwrap().clone()
    }

    pub(crate) fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

/// Queue settings for tests: quick retries.
pub(crate) fn fast_config() -> QueueConfig {
    QueueConfig {
        retry_base: Duration::from_millis(40),
        retry_max: Duration::from_millis(400),
        ..QueueConfig::default()
    }
}

/// A pool of `concurrency` workers with a short lease (so recovery is quick).
pub(crate) fn workers(concurrency: usize) -> WorkerConfig {
    WorkerConfig {
        concurrency,
        lease: Duration::from_secs(1),
        heartbeat: None,
        job_types: None,
        scope: None,
    }
}

/// The drivers the suite runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(dead_code)] // each binary names one
pub(crate) enum Driver {
    Sqlite,
    Postgres,
}

/// Where a test's queue lives.
#[derive(Debug, Clone)]
pub(crate) enum Db {
    Sqlite(PathBuf),
    /// A connection string (`host=… port=… user=… dbname=…`).
    Postgres(String),
}

impl Db {
    /// A new, empty queue database for a test whose files go in `dir`.
    pub(crate) async fn fresh(dir: &Path) -> Db {
        match crate::DRIVER {
            Driver::Sqlite => Db::Sqlite(dir.join("queue.db")),
            Driver::Postgres => Db::Postgres(postgres::fresh_database().await),
        }
    }

    /// Opens the queue here.
    pub(crate) async fn open(&self, config: QueueConfig) -> Result<Queue, QueueError> {
        match self {
            Db::Sqlite(path) => Queue::open(path, config, Bus::new()),
            Db::Postgres(url) => Queue::connect(url, config, Bus::new()).await,
        }
    }

    /// The SQLite file, for tests of what only a file has.
    #[allow(dead_code)] // only the SQLite suite's tests use it
    pub(crate) fn file(&self) -> &Path {
        match self {
            Db::Sqlite(path) => path,
            Db::Postgres(_) => panic!("this test needs an SQLite file"),
        }
    }

    /// Stores an outbox row as a process that stopped before applying it leaves it.
    pub(crate) async fn insert_outbox(&self, job_id: &str, path: &Path, bytes: &[u8]) {
        let path = path.to_string_lossy().into_owned();
        match self {
            Db::Sqlite(file) => {
                rusqlite::Connection::open(file)
                    .unwrap()
                    .execute(
                        "INSERT INTO outbox (job_id, kind, path, bytes) VALUES (?1, 'write', ?2, ?3)",
                        rusqlite::params![job_id, path, bytes],
                    )
                    .unwrap();
            }
            Db::Postgres(url) => {
                postgres::client(url)
                    .await
                    .execute(
                        "INSERT INTO brains.outbox (job_id, kind, path, bytes) VALUES ($1, 'write', $2, $3)",
                        &[&job_id, &path, &bytes],
                    )
                    .await
                    .unwrap();
            }
        }
    }

    /// How many rows `table` has.
    pub(crate) async fn count(&self, table: &str) -> i64 {
        match self {
            Db::Sqlite(file) => rusqlite::Connection::open(file)
                .unwrap()
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .unwrap(),
            Db::Postgres(url) => postgres::client(url)
                .await
                .query_one(&format!("SELECT count(*) FROM brains.{table}"), &[])
                .await
                .unwrap()
                .get(0),
        }
    }

    fn to_env(&self) -> OsString {
        match self {
            Db::Sqlite(path) => path.clone().into_os_string(),
            Db::Postgres(url) => url.into(),
        }
    }

    fn from_env(value: OsString) -> Db {
        match crate::DRIVER {
            Driver::Sqlite => Db::Sqlite(value.into()),
            Driver::Postgres => Db::Postgres(value.into_string().unwrap()),
        }
    }
}

pub(crate) struct TestQueue {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) db: Db,
    pub(crate) queue: Queue,
}

impl TestQueue {
    /// A queue with default settings and the `test:echo` handler.
    pub(crate) async fn new() -> Self {
        Self::with_config(QueueConfig::default()).await
    }

    /// A queue with `config` and the `test:echo` handler.
    pub(crate) async fn with_config(config: QueueConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::fresh(dir.path()).await;
        let queue = db.open(config).await.unwrap();
        queue.register("test:echo", Echo).unwrap();
        Self { dir, db, queue }
    }

    /// Where the queue is, to open it again (as another process would).
    pub(crate) fn path(&self) -> Db {
        self.db.clone()
    }
}

/// Another handle on the queue at `db` (as a second process would have), with the
/// `test:echo` handler.
pub(crate) async fn open(db: &Db, config: QueueConfig) -> Queue {
    let queue = db.open(config).await.unwrap();
    queue.register("test:echo", Echo).unwrap();
    queue
}

/// Awaits `future`, failing the test if it takes longer than [`TIMEOUT`].
pub(crate) async fn within<F: Future>(what: &str, future: F) -> F::Output {
    match tokio::time::timeout(TIMEOUT, future).await {
        Ok(output) => output,
        Err(_) => panic!("timed out after {TIMEOUT:?} waiting for {what}"),
    }
}

/// Polls `check` every 10 ms until it yields a value.
pub(crate) async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    within(what, async {
        loop {
            if let Some(value) = check().await {
                return value;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
}

/// Waits until the stored job `id` is finished and returns it.
pub(crate) async fn finished(queue: &Queue, id: &str) -> JobRecord {
    wait_for(&format!("job {id} to finish"), || async {
        queue
            .job(id)
            .await
            .unwrap()
            .filter(|r| r.status.is_finished())
    })
    .await
}

/// The next job-progress event on `sub` that `keep` accepts.
pub(crate) async fn next_event(
    sub: &mut Subscription<Event>,
    mut keep: impl FnMut(&JobProgressEvent) -> bool,
) -> JobProgressEvent {
    within("a job event", async {
        loop {
            match sub.recv().await {
                Some(Event::JobProgress(e)) if keep(&e) => {
                    return std::sync::Arc::unwrap_or_clone(e);
                }
                Some(_) => {}
                None => panic!("the bus closed"),
            }
        }
    })
    .await
}

/// Names the role a re-executed test binary plays (see [`spawn_child`]); unset in the
/// normal test run, where the child entry points return at once.
pub(crate) const CHILD_ROLE: &str = "BRAIN_QUEUE_CHILD";
/// The database a child process opens.
pub(crate) const CHILD_DB: &str = "BRAIN_QUEUE_DB";

/// Whether this process was started by [`spawn_child`] to play `role`.
pub(crate) fn is_child(role: &str) -> bool {
    std::env::var(CHILD_ROLE).is_ok_and(|r| r == role)
}

/// The database handed to a child process.
pub(crate) fn child_db() -> Db {
    Db::from_env(std::env::var_os(CHILD_DB).expect("BRAIN_QUEUE_DB is set for child processes"))
}

/// Re-executes this test binary to run only the test `entry` as `role`, on the database
/// at `db`. The child is killed if its handle is dropped (a failing test leaves no
/// process behind).
pub(crate) fn spawn_child(
    entry: &str,
    role: &str,
    db: &Db,
    env: &[(&str, &Path)],
) -> tokio::process::Child {
    let mut command = tokio::process::Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", entry, "--nocapture", "--test-threads=1"])
        .env(CHILD_ROLE, role)
        .env(CHILD_DB, db.to_env())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    for (key, value) in env {
        command.env(key, value);
    }
    command.spawn().unwrap()
}

/// Milliseconds since the Unix epoch, the unit of the store's times.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[path = "../support/pg_cluster.rs"]
mod pg_cluster;

/// The PostgreSQL cluster the `postgres` suite runs on: `DATABASE_URL`'s server, or a
/// throwaway one this process starts (and a watchdog stops when it exits).
pub(crate) mod postgres {
    use std::sync::OnceLock;

    use super::pg_cluster;
    pub(crate) use pg_cluster::{Cluster, client};

    /// Connection parameters of the cluster, without a database name.
    fn cluster() -> &'static str {
        static CLUSTER: OnceLock<String> = OnceLock::new();
        CLUSTER.get_or_init(|| match std::env::var("DATABASE_URL") {
            Ok(url) => pg_cluster::server_of(&url).unwrap(),
            Err(_) => start(),
        })
    }

    /// Starts a cluster for the whole test run; stopped when the process exits.
    fn start() -> String {
        Box::leak(Box::new(Cluster::start(""))).conninfo()
    }

    /// A new, empty database on the suite's cluster; its connection string.
    pub(crate) async fn fresh_database() -> String {
        pg_cluster::create_database(cluster()).await
    }
}
