//! The PostgreSQL reads: status queries on pooled connections, beside the writer and other
//! hosts. Each follows the SQLite reader's query of the same name (`sqlite/reader.rs`).

use std::path::PathBuf;

use brain_plugin_api::{HistoryQuery, ItemError, JobStatus, SideEffect, Source};
use deadpool_postgres::Pool;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::connection;
use super::ops::{BATCH_GROUP, BATCH_SELECT, batch_from_row};
use crate::error::Result;
use crate::store::history::{self, HistoryRows, Param, StatsRows};
use crate::store::{
    BatchRow, JobRecord, ListFilter, LogRow, RunningItem, WorkerRow, json_column, status_from,
    wording_column,
};
use crate::util::now_ms;

const RECORD_COLUMNS: &str = "id, job_type, input, result, source, metadata, status, priority, attempt, max_attempts, \
     last_error, created_at, scheduled_at, started_at, finished_at, lease_expires_at, worker_id, cancel_requested, \
     progress_current, progress_total, progress_message, batch_id, label, wording, estimated_ms";

fn record_from_row(row: &Row) -> Result<JobRecord> {
    let source: String = row.try_get(4)?;
    let status: String = row.try_get(6)?;
    let n = |i: usize| -> Result<u64> { Ok(u64::try_from(row.try_get::<_, i64>(i)?).unwrap_or(0)) };
    let count =
        |i: usize| -> Result<u32> { Ok(u32::try_from(row.try_get::<_, i32>(i)?).unwrap_or(0)) };
    Ok(JobRecord {
        id: row.try_get(0)?,
        job_type: row.try_get(1)?,
        input: json_column(row.try_get(2)?).unwrap_or_default(),
        result: json_column(row.try_get(3)?),
        source: source.parse().unwrap_or_else(|_| Source::system()),
        metadata: json_column(row.try_get(5)?),
        status: status_from(&status)?,
        priority: row.try_get(7)?,
        attempt: count(8)?,
        max_attempts: count(9)?,
        last_error: row.try_get(10)?,
        created_at: row.try_get(11)?,
        scheduled_at: row.try_get(12)?,
        started_at: row.try_get(13)?,
        finished_at: row.try_get(14)?,
        lease_expires_at: row.try_get(15)?,
        worker_id: row.try_get(16)?,
        cancel_requested: row.try_get(17)?,
        progress_current: n(18)?,
        progress_total: n(19)?,
        progress_message: row.try_get(20)?,
        batch_id: row.try_get(21)?,
        label: row.try_get(22)?,
        wording: wording_column(row.try_get(23)?),
        estimated_ms: row.try_get(24)?,
    })
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Runs `sql` with `params` on a pooled connection (its statement cached there).
async fn query(pool: &Pool, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
    let client = connection(pool).await?;
    let stmt = client.prepare_cached(sql).await?;
    Ok(client.query(&stmt, params).await?)
}

pub(crate) async fn job(pool: &Pool, id: &str) -> Result<Option<JobRecord>> {
    let sql = format!("SELECT {RECORD_COLUMNS} FROM jobs WHERE id = $1");
    query(pool, &sql, &[&id])
        .await?
        .first()
        .map(record_from_row)
        .transpose()
}

pub(crate) async fn batch(pool: &Pool, id: &str) -> Result<Option<BatchRow>> {
    let sql = format!("{BATCH_SELECT} WHERE b.id = $1{BATCH_GROUP}");
    query(pool, &sql, &[&id])
        .await?
        .first()
        .map(batch_from_row)
        .transpose()
}

pub(crate) async fn id_exists(pool: &Pool, id: &str) -> Result<bool> {
    let sql = if id.starts_with("batch_") {
        "SELECT 1 FROM batches WHERE id = $1"
    } else {
        "SELECT 1 FROM jobs WHERE id = $1"
    };
    Ok(!query(pool, sql, &[&id]).await?.is_empty())
}

pub(crate) async fn ids_with_prefix(pool: &Pool, prefix: &str, n: usize) -> Result<Vec<String>> {
    // Ids are made of `a-z`, `0-9` and `_`, all below `~`; `COLLATE "C"` compares bytes,
    // so the range walks the id index.
    let end = format!("{prefix}~");
    let mut out = Vec::new();
    for sql in [
        "SELECT id FROM batches WHERE id COLLATE \"C\" >= $1 AND id COLLATE \"C\" < $2 ORDER BY id COLLATE \"C\" LIMIT $3",
        "SELECT id FROM jobs WHERE id COLLATE \"C\" >= $1 AND id COLLATE \"C\" < $2 ORDER BY id COLLATE \"C\" LIMIT $3",
    ] {
        for row in query(pool, sql, &[&prefix, &end, &limit(n)]).await? {
            out.push(row.try_get(0)?);
        }
    }
    out.truncate(n);
    Ok(out)
}

pub(crate) async fn log_lines(pool: &Pool, id: &str, batch: bool, n: usize) -> Result<Vec<LogRow>> {
    let column = if batch { "j.batch_id" } else { "j.id" };
    let sql = format!(
        "SELECT j.id, l.at, l.attempt, l.kind, l.message FROM job_log l \
         JOIN jobs j ON j.seq = l.job_seq WHERE {column} = $1 ORDER BY l.id LIMIT $2"
    );
    query(pool, &sql, &[&id, &limit(n)])
        .await?
        .iter()
        .map(|r| {
            Ok(LogRow {
                job_id: r.try_get(0)?,
                at: r.try_get(1)?,
                attempt: u32::try_from(r.try_get::<_, i32>(2)?).unwrap_or(0),
                kind: r.try_get(3)?,
                message: r.try_get(4)?,
            })
        })
        .collect()
}

pub(crate) async fn batch_items(pool: &Pool, id: &str, n: usize) -> Result<Vec<JobRecord>> {
    let sql =
        format!("SELECT {RECORD_COLUMNS} FROM jobs WHERE batch_id = $1 ORDER BY seq LIMIT $2");
    query(pool, &sql, &[&id, &limit(n)])
        .await?
        .iter()
        .map(record_from_row)
        .collect()
}

pub(crate) async fn batch_running(pool: &Pool, id: &str, n: usize) -> Result<Vec<RunningItem>> {
    query(
        pool,
        "SELECT label, progress_message, started_at FROM jobs WHERE batch_id = $1 \
         AND status = 'processing' ORDER BY started_at DESC LIMIT $2",
        &[&id, &limit(n)],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(RunningItem {
            label: r.try_get(0)?,
            message: r.try_get(1)?,
            started_at: r.try_get(2)?,
        })
    })
    .collect()
}

