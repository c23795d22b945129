//! The SQLite reader: status queries on a connection of their own, beside the writer and
//! other processes (WAL).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use brain_plugin_api::{HistoryQuery, JobStatus, SideEffect};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::rows::*;
use super::schema;
use super::writer::is_busy;
use crate::error::{QueueError, Result};
use crate::store::history::{self, HistoryRows, Param, StatsRows};
use crate::store::status_from;
use crate::store::{BatchRow, JobRecord, ListFilter, LogRow, RunningItem, WorkerRow};
use crate::util::now_ms;

/// Read access for status queries; WAL lets it run beside the writer and other processes.
pub(crate) struct Reader {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl Reader {
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let conn = schema::connect(path)?;
        conn.pragma_update(None, "query_only", true)?;
        Ok(Self {
            conn: Mutex::new(conn),
            path: path.to_owned(),
        })
    }

    /// Runs `f` on the read connection, retrying while the database is busy.
    pub(crate) fn with<T>(&self, f: impl Fn(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let mut delay = Duration::from_millis(2);
        for _ in 0..50 {
            match f(&conn) {
                Err(QueueError::Sqlite(e)) if is_busy(&e) => {
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_millis(200));
                }
                other => return other.map_err(|e| e.naming(&self.path)),
            }
        }
        f(&conn).map_err(|e| e.naming(&self.path))
    }

    pub(crate) fn job(&self, id: &str) -> Result<Option<JobRecord>> {
        let sql = format!("SELECT {RECORD_COLUMNS} FROM jobs WHERE id = ?1");
        self.with(|c| {
            let found = c
                .prepare_cached(&sql)?
                .query_row([id], record_from_row)
                .optional()?;
            found
                .map(|(record, status)| {
                    status_from(&status)?;
                    Ok(record)
                })
                .transpose()
        })
    }

    pub(crate) fn batch(&self, id: &str) -> Result<Option<BatchRow>> {
        self.with(|c| batch_row(c, id))
    }

