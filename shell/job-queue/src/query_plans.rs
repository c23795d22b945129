//! Pins that every statement the queue runs uses an index, on both drivers: a status query
//! must stay fast whatever the size of the history. The statements are not listed by hand
//! — the test records what the queue actually executes during a scenario that exercises
//! every operation (SQLite's trace hook; PostgreSQL's statement log), then asks the
//! database for each one's plan.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use brain_plugin_api::engine::Bus;
use brain_plugin_api::{JobContext, JobError, JobHandler, Source};
use serde_json::{Value, json};

use crate::{ListFilter, NewBatch, NewJob, Queue, QueueConfig, WorkerConfig};

#[path = "../tests/support/pg_cluster.rs"]
mod pg_cluster;

static STATEMENTS: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// What only the heartbeat's lease renewal says (the recovery of a dead worker's jobs
/// also starts `UPDATE jobs SET lease_expires_at`).
const HEARTBEAT: &str = "RETURNING cancel_requested";

/// SQLite's trace hook: every statement as it starts, parameters expanded.
pub(crate) fn record(event: rusqlite::trace::TraceEvent<'_>) {
    if let rusqlite::trace::TraceEvent::Stmt(stmt, sql) = event {
        let sql = stmt.expanded_sql().unwrap_or_else(|| sql.to_owned());
        STATEMENTS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(sql);
    }
}

struct Echo;

#[async_trait]
impl JobHandler for Echo {
    type Input = Value;
    type Output = Value;
    async fn run(&self, input: Value, ctx: JobContext) -> Result<Value, JobError> {
        ctx.report_progress(1, 2, "halfway");
        if input == json!("fail") {
            return Err(JobError::permanent("asked to fail"));
        }
        Ok(input)
    }
}

/// Runs until the test opens its gate: a job that is surely running when a heartbeat comes.
struct Held(tokio::sync::watch::Receiver<bool>);

#[async_trait]
impl JobHandler for Held {
    type Input = Value;
    type Output = Value;
    async fn run(&self, input: Value, _ctx: JobContext) -> Result<Value, JobError> {
        let _ = self.0.clone().wait_for(|open| *open).await;
        Ok(input)
    }
}

/// Whether a recorded statement contains `text`.
fn recorded(text: &str) -> bool {
    STATEMENTS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .any(|s| s.contains(text))
}

/// The plan lines that read a whole table of ours instead of an index.
fn full_scans(conn: &rusqlite::Connection, sql: &str) -> Vec<String> {
    let mut stmt = match conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")) {
        Ok(stmt) => stmt,
        // Statements of other tests' databases, or PRAGMAs, may not explain here.
        Err(_) => return Vec::new(),
    };
    let lines: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(3))
        .expect("explain runs")
        .collect::<Result<_, _>>()
        .expect("explain rows");
    lines
        .into_iter()
        .filter(|l| l == "SCAN jobs" || l == "SCAN batches" || l == "SCAN job_deps")
        .collect()
}

/// The queue settings of the scenario: nothing is kept, so pruning deletes.
fn scenario_config() -> QueueConfig {
    QueueConfig {
        retention: Duration::ZERO,
        ..QueueConfig::default()
    }
}