pub(crate) async fn batch_done_durations(
    pool: &Pool,
    id: &str,
    sample: usize,
) -> Result<(u64, u64)> {
    let rows = query(
        pool,
        "SELECT COALESCE(SUM(took), 0)::bigint, COUNT(*) FROM (SELECT GREATEST(finished_at - started_at, 0) \
         AS took FROM jobs WHERE batch_id = $1 AND status = 'completed' AND started_at IS NOT NULL \
         LIMIT $2) s",
        &[&id, &limit(sample)],
    )
    .await?;
    let Some(row) = rows.first() else {
        return Ok((0, 0));
    };
    let (total, count): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
    Ok((total.max(0).unsigned_abs(), count.max(0).unsigned_abs()))
}

pub(crate) async fn batch_errors(pool: &Pool, id: &str, n: usize) -> Result<Vec<ItemError>> {
    query(
        pool,
        "SELECT id, label, last_error FROM jobs WHERE batch_id = $1 AND status = 'failed' LIMIT $2",
        &[&id, &limit(n)],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(ItemError {
            job_id: r.try_get(0)?,
            label: r.try_get(1)?,
            error: r
                .try_get::<_, Option<String>>(2)?
                .unwrap_or_else(|| "failed".into()),
        })
    })
    .collect()
}

/// `filter`'s conditions on job type and source as SQL, numbering parameters after
/// `values`.
fn type_and_source(filter: &ListFilter, column: &str, values: &mut Vec<String>) -> String {
    let mut conditions = String::new();
    if let Some(t) = &filter.job_type {
        values.push(t.clone());
        conditions.push_str(&format!(" AND {column}job_type = ${}", values.len()));
    }
    if let Some(s) = &filter.source {
        values.push(s.as_str().to_owned());
        conditions.push_str(&format!(" AND {column}source = ${}", values.len()));
    }
    conditions
}