    /// Job `id`'s log lines, or (`batch`) those of the batch's items, oldest first; at most
    /// `limit`.
    pub(crate) fn log_lines(&self, id: &str, batch: bool, limit: usize) -> Result<Vec<LogRow>> {
        let column = if batch { "j.batch_id" } else { "j.id" };
        let sql = format!(
            "SELECT j.id, l.at, l.attempt, l.kind, l.message FROM job_log l \
             JOIN jobs j ON j.seq = l.job_seq WHERE {column} = ?1 ORDER BY l.id LIMIT ?2"
        );
        self.with(|c| {
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![id, limit as i64], |r| {
                Ok(LogRow {
                    job_id: r.get(0)?,
                    at: r.get(1)?,
                    attempt: r.get(2)?,
                    kind: r.get(3)?,
                    message: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Up to `limit` items of batch `id`, in the order they were added.
    pub(crate) fn batch_items(&self, id: &str, limit: usize) -> Result<Vec<JobRecord>> {
        let sql =
            format!("SELECT {RECORD_COLUMNS} FROM jobs WHERE batch_id = ?1 ORDER BY seq LIMIT ?2");
        self.with(|c| {
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![id, limit as i64], |r| {
                record_from_row(r).map(|(record, _)| record)
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Whether a job or batch has exactly this id (its index only; nothing else read).
    pub(crate) fn id_exists(&self, id: &str) -> Result<bool> {
        self.with(|c| {
            let sql = if id.starts_with("batch_") {
                "SELECT 1 FROM batches WHERE id = ?1"
            } else {
                "SELECT 1 FROM jobs WHERE id = ?1"
            };
            Ok(c.prepare_cached(sql)?
                .query_row([id], |_| Ok(()))
                .optional()?
                .is_some())
        })
    }

    /// Up to `limit` job and batch ids that start with `prefix` (of `a-z`, `0-9`, `_`
    /// only), each table read along its id index.
    pub(crate) fn ids_with_prefix(&self, prefix: &str, limit: usize) -> Result<Vec<String>> {
        // Ids are made of `a-z`, `0-9` and `_`, all below `~`: `[prefix, prefix~)` is
        // exactly the ids that start with it.
        let end = format!("{prefix}~");
        self.with(|c| {
            let mut out = Vec::new();
            for sql in [
                "SELECT id FROM batches WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT ?3",
                "SELECT id FROM jobs WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT ?3",
            ] {
                let mut stmt = c.prepare_cached(sql)?;
                let rows = stmt.query_map(params![prefix, end, limit as i64], |r| r.get(0))?;
                for row in rows {
                    out.push(row?);
                }
            }
            out.truncate(limit);
            Ok(out)
        })
    }

    /// Up to `limit` running items of a batch, most recently started first.
    pub(crate) fn batch_running(&self, id: &str, limit: usize) -> Result<Vec<RunningItem>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT label, progress_message, started_at FROM jobs \
                 WHERE batch_id = ?1 AND status = 'processing' \
                 ORDER BY started_at DESC LIMIT ?2 + 0",
            )?;
            let rows = stmt.query_map(params![id, limit as i64], |r| {
                Ok(RunningItem {
                    label: r.get(0)?,
                    message: r.get(1)?,
                    started_at: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// The summed durations (ms) and the number of up to `sample` completed items of a
    /// batch: what its items take, for its ETA. A sample keeps this cheap for huge batches.
    pub(crate) fn batch_done_durations(&self, id: &str, sample: usize) -> Result<(u64, u64)> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT COALESCE(SUM(took), 0), COUNT(*) FROM ( \
                   SELECT MAX(finished_at - started_at, 0) AS took FROM jobs \
                   WHERE batch_id = ?1 AND status = 'completed' AND started_at IS NOT NULL \
                   LIMIT ?2 + 0)",
            )?;
            let (total, count): (i64, i64) =
                stmt.query_row(params![id, sample as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok((total.max(0) as u64, count.max(0) as u64))
        })
    }

    /// Up to `limit` failed items of a batch with their errors.
    pub(crate) fn batch_errors(
        &self,
        id: &str,
        limit: usize,
    ) -> Result<Vec<brain_plugin_api::ItemError>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, label, last_error FROM jobs WHERE batch_id = ?1 AND status = 'failed' LIMIT ?2 + 0",
            )?;
            let rows = stmt.query_map(params![id, limit as i64], |r| {
                Ok(brain_plugin_api::ItemError {
                    job_id: r.get(0)?,
                    label: r.get(1)?,
                    error: r.get::<_, Option<String>>(2)?.unwrap_or_else(|| "failed".into()),
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Jobs matching `filter`: active ones newest first, then (unless `filter.active`) the
    /// most recently finished. Each part walks a partial index, so a long history costs
    /// nothing here.
    pub(crate) fn list_jobs(&self, filter: &ListFilter) -> Result<Vec<JobRecord>> {
        let mut conditions = String::new();
        let mut values: Vec<rusqlite::types::Value> = Vec::new();
        if !filter.include_batch_items {
            conditions.push_str(" AND batch_id IS NULL");
        }
        if let Some(t) = &filter.job_type {
            values.push(t.clone().into());
            conditions.push_str(&format!(" AND job_type = ?{}", values.len()));
        }
        if let Some(s) = &filter.source {
            values.push(s.as_str().to_owned().into());
            conditions.push_str(&format!(" AND source = ?{}", values.len()));
        }
        if let Some(status) = filter.status {
            values.push(status.as_str().to_owned().into());
            conditions.push_str(&format!(" AND status = ?{}", values.len()));
        }
        if let Some(since) = filter.since {
            values.push(since.into());
            conditions.push_str(&format!(" AND created_at >= ?{}", values.len()));
        }
        values.push((filter.limit.max(1) as i64).into());
        let limit = values.len();
        let active = format!(
            "SELECT {RECORD_COLUMNS} FROM jobs WHERE status IN ('pending', 'processing'){conditions} \
             ORDER BY created_at DESC LIMIT ?{limit} + 0"
        );
        let finished = format!(
            "SELECT {RECORD_COLUMNS} FROM jobs WHERE finished_at IS NOT NULL{conditions} \
             ORDER BY finished_at DESC LIMIT ?{limit} + 0"
        );
        let wants = |finished: bool| filter.status.is_none_or(|s| s.is_finished() == finished);
        self.with(|c| {
            let mut out = Vec::new();
            let mut queries: Vec<&str> = Vec::new();
            if wants(false) {
                queries.push(&active);
            }
            if !filter.active && wants(true) {
                queries.push(&finished);
            }
            for sql in queries {
                let mut stmt = c.prepare_cached(sql)?;
                let rows = stmt.query_map(rusqlite::params_from_iter(values.iter()), |r| {
                    record_from_row(r).map(|(record, _)| record)
                })?;
                for row in rows {
                    out.push(row?);
                }
            }
            Ok(out)
        })
    }

    /// Batches matching `filter`: unfinished ones newest first, then (unless
    /// `filter.active`) those finished most recently — since `filter.since` if given, else
    /// in the last `history` ms.
    pub(crate) fn list_batches(&self, filter: &ListFilter, history: i64) -> Result<Vec<BatchRow>> {
        let mut conditions = String::new();
        let mut values: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(t) = &filter.job_type {
            values.push(t.clone().into());
            conditions.push_str(&format!(" AND job_type = ?{}", values.len()));
        }
        if let Some(s) = &filter.source {
            values.push(s.as_str().to_owned().into());
            conditions.push_str(&format!(" AND source = ?{}", values.len()));
        }
        conditions.push_str(batch_state(filter.status));
        let finished_since = match filter.since {
            Some(since) => {
                values.push(since.into());
                conditions.push_str(&format!(" AND created_at >= ?{}", values.len()));
                i64::MIN
            }
            None => now_ms().saturating_sub(history),
        };
        values.push(finished_since.into());
        let since = values.len();
        values.push((filter.limit.max(1) as i64).into());
        let limit = values.len();
        // Both queries take every value, so the active one names `since` too (SQLite
        // refuses values a statement does not use).
        let active = format!(
            "SELECT {BATCH_COLUMNS} FROM batches WHERE finished_at IS NULL{conditions} \
             AND ?{since} IS NOT NULL ORDER BY created_at DESC LIMIT ?{limit} + 0"
        );
        let finished = format!(
            "SELECT {BATCH_COLUMNS} FROM batches WHERE finished_at >= ?{since}{conditions} \
             ORDER BY finished_at DESC LIMIT ?{limit} + 0"
        );
        let wants = |finished: bool| filter.status.is_none_or(|s| s.is_finished() == finished);
        self.with(|c| {
            let mut out = Vec::new();
            let mut queries: Vec<&str> = Vec::new();
            if wants(false) {
                queries.push(&active);
            }
            if !filter.active && wants(true) {
                queries.push(&finished);
            }
            for sql in queries {
                let mut stmt = c.prepare_cached(sql)?;
                let rows =
                    stmt.query_map(rusqlite::params_from_iter(values.iter()), batch_from_row)?;
                for row in rows {
                    out.push(row?);
                }
            }
            Ok(out)
        })
    }

    /// Workers whose heartbeat is recent enough that they are presumed alive.
    pub(crate) fn live_workers(&self, now: i64) -> Result<Vec<WorkerRow>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, pid, host, lease_ms, concurrency, job_types, wake_port, scope, started_at, heartbeat_at \
                 FROM workers WHERE heartbeat_at + lease_ms >= ?1",
            )?;
            let rows = stmt.query_map([now], |r| {
                let types: String = r.get(5)?;
                Ok(WorkerRow {
                    id: r.get(0)?,
                    pid: r.get(1)?,
                    host: r.get(2)?,
                    started_at: r.get(8)?,
                    heartbeat_at: r.get(9)?,
                    lease_ms: r.get(3)?,
                    concurrency: r.get(4)?,
                    job_types: types
                        .split(',')
                        .filter(|t| !t.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    wake_port: r.get(6)?,
                    scope: r
                        .get::<_, Option<String>>(7)?
                        .map(|s| s.split(',').filter(|i| !i.is_empty()).map(str::to_owned).collect()),
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// All worker rows (live or not), for start-up recovery.
    pub(crate) fn all_workers(&self) -> Result<Vec<WorkerRow>> {
        self.live_workers(i64::MIN / 4)
    }

    /// When the next claimable job of these types (in `scope`, when given) becomes due.
    pub(crate) fn next_due(
        &self,
        types: &[String],
        scope: Option<&[String]>,
    ) -> Result<Option<i64>> {
        if types.is_empty() || scope.is_some_and(|s| s.is_empty()) {
            return Ok(None);
        }
        let due = due_condition(types.len(), scope.map_or(0, |s| s.len()), 1);
        let sql = format!("SELECT MIN(scheduled_at) FROM jobs WHERE {due}");
        self.with(|c| {
            Ok(c.prepare_cached(&sql)?.query_row(
                rusqlite::params_from_iter(types.iter().chain(scope.into_iter().flatten())),
                |r| r.get(0),
            )?)
        })
    }

    /// See [`crate::store::Driver::rescued`].
    pub(crate) fn rescued(&self, id: &str) -> Result<u64> {
        self.with(|c| {
            // SQLite reads `$1` as the first parameter, as PostgreSQL does.
            let n: i64 = c
                .prepare_cached(crate::store::rescued_sql(id))?
                .query_row([id], |r| r.get(0))?;
            Ok(n.max(0) as u64)
        })
    }

    /// The ids a job (or a batch's waiting jobs) waits for, in the order they were named.
    pub(crate) fn dependencies(&self, id: &str) -> Result<Vec<String>> {
        self.with(|c| {
            let sql = if id.starts_with("batch_") {
                // A batch's jobs share its dependencies; any job that still waits shows them.
                "SELECT d.after_id FROM job_deps d WHERE d.job_seq = (SELECT seq FROM jobs \
                 WHERE batch_id = ?1 AND status = 'pending' AND waiting_on > 0 LIMIT 1)"
            } else {
                "SELECT d.after_id FROM job_deps d WHERE d.job_seq = (SELECT seq FROM jobs WHERE id = ?1)"
            };
            let mut stmt = c.prepare_cached(sql)?;
            let rows = stmt.query_map([id], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Ids of unfinished batches whose jobs are all of `job_type`, and of unfinished jobs of
    /// that type outside batches, oldest first.
    pub(crate) fn active_of_type(&self, job_type: &str) -> Result<Vec<String>> {
        self.with(|c| {
            let mut out: Vec<(i64, String)> = Vec::new();
            for sql in [
                "SELECT created_at, id FROM batches WHERE finished_at IS NULL AND job_type = ?1",
                "SELECT created_at, id FROM jobs WHERE status IN ('pending', 'processing') \
                 AND batch_id IS NULL AND job_type = ?1",
                // Ended, but their files are not all in place yet: not over for what must
                // come after them.
                "SELECT j.created_at, COALESCE(j.batch_id, j.id) FROM outbox o CROSS \
                 JOIN jobs j ON j.id = o.job_id WHERE j.job_type = ?1",
            ] {
                let mut stmt = c.prepare_cached(sql)?;
                let rows = stmt.query_map([job_type], |r| Ok((r.get(0)?, r.get(1)?)))?;
                for row in rows {
                    out.push(row?);
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
        })
    }

    /// Effects stored with a completion and not applied yet, oldest first: (row id, effect).
    /// For `job_id` only, or all of them.
    pub(crate) fn outbox(&self, job_id: Option<&str>) -> Result<Vec<(i64, SideEffect)>> {
        self.with(|c| {
            let sql = if job_id.is_some() {
                "SELECT id, kind, path, target, bytes FROM outbox WHERE job_id = ?1 ORDER BY id"
            } else {
                "SELECT id, kind, path, target, bytes FROM outbox ORDER BY id"
            };
            let mut stmt = c.prepare_cached(sql)?;
            let read = |r: &Row<'_>| {
                let kind: String = r.get(1)?;
                let path = PathBuf::from(r.get::<_, String>(2)?);
                let effect = match kind.as_str() {
                    "write" => Some(SideEffect::WriteFile {
                        path,
                        bytes: r.get::<_, Option<Vec<u8>>>(4)?.unwrap_or_default(),
                    }),
                    "remove" => Some(SideEffect::RemoveFile { path }),
                    "remove-empty-dir" => Some(SideEffect::RemoveEmptyDir { path }),
                    "replace-dir" => {
                        r.get::<_, Option<String>>(3)?
                            .map(|to| SideEffect::ReplaceDir {
                                from: path,
                                to: PathBuf::from(to),
                            })
                    }
                    _ => None,
                };
                Ok((r.get::<_, i64>(0)?, effect))
            };
            let rows = match job_id {
                Some(id) => stmt
                    .query_map([id], read)?
                    .collect::<rusqlite::Result<Vec<_>>>()?,
                None => stmt
                    .query_map([], read)?
                    .collect::<rusqlite::Result<Vec<_>>>()?,
            };
            // A kind this build does not know (written by a newer one) is left alone.
            Ok(rows
                .into_iter()
                .filter_map(|(id, effect)| effect.map(|e| (id, e)))
                .collect())
        })
    }

    pub(crate) fn estimates(&self) -> Result<Vec<(String, f64, f64, u64)>> {
        self.with(|c| {
            let mut stmt =
                c.prepare_cached("SELECT job_type, mean_ms, var_ms2, samples FROM estimates")?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get::<_, i64>(3)?.max(0) as u64,
                ))
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// A page of the operations history: jobs outside batches and batches, newest first,
    /// each walking its id index (see [`crate::store::history`]).
    pub(crate) fn history(&self, query: &HistoryQuery) -> Result<HistoryRows> {
        let limit = (query.limit.max(1) + 1) as i64;
        let mut job_params = Vec::new();
        let mut jobs_sql = format!(
            "SELECT {RECORD_COLUMNS} FROM jobs WHERE {} AND batch_id IS NULL",
            history::conditions(query, "job_", '?', "id", "", &mut job_params)
        );
        if let Some(status) = query.status {
            job_params.push(Param::Text(status.as_str().to_owned()));
            jobs_sql.push_str(&format!(" AND status = ?{}", job_params.len()));
        }
        job_params.push(Param::Int(limit));
        jobs_sql.push_str(&format!(" ORDER BY id DESC LIMIT ?{}", job_params.len()));
        let mut batch_params = Vec::new();
        let mut batches_sql = format!(
            "SELECT {BATCH_COLUMNS} FROM batches b WHERE {}{}",
            history::conditions(query, "batch_", '?', "b.id", "b.", &mut batch_params),
            batch_state(query.status)
        );
        batch_params.push(Param::Int(limit));
        batches_sql.push_str(&format!(
            " ORDER BY b.id DESC LIMIT ?{}",
            batch_params.len()
        ));
        let values = |params: Vec<Param>| -> Vec<rusqlite::types::Value> {
            params
                .into_iter()
                .map(|p| match p {
                    Param::Text(t) => t.into(),
                    Param::Int(n) => n.into(),
                })
                .collect()
        };
        let (job_values, batch_values) = (values(job_params), values(batch_params));
        self.with(|c| {
            let mut rows = HistoryRows::default();
            let mut stmt = c.prepare_cached(&jobs_sql)?;
            for row in stmt.query_map(rusqlite::params_from_iter(job_values.iter()), |r| {
                record_from_row(r).map(|(record, _)| record)
            })? {
                rows.jobs.push(row?);
            }
            let mut stmt = c.prepare_cached(&batches_sql)?;
            for row in stmt.query_map(
                rusqlite::params_from_iter(batch_values.iter()),
                batch_from_row,
            )? {
                rows.batches.push(row?);
            }
            Ok(rows)
        })
    }

    pub(crate) fn recent_runs(&self, job_type: &str, limit: usize) -> Result<Vec<history::RunRow>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(history::RECENT_RUNS_SQL)?;
            let rows = stmt.query_map(params![job_type, limit as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// The queue's counts at `now`, and the jobs that ended since `since`, per minute.
    pub(crate) fn stats(&self, now: i64, since: i64) -> Result<StatsRows> {
        self.with(|c| {
            let mut stats = StatsRows::default();
            let mut stmt = c.prepare_cached(
                "SELECT job_type, status, count(*) FROM jobs WHERE status IN ('pending', 'processing') \
                 GROUP BY job_type, status",
            )?;
            for row in stmt.query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
            })? {
                let (job_type, status, count) = row?;
                stats
                    .active
                    .push((job_type, status_from(&status)?, count.max(0) as u64));
            }
            // `status IN (…)` as well: SQLite uses a partial index only when the query
            // repeats its condition, here `jobs_active`'s.
            stats.oldest_available = c
                .prepare_cached(
                    "SELECT created_at FROM jobs WHERE status IN ('pending', 'processing') \
                     AND status = 'pending' AND waiting_on = 0 AND scheduled_at <= ?1 \
                     ORDER BY created_at LIMIT 1",
                )?
                .query_row([now], |r| r.get(0))
                .optional()?;
            let mut stmt = c.prepare_cached(history::MINUTES_SQL)?;
            for row in stmt.query_map([since], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
            })? {
                let (minute, status, count) = row?;
                stats
                    .minutes
                    .push((minute, status_from(&status)?, count.max(0) as u64));
            }
            Ok(stats)
        })
    }
}

/// The condition on a batch's counters for its derived state (as `BatchRow::status`).
fn batch_state(status: Option<JobStatus>) -> &'static str {
    match status {
        None => "",
        Some(JobStatus::Pending) => {
            " AND started_at IS NULL AND processing = 0 \
             AND completed + failed + cancelled = 0"
        }
        Some(JobStatus::Processing) => {
            " AND NOT (started_at IS NULL AND processing = 0 \
             AND completed + failed + cancelled = 0)"
        }
        Some(JobStatus::Completed) => " AND failed + cancelled = 0",
        Some(JobStatus::Failed) => " AND failed > 0",
        Some(JobStatus::Cancelled) => " AND failed = 0 AND cancelled > 0",
    }
}
