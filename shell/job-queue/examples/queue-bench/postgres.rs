//! `queue-bench --driver postgres --url URL`: the queue on its PostgreSQL driver, on the
//! server at URL (a maintenance database, e.g. `postgres`, that may create databases).
//! Each run gets a database of its own. Figures: throughput on an empty queue and beside
//! 1,000,000 finished jobs (with the jobs table's dead tuples and size after the run), and
//! pickup latency of an idle pool. The peer (graphile-worker on the same server) is run
//! beside it by `scripts/bench-postgres.sh`.

use std::str::FromStr;

use super::{
    Options, Printer, Res, Sizes, Store, note, pickup_run, repeat, runtime, thousands,
    throughput_async,
};

async fn client(conninfo: &str) -> Res<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(conninfo, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// The server's maintenance connection.
async fn admin(server: &str, url: &str) -> Res<tokio_postgres::Client> {
    let db = tokio_postgres::Config::from_str(url)?
        .get_dbname()
        .unwrap_or("postgres")
        .to_owned();
    client(&format!("{server}dbname={db}")).await
}

/// A new database (`from` a template, when given), emptied of other sessions first.
async fn create(server: &str, url: &str, name: &str, from: Option<&str>) -> Res<String> {
    let admin = admin(server, url).await?;
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    let template = from.map_or(String::new(), |t| format!(" TEMPLATE {t}"));
    admin
        .batch_execute(&format!("CREATE DATABASE {name}{template}"))
        .await?;
    Ok(format!("{server}dbname={name}"))
}

async fn drop_database(server: &str, url: &str, name: &str) -> Res<()> {
    admin(server, url)
        .await?
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    Ok(())
}

/// How many jobs of `job_type` are stored with `status` (the run's check).
pub(super) async fn count_jobs(url: &str, job_type: &str, status: &str) -> Res<u64> {
    let n: i64 = client(url)
        .await?
        .query_one(
            "SELECT count(*) FROM brains.jobs WHERE job_type = $1 AND status = $2",
            &[&job_type, &status],
        )
        .await?
        .get(0);
    Ok(n.max(0).unsigned_abs())
}

/// The jobs table's dead tuples and total size (MB) in database `url`.
async fn table_state(url: &str) -> Res<(f64, f64)> {
    let c = client(url).await?;
    // Statistics reach the server within a second of each session's last transaction.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let row = c
        .query_one(
            "SELECT n_dead_tup, pg_total_relation_size('brains.jobs') FROM pg_stat_user_tables \
             WHERE schemaname = 'brains' AND relname = 'jobs'",
            &[],
        )
        .await?;
    let dead: i64 = row.get(0);
    let bytes: i64 = row.get(1);
    Ok((dead as f64, bytes as f64 / 1_000_000.0))
}

/// Builds the history template: `rows` finished jobs of the last six days (98% completed,
/// 2% failed, a tenth in finished batches of 100), inserted with SQL into a migrated queue.
async fn build_history(server: &str, url: &str, rows: usize) -> Res<()> {
    let started = std::time::Instant::now();
    let db = create(server, url, "brains_bench_history", None).await?;
    drop(Store::Postgres(db.clone()).open().await?);
    let c = client(&db).await?;
    let rows = i64::try_from(rows)?;
    let span: i64 = 6 * 24 * 3600 * 1000;
    let base = super::now_ms() - span - 60_000;
    let step = (span / rows.max(1)).max(1);
    c.execute(
        "INSERT INTO brains.batches (id, source, label, job_type, created_at, started_at, finished_at) \
         SELECT 'batch_hist_' || b, 'system', 'history batch', 'bench:history', \
         $1::bigint + (b * 1000 + 900) * $2::bigint, $1 + (b * 1000 + 900) * $2 + 3, $1 + (b * 1000 + 999) * $2 + 60 \
         FROM generate_series(0::bigint, $3::bigint / 1000 - 1) b",
        &[&base, &step, &rows],
    )
    .await?;
    c.execute(
        "INSERT INTO brains.jobs (id, job_type, input, result, source, status, priority, attempt, \
         max_attempts, last_error, created_at, scheduled_at, started_at, finished_at, worker_id, \
         progress_current, progress_total, progress_message, batch_id, label) \
         SELECT 'job_hist_' || lpad(i::text, 9, '0'), 'bench:history', '{\"n\":' || i || '}', \
         CASE WHEN i % 50 = 49 THEN NULL ELSE 'null' END, 'system', \
         CASE WHEN i % 50 = 49 THEN 'failed' ELSE 'completed' END, 0, \
         CASE WHEN i % 50 = 49 THEN 3 ELSE 1 END, 3, \
         CASE WHEN i % 50 = 49 THEN 'bench: simulated failure' END, \
         $1::bigint + i * $2::bigint, $1 + i * $2, $1 + i * $2 + 3, $1 + i * $2 + 13 + i % 40, 'worker_bench', \
         CASE WHEN i % 50 = 49 THEN 0 ELSE 1 END, CASE WHEN i % 50 = 49 THEN 0 ELSE 1 END, \
         CASE WHEN i % 50 = 49 THEN NULL ELSE 'done' END, \
         CASE WHEN i % 1000 >= 900 AND i / 1000 < $3::bigint / 1000 THEN 'batch_hist_' || (i / 1000) END, \
         CASE WHEN i % 1000 >= 900 THEN 'item ' || (i % 1000) END \
         FROM generate_series(0::bigint, $3::bigint - 1) i",
        &[&base, &step, &rows],
    )
    .await?;
    c.batch_execute("VACUUM ANALYZE").await?;
    drop(c);
    let (_, mb) = table_state(&db).await?;
    note(format!(
        "history: {} finished jobs (jobs table {mb:.0} MB) built in {:.1} s",
        thousands(rows.unsigned_abs()),
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// The server's version and the settings that matter for the figures.
async fn settings(server: &str, url: &str) -> Res<String> {
    let c = admin(server, url).await?;
    let mut parts = Vec::new();
    for name in [
        "server_version",
        "fsync",
        "synchronous_commit",
        "full_page_writes",
        "shared_buffers",
        "max_connections",
    ] {
        let value: String = c.query_one(&format!("SHOW {name}"), &[]).await?.get(0);
        parts.push(format!("{name}={value}"));
    }
    Ok(parts.join(", "))
}

pub(super) fn run(options: &Options, sizes: &Sizes, printer: &Printer, url: &str) -> Res<()> {
    let server = super::pg_cluster::server_of(url)?;
    let rt = runtime()?;
    printer.header(&format!(
        "queue-bench: brain-job-queue on PostgreSQL{} — every figure is the median of {} run{}",
        if options.quick {
            " (--quick sizes)"
        } else {
            ""
        },
        options.runs,
        if options.runs == 1 { "" } else { "s" }
    ));
    printer.header(&format!(
        "machine: {} cores (available_parallelism); server on the same machine",
        super::cores()
    ));
    printer.header(&format!(
        "postgres: {}",
        rt.block_on(settings(&server, url))?
    ));
    printer.header(&format!(
        "sizes: throughput {} no-op jobs via enqueue_many in chunks of {}, pool concurrency {}; \
         history {} finished jobs; pickup {} samples",
        thousands(sizes.jobs as u64),
        thousands(sizes.chunk as u64),
        options.concurrency,
        thousands(sizes.history as u64),
        sizes.latency_samples,
    ));
    printer.table_head(options.runs);
    let runs = options.runs;

    // One throughput run on a database of its own (a copy of `template`, when given):
    // jobs/s, enqueue jobs/s, the jobs table's dead tuples and size (MB) after it.
    let throughput = |name: &str, template: Option<&str>| -> Res<[f64; 4]> {
        let db = rt.block_on(create(&server, url, name, template))?;
        let r = rt.block_on(throughput_async(
            sizes,
            options.concurrency,
            &Store::Postgres(db.clone()),
        ))?;
        let (dead, mb) = rt.block_on(table_state(&db))?;
        rt.block_on(drop_database(&server, url, name))?;
        Ok([r.rate, r.enqueue_rate, dead, mb])
    };
    let mut empty_rate = None;
    if options.wants("throughput") {
        let rows = repeat("throughput", runs, |i| {
            let [rate, enqueue, dead, mb] = throughput(&format!("brains_bench_{i}"), None)?;
            Ok(vec![
                ("pg_throughput", rate),
                ("pg_throughput_enqueue", enqueue),
                ("pg_dead_tuples", dead),
                ("pg_jobs_size", mb),
            ])
        })?;
        empty_rate = rows.first().map(|(_, v)| *v);
        rows.iter()
            .for_each(|(name, value)| printer.row(name, *value));
    }

    if options.wants("throughput_with_history") {
        eprintln!(
            "[history] building {} finished jobs",
            thousands(sizes.history as u64)
        );
        rt.block_on(build_history(&server, url, sizes.history))?;
        let rows = repeat("throughput_with_history", runs, |i| {
            let name = format!("brains_bench_history_{i}");
            let [rate, enqueue, dead, mb] = throughput(&name, Some("brains_bench_history"))?;
            Ok(vec![
                ("pg_throughput_with_history", rate),
                ("pg_throughput_with_history_enqueue", enqueue),
                ("pg_history_dead_tuples", dead),
                ("pg_history_jobs_size", mb),
            ])
        })?;
        rt.block_on(drop_database(&server, url, "brains_bench_history"))?;
        rows.iter()
            .for_each(|(name, value)| printer.row(name, *value));
        if let (Some(empty), Some((_, with))) = (empty_rate, rows.first()) {
            printer.row("pg_history_vs_empty", with / empty * 100.0);
        }
    }

    if options.wants("pickup_latency") {
        let rows = repeat("pickup_latency", runs, |i| {
            let name = format!("brains_bench_pickup_{i}");
            let db = rt.block_on(create(&server, url, &name, None))?;
            let out = pickup_run(sizes, &Store::Postgres(db));
            rt.block_on(drop_database(&server, url, &name))?;
            let out = out?;
            Ok(out
                .into_iter()
                .map(|(name, v)| {
                    let name = match name {
                        "pickup_latency_p50" => "pg_pickup_latency_p50",
                        _ => "pg_pickup_latency_p99",
                    };
                    (name, v)
                })
                .collect())
        })?;
        rows.iter()
            .for_each(|(name, value)| printer.row(name, *value));
    }
    for figure in ["status_query", "progress", "effects"] {
        if options.only.iter().any(|f| f == figure) {
            note(format!(
                "{figure}: measured on SQLite only (it does not depend on the driver, or reads the file)"
            ));
        }
    }
    Ok(())
}