pub(crate) async fn list_jobs(pool: &Pool, filter: &ListFilter) -> Result<Vec<JobRecord>> {
    let mut texts = Vec::new();
    let mut conditions = type_and_source(filter, "", &mut texts);
    if !filter.include_batch_items {
        conditions.push_str(" AND batch_id IS NULL");
    }
    if let Some(status) = filter.status {
        texts.push(status.as_str().to_owned());
        conditions.push_str(&format!(" AND status = ${}", texts.len()));
    }
    let since = texts.len() + 1;
    let limit_at = since + 1;
    conditions.push_str(&format!(" AND created_at >= ${since}"));
    let active = format!(
        "SELECT {RECORD_COLUMNS} FROM jobs WHERE finished_at IS NULL \
         AND status IN ('pending', 'processing'){conditions} \
         ORDER BY created_at DESC LIMIT ${limit_at}"
    );
    let finished = format!(
        "SELECT {RECORD_COLUMNS} FROM jobs WHERE finished_at IS NOT NULL{conditions} \
         ORDER BY finished_at DESC LIMIT ${limit_at}"
    );
    let since_value = filter.since.unwrap_or(i64::MIN);
    let limit_value = limit(filter.limit.max(1));
    let mut params: Vec<&(dyn ToSql + Sync)> =
        texts.iter().map(|t| t as &(dyn ToSql + Sync)).collect();
    params.push(&since_value);
    params.push(&limit_value);
    let wants = |finished: bool| filter.status.is_none_or(|s| s.is_finished() == finished);
    let mut out = Vec::new();
    if wants(false) {
        for row in query(pool, &active, &params).await? {
            out.push(record_from_row(&row)?);
        }
    }
    if !filter.active && wants(true) {
        for row in query(pool, &finished, &params).await? {
            out.push(record_from_row(&row)?);
        }
    }
    Ok(out)
}

pub(crate) async fn list_batches(
    pool: &Pool,
    filter: &ListFilter,
    history: i64,
) -> Result<Vec<BatchRow>> {
    let mut texts = Vec::new();
    let conditions = type_and_source(filter, "b.", &mut texts);
    let since = texts.len() + 1;
    let created = since + 1;
    let limit_at = created + 1;
    let having = batch_state(filter.status);
    let active = format!(
        "{BATCH_SELECT} WHERE b.finished_at IS NULL{conditions} AND b.created_at >= ${created} \
         AND ${since}::bigint IS NOT NULL{BATCH_GROUP}{having} ORDER BY b.created_at DESC LIMIT ${limit_at}"
    );
    let finished = format!(
        "{BATCH_SELECT} WHERE b.finished_at >= ${since}{conditions} AND b.created_at >= ${created}\
         {BATCH_GROUP}{having} ORDER BY b.finished_at DESC LIMIT ${limit_at}"
    );
    let (since_value, created_value) = match filter.since {
        Some(since) => (i64::MIN, since),
        None => (now_ms().saturating_sub(history), i64::MIN),
    };
    let limit_value = limit(filter.limit.max(1));
    let mut params: Vec<&(dyn ToSql + Sync)> =
        texts.iter().map(|t| t as &(dyn ToSql + Sync)).collect();
    params.push(&since_value);
    params.push(&created_value);
    params.push(&limit_value);
    let wants = |finished: bool| filter.status.is_none_or(|s| s.is_finished() == finished);
    let mut out = Vec::new();
    if wants(false) {
        for row in query(pool, &active, &params).await? {
            out.push(batch_from_row(&row)?);
        }
    }
    if !filter.active && wants(true) {
        for row in query(pool, &finished, &params).await? {
            out.push(batch_from_row(&row)?);
        }
    }
    Ok(out)
}

pub(crate) async fn live_workers(pool: &Pool, now: i64) -> Result<Vec<WorkerRow>> {
    let list = |text: Option<String>| -> Option<Vec<String>> {
        text.map(|s| {
            s.split(',')
                .filter(|i| !i.is_empty())
                .map(str::to_owned)
                .collect()
        })
    };
    query(
        pool,
        "SELECT id, pid, host, lease_ms, concurrency, job_types, wake_port, scope, started_at, heartbeat_at \
         FROM workers WHERE heartbeat_at + lease_ms >= $1",
        &[&now],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(WorkerRow {
            id: r.try_get(0)?,
            pid: u32::try_from(r.try_get::<_, i64>(1)?).unwrap_or(0),
            host: r.try_get(2)?,
            started_at: r.try_get(8)?,
            heartbeat_at: r.try_get(9)?,
            lease_ms: r.try_get(3)?,
            concurrency: u32::try_from(r.try_get::<_, i64>(4)?).unwrap_or(1),
            job_types: list(r.try_get(5)?).unwrap_or_default(),
            wake_port: r
                .try_get::<_, Option<i32>>(6)?
                .and_then(|p| u16::try_from(p).ok()),
            scope: list(r.try_get(7)?),
        })
    })
    .collect()
}

pub(crate) async fn next_due(
    pool: &Pool,
    types: &[String],
    scope: Option<&[String]>,
) -> Result<Option<i64>> {
    if types.is_empty() || scope.is_some_and(|s| s.is_empty()) {
        return Ok(None);
    }
    let rows = query(
        pool,
        "SELECT MIN(scheduled_at) FROM jobs WHERE status = 'pending' AND waiting_on = 0 \
         AND job_type = ANY($1) AND ($2::text[] IS NULL OR id = ANY($2) OR batch_id = ANY($2))",
        &[&types, &scope],
    )
    .await?;
    Ok(match rows.first() {
        Some(row) => row.try_get(0)?,
        None => None,
    })
}