/// Where the scenario's statements are recorded.
enum Recorder {
    /// SQLite's trace hook, into [`STATEMENTS`].
    Sqlite,
    /// The log of a server started with `log_statement = all`.
    Postgres(&'static pg_cluster::Cluster),
}

impl Recorder {
    async fn seen(&self, text: &str) -> bool {
        match self {
            Recorder::Sqlite => recorded(text),
            Recorder::Postgres(cluster) => cluster.log().contains(text),
        }
    }
}

/// Runs every kind of statement the queue has: enqueues of jobs, batches, dependencies and
/// unique work, claims, heartbeats, progress, completions and failures, cancellation,
/// listings, watches, pruning, and a scoped pool.
async fn exercise(queue: Queue, recorder: &Recorder) {
    queue.register("test:echo", Echo).unwrap();
    let (release, gate) = tokio::sync::watch::channel(false);
    queue.register("test:held", Held(gate)).unwrap();
    let delayed = queue
        .enqueue(NewJob::new("test:echo", json!(0)).delay(Duration::from_secs(3600)))
        .await
        .unwrap();
    // Kept pending for an hour: nothing the scenario reads or cancels later is pruned
    // under it (nothing finished is kept, and the pool prunes at its first heartbeat).
    let waiting = queue
        .enqueue_batch(
            NewBatch::new(Source::cli())
                .job(NewJob::new("test:echo", json!(9)).delay(Duration::from_secs(3600))),
        )
        .await
        .unwrap();
    let pool = queue
        .start_workers(WorkerConfig {
            heartbeat: Some(Duration::from_millis(50)),
            ..WorkerConfig::default()
        })
        .await
        .unwrap();
    let job = queue
        .enqueue(NewJob::new("test:echo", json!(1)).source(Source::cli()))
        .await
        .unwrap();
    let batch = queue
        .enqueue_batch(
            NewBatch::new(Source::cli())
                .job(NewJob::new("test:echo", json!(2)).label("a"))
                .job(NewJob::new("test:echo", json!("fail")).label("b")),
        )
        .await
        .unwrap();
    for id in [&job.id, &batch.id] {
        let mut watch = queue.watch(id).await.unwrap();
        while tokio::time::timeout(Duration::from_secs(20), watch.next())
            .await
            .unwrap()
            .is_some()
        {}
    }
    queue.status(&job.id).await.unwrap();
    queue.status(&batch.id).await.unwrap();
    queue.list(ListFilter::default()).await.unwrap();
    queue
        .list(ListFilter {
            active: true,
            job_type: Some("test:echo".into()),
            source: Some(Source::cli()),
            ..ListFilter::default()
        })
        .await
        .unwrap();
    // The dashboard's reads: a filtered, searched page (and one with a state), the
    // counts, the learned durations, a batch's record.
    queue
        .history(brain_plugin_api::HistoryQuery {
            job_type: Some("test:echo".into()),
            source: Some("cli".into()),
            search: Some("x".into()),
            since: Some(0),
            limit: 10,
            ..brain_plugin_api::HistoryQuery::default()
        })
        .await
        .unwrap();
    queue
        .history(brain_plugin_api::HistoryQuery {
            status: Some(brain_plugin_api::JobStatus::Failed),
            ..brain_plugin_api::HistoryQuery::default()
        })
        .await
        .unwrap();
    queue.stats().await.unwrap();
    queue.estimates().await.unwrap();
    queue.detail(&waiting.id).await.unwrap();
    queue.detail(&delayed.id).await.unwrap();
    queue.cancel(&delayed.id).await.unwrap();
    queue.cancel(&waiting.id).await.unwrap();
    queue.workers().await.unwrap();
    // A heartbeat renews only the leases of running jobs: hold one until a heartbeat
    // has renewed a lease (the pool's start already ran a sweep).
    let held = queue
        .enqueue(NewJob::new("test:held", json!(3)))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(20), async {
        while !recorder.seen(HEARTBEAT).await {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("no heartbeat renewed the held job's lease");
    // Dependencies, starting at the held job (the pool's first heartbeat pruned the
    // finished ones: retention is zero): one that fails cancels what waits for it,
    // down the chain.
    let failed = queue
        .enqueue(
            NewJob::new("test:echo", json!("fail"))
                .max_attempts(1)
                .after(held.id.clone()),
        )
        .await
        .unwrap();
    let after_failed = queue
        .enqueue(NewJob::new("test:echo", json!(4)).after(failed.id.clone()))
        .await
        .unwrap();
    let chained = queue
        .enqueue_batch(
            NewBatch::new(Source::cli())
                .after(after_failed.id.clone())
                .job(NewJob::new("test:echo", json!(5))),
        )
        .await
        .unwrap();
    // Unique work: the second is shared, not stored.
    for _ in 0..2 {
        queue
            .enqueue(NewJob::new("test:held", json!(8)).unique("section"))
            .await
            .unwrap();
    }
    queue.waits_for(&chained.id).await.unwrap();
    queue.active_of_type("test:echo").await.unwrap();
    release.send_replace(true);
    let mut watch = queue.watch(&held.id).await.unwrap();
    while tokio::time::timeout(Duration::from_secs(20), watch.next())
        .await
        .unwrap()
        .is_some()
    {}
    let mut watch = queue.watch(&chained.id).await.unwrap();
    while tokio::time::timeout(Duration::from_secs(20), watch.next())
        .await
        .unwrap()
        .is_some()
    {}
    queue.prune().await.unwrap();
    pool.shutdown(Duration::from_secs(5)).await;

    // A scoped pool (a one-shot command's) claims only its own work.
    let mine = queue
        .enqueue(NewJob::new("test:echo", json!(6)))
        .await
        .unwrap();
    let scoped = queue
        .start_workers(WorkerConfig {
            scope: Some(Vec::new()),
            ..WorkerConfig::default()
        })
        .await
        .unwrap();
    scoped
        .extend_scope(std::slice::from_ref(&mine.id))
        .await
        .unwrap();
    let mut watch = queue.watch(&mine.id).await.unwrap();
    while tokio::time::timeout(Duration::from_secs(20), watch.next())
        .await
        .unwrap()
        .is_some()
    {}
    scoped.shutdown(Duration::from_secs(5)).await;
}

#[test]
fn every_statement_uses_an_index() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plans.db");
    runtime.block_on(async {
        let queue = Queue::open(&path, scenario_config(), Bus::new()).unwrap();
        exercise(queue, &Recorder::Sqlite).await;
    });
    let conn = rusqlite::Connection::open(&path).unwrap();
    // The detector itself must catch a query without an index.
    assert_eq!(
        full_scans(&conn, "SELECT id FROM jobs WHERE input = 'x'"),
        ["SCAN jobs"]
    );
    let statements = STATEMENTS.lock().unwrap().clone();
    let ours: Vec<&String> = statements
        .iter()
        // The schema's statements may start with a blank line and a comment.
        .filter(|s| !s.trim_start().starts_with("--"))
        .filter(|s| s.contains("jobs") || s.contains("batches") || s.contains("job_deps"))
        .filter(|s| !s.starts_with("CREATE") && !s.starts_with("PRAGMA"))
        .collect();
    assert!(
        ours.len() > 20,
        "the scenario ran only {} statements: {ours:#?}",
        ours.len()
    );
    for kind in [
        "UPDATE jobs SET status = 'processing'",
        "DELETE FROM jobs",
        "FROM batches WHERE id",
        HEARTBEAT,
        "lease_expires_at < ",
        "INSERT OR IGNORE INTO job_deps",
        "UPDATE job_deps SET resolved = 1",
        "SELECT EXISTS (SELECT 1 FROM job_deps WHERE resolved = 0)",
        "FROM job_deps d WHERE d.job_seq",
        "AND (id IN (",
        "SELECT COALESCE(batch_id, id) FROM jobs",
    ] {
        assert!(
            ours.iter().any(|s| s.contains(kind)),
            "no statement with {kind:?} was recorded"
        );
    }
    let offenders: Vec<(String, Vec<String>)> = ours
        .iter()
        .map(|s| ((*s).clone(), full_scans(&conn, s)))
        .filter(|(_, scans)| !scans.is_empty())
        .collect();
    assert!(
        offenders.is_empty(),
        "statements that scan a whole table: {offenders:#?}"
    );
}

/// The kinds of statement the PostgreSQL scenario must have run.
const POSTGRES_KINDS: &[&str] = &[
    "UPDATE jobs SET status = 'processing'",
    "FOR UPDATE SKIP LOCKED",
    "DELETE FROM jobs",
    "FROM batches b LEFT JOIN batch_counts",
    "SELECT 1 FROM batches WHERE id = $1 FOR NO KEY UPDATE",
    HEARTBEAT,
    "lease_expires_at < $1",
    "INSERT INTO job_deps",
    "UPDATE job_deps SET resolved = true",
    "SELECT EXISTS (SELECT 1 FROM job_deps WHERE NOT resolved)",
    "FROM job_deps d WHERE d.job_seq",
    "OR batch_id = ANY($7)",
    "SELECT COALESCE(batch_id, id) FROM jobs",
    "INSERT INTO job_log",
    // Completions stored together (`complete_many`).
    "AS u(seq, token, result",
];

/// The plan of `sql`, planned generically (the parameters unknown, as for any value), the
/// constants in the text as they are.
async fn postgres_plan(client: &tokio_postgres::Client, sql: &str) -> Vec<String> {
    let params = (1..=20)
        .rev()
        .find(|n| sql.contains(&format!("${n}")))
        .unwrap_or(0);
    let nulls = vec!["NULL"; params].join(", ");
    let explain = if params == 0 {
        "EXPLAIN EXECUTE plan_check".to_owned()
    } else {
        format!("EXPLAIN EXECUTE plan_check({nulls})")
    };
    client
        .batch_execute(&format!("PREPARE plan_check AS {sql}"))
        .await
        .unwrap_or_else(|e| panic!("cannot prepare {sql}: {e}"));
    let lines: Vec<String> = client
        .query(&explain, &[])
        .await
        .unwrap_or_else(|e| panic!("cannot explain {sql}: {e}"))
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect();
    client.batch_execute("DEALLOCATE plan_check").await.unwrap();
    lines
}

/// The plan lines of `sql` that read a whole table of ours, with sequential scans
/// discouraged: one shows only where no index can serve.
async fn postgres_full_scans(client: &tokio_postgres::Client, sql: &str) -> Vec<String> {
    postgres_plan(client, sql)
        .await
        .into_iter()
        .filter(|l| {
            [
                "jobs",
                "batches",
                "batch_counts",
                "job_deps",
                "job_log",
                "outbox",
            ]
            .iter()
            .any(|t| {
                l.contains(&format!("Seq Scan on {t} ")) || l.ends_with(&format!("Seq Scan on {t}"))
            })
        })
        .collect()
}

#[test]
fn every_postgres_statement_uses_an_index() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let cluster: &'static pg_cluster::Cluster =
            Box::leak(Box::new(pg_cluster::Cluster::start("-c log_statement=all")));
        let url = cluster.database().await;
        let queue = Queue::connect(&url, scenario_config(), Bus::new())
            .await
            .unwrap();
        exercise(queue, &Recorder::Postgres(cluster)).await;

        // Each statement as the driver sent it, one line each (the migrations' DDL spans
        // many and is left out).
        let log = cluster.log();
        let statements: BTreeSet<String> = log
            .lines()
            .filter_map(|line| {
                let (_, rest) = line.split_once("LOG:  ")?;
                let sql = rest.strip_prefix("statement: ").or_else(|| {
                    rest.split_once(": ")
                        .filter(|(w, _)| w.starts_with("execute "))
                        .map(|(_, s)| s)
                })?;
                let first = sql.split_whitespace().next()?;
                ["SELECT", "UPDATE", "INSERT", "DELETE"]
                    .contains(&first)
                    .then(|| sql.to_owned())
            })
            .filter(|s| !s.contains("pg_") && !s.contains("meta"))
            .collect();
        for kind in POSTGRES_KINDS {
            assert!(
                statements.iter().any(|s| s.contains(kind)),
                "no statement with {kind:?} was recorded: {statements:#?}"
            );
        }
        let client = pg_cluster::client(&url).await;
        client
            .batch_execute(
                "SET search_path = brains; SET enable_seqscan = off; \
                 SET plan_cache_mode = force_generic_plan",
            )
            .await
            .unwrap();
        // The detector itself must catch a query without an index.
        assert_eq!(
            postgres_full_scans(&client, "SELECT id FROM jobs WHERE input = $1")
                .await
                .len(),
            1
        );
        let mut offenders = Vec::new();
        for sql in &statements {
            let scans = postgres_full_scans(&client, sql).await;
            if !scans.is_empty() {
                offenders.push((sql.clone(), scans));
            }
        }
        assert!(
            offenders.is_empty(),
            "statements that scan a whole table: {offenders:#?}"
        );

        // Statistics taken while nothing runs (a history of finished jobs, none
        // processing) must not make the group's completion walk the running jobs' index
        // for each of its elements: it finds each job by primary key.
        client
            .batch_execute(
                "RESET enable_seqscan; \
                 INSERT INTO jobs (id, job_type, input, source, status, max_attempts, \
                 created_at, scheduled_at, finished_at) \
                 SELECT 'history-' || n, 'test:echo', '{}', '{}', 'completed', 1, n, n, n \
                 FROM generate_series(1, 20000) AS n; \
                 ANALYZE jobs",
            )
            .await
            .unwrap();
        let completion = statements
            .iter()
            .find(|s| s.contains("AS u(seq, token, result"))
            .expect("recorded above");
        let plan = postgres_plan(&client, completion).await;
        assert!(
            plan.iter().any(|l| l.contains("jobs_pkey"))
                && !plan.iter().any(|l| l.contains("jobs_running")),
            "the completion of a group is planned off the primary key: {plan:#?}"
        );
    });
}