pub(crate) async fn rescued(pool: &Pool, id: &str) -> Result<u64> {
    let rows = query(pool, crate::store::rescued_sql(id), &[&id]).await?;
    let n: i64 = match rows.first() {
        Some(row) => row.try_get(0)?,
        None => 0,
    };
    Ok(n.max(0) as u64)
}

pub(crate) async fn dependencies(pool: &Pool, id: &str) -> Result<Vec<String>> {
    let sql = if id.starts_with("batch_") {
        "SELECT d.after_id FROM job_deps d WHERE d.job_seq = (SELECT seq FROM jobs \
         WHERE batch_id = $1 AND status = 'pending' AND waiting_on > 0 LIMIT 1)"
    } else {
        "SELECT d.after_id FROM job_deps d WHERE d.job_seq = (SELECT seq FROM jobs WHERE id = $1)"
    };
    query(pool, sql, &[&id])
        .await?
        .iter()
        .map(|r| Ok(r.try_get(0)?))
        .collect()
}

pub(crate) async fn active_of_type(pool: &Pool, job_type: &str) -> Result<Vec<String>> {
    let mut out: Vec<(i64, String)> = Vec::new();
    for sql in [
        "SELECT created_at, id FROM batches WHERE finished_at IS NULL AND job_type = $1",
        "SELECT created_at, id FROM jobs WHERE finished_at IS NULL \
         AND status IN ('pending', 'processing') AND batch_id IS NULL AND job_type = $1",
        "SELECT j.created_at, COALESCE(j.batch_id, j.id) FROM outbox o \
         JOIN jobs j ON j.id = o.job_id WHERE j.job_type = $1",
    ] {
        for row in query(pool, sql, &[&job_type]).await? {
            out.push((row.try_get(0)?, row.try_get(1)?));
        }
    }
    out.sort();
    let mut ids: Vec<String> = Vec::with_capacity(out.len());
    for (_, id) in out {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

pub(crate) async fn outbox(pool: &Pool, job_id: Option<&str>) -> Result<Vec<(i64, SideEffect)>> {
    let rows = query(
        pool,
        "SELECT id, kind, path, target, bytes FROM outbox WHERE $1::text IS NULL OR job_id = $1 ORDER BY id",
        &[&job_id],
    )
    .await?;
    let mut out = Vec::new();
    for r in &rows {
        let kind: String = r.try_get(1)?;
        let path = PathBuf::from(r.try_get::<_, String>(2)?);
        let effect = match kind.as_str() {
            "write" => Some(SideEffect::WriteFile {
                path,
                bytes: r.try_get::<_, Option<Vec<u8>>>(4)?.unwrap_or_default(),
            }),
            "remove" => Some(SideEffect::RemoveFile { path }),
            "remove-empty-dir" => Some(SideEffect::RemoveEmptyDir { path }),
            "replace-dir" => r
                .try_get::<_, Option<String>>(3)?
                .map(|to| SideEffect::ReplaceDir {
                    from: path,
                    to: PathBuf::from(to),
                }),
            // A kind this build does not know (written by a newer one) is left alone.
            _ => None,
        };
        if let Some(effect) = effect {
            out.push((r.try_get(0)?, effect));
        }
    }
    Ok(out)
}

pub(crate) async fn estimates(pool: &Pool) -> Result<Vec<(String, f64, f64, u64)>> {
    query(
        pool,
        "SELECT job_type, mean_ms, var_ms2, samples FROM estimates",
        &[],
    )
    .await?
    .iter()
    .map(|r| {
        Ok((
            r.try_get(0)?,
            r.try_get(1)?,
            r.try_get(2)?,
            u64::try_from(r.try_get::<_, i64>(3)?).unwrap_or(0),
        ))
    })
    .collect()
}

/// The condition on a batch's summed counters for its derived state (as `BatchRow::status`).
fn batch_state(status: Option<JobStatus>) -> &'static str {
    match status {
        None => "",
        Some(JobStatus::Pending) => {
            " HAVING b.started_at IS NULL AND COALESCE(SUM(c.processing), 0) = 0 \
             AND COALESCE(SUM(c.completed + c.failed + c.cancelled), 0) = 0"
        }
        Some(JobStatus::Processing) => {
            " HAVING NOT (b.started_at IS NULL AND COALESCE(SUM(c.processing), 0) = 0 \
             AND COALESCE(SUM(c.completed + c.failed + c.cancelled), 0) = 0)"
        }
        Some(JobStatus::Completed) => " HAVING COALESCE(SUM(c.failed + c.cancelled), 0) = 0",
        Some(JobStatus::Failed) => " HAVING COALESCE(SUM(c.failed), 0) > 0",
        Some(JobStatus::Cancelled) => {
            " HAVING COALESCE(SUM(c.failed), 0) = 0 AND COALESCE(SUM(c.cancelled), 0) > 0"
        }
    }
}

/// Runs a history statement with its values bound in order.
async fn query_params(pool: &Pool, sql: &str, params: &[Param]) -> Result<Vec<Row>> {
    let bound: Vec<&(dyn ToSql + Sync)> = params
        .iter()
        .map(|p| match p {
            Param::Text(t) => t as &(dyn ToSql + Sync),
            Param::Int(n) => n as &(dyn ToSql + Sync),
        })
        .collect();
    query(pool, sql, &bound).await
}

/// A page of the operations history (see the SQLite reader's `history`); ids compare
/// bytewise (`COLLATE "C"`), as the id index orders them.
pub(crate) async fn history(pool: &Pool, query_: &HistoryQuery) -> Result<HistoryRows> {
    let limit_value = limit(query_.limit.max(1) + 1);
    let mut params = Vec::new();
    let mut jobs_sql = format!(
        "SELECT {RECORD_COLUMNS} FROM jobs WHERE {} AND batch_id IS NULL",
        history::conditions(query_, "job_", '$', "id COLLATE \"C\"", "", &mut params)
    );
    if let Some(status) = query_.status {
        params.push(Param::Text(status.as_str().to_owned()));
        jobs_sql.push_str(&format!(" AND status = ${}", params.len()));
    }
    params.push(Param::Int(limit_value));
    jobs_sql.push_str(&format!(
        " ORDER BY id COLLATE \"C\" DESC LIMIT ${}",
        params.len()
    ));
    let mut rows = HistoryRows::default();
    for row in query_params(pool, &jobs_sql, &params).await? {
        rows.jobs.push(record_from_row(&row)?);
    }
    let mut params = Vec::new();
    let mut batches_sql = format!(
        "{BATCH_SELECT} WHERE {}{BATCH_GROUP}{}",
        history::conditions(
            query_,
            "batch_",
            '$',
            "b.id COLLATE \"C\"",
            "b.",
            &mut params
        ),
        batch_state(query_.status)
    );
    params.push(Param::Int(limit_value));
    batches_sql.push_str(&format!(
        " ORDER BY b.id COLLATE \"C\" DESC LIMIT ${}",
        params.len()
    ));
    for row in query_params(pool, &batches_sql, &params).await? {
        rows.batches.push(batch_from_row(&row)?);
    }
    Ok(rows)
}

pub(crate) async fn recent_runs(
    pool: &Pool,
    job_type: &str,
    n: usize,
) -> Result<Vec<history::RunRow>> {
    query(pool, history::RECENT_RUNS_SQL, &[&job_type, &limit(n)])
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
        .collect()
}

/// The queue's counts at `now`, and the jobs that ended since `since`, per minute.
pub(crate) async fn stats(pool: &Pool, now: i64, since: i64) -> Result<StatsRows> {
    let mut stats = StatsRows::default();
    let count = |row: &Row, i: usize| -> Result<u64> {
        Ok(u64::try_from(row.try_get::<_, i64>(i)?).unwrap_or(0))
    };
    for row in query(
        pool,
        "SELECT job_type, status, count(*) FROM jobs WHERE finished_at IS NULL \
         AND status IN ('pending', 'processing') GROUP BY job_type, status",
        &[],
    )
    .await?
    {
        let status: String = row.try_get(1)?;
        stats
            .active
            .push((row.try_get(0)?, status_from(&status)?, count(&row, 2)?));
    }
    stats.oldest_available = match query(
        pool,
        "SELECT created_at FROM jobs WHERE finished_at IS NULL AND status = 'pending' \
         AND waiting_on = 0 AND scheduled_at <= $1 ORDER BY created_at LIMIT 1",
        &[&now],
    )
    .await?
    .first()
    {
        Some(row) => Some(row.try_get(0)?),
        None => None,
    };
    for row in query(pool, history::MINUTES_SQL, &[&since]).await? {
        let status: String = row.try_get(1)?;
        stats
            .minutes
            .push((row.try_get(0)?, status_from(&status)?, count(&row, 2)?));
    }
    Ok(stats)
}
