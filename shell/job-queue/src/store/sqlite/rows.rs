//! How rows read and write: the column lists and row mappings the operations share, job
//! logs, and the claim condition.

use brain_plugin_api::{JobStatus, Source};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::error::Result;
use crate::store::{
    BatchRow, JobHead, JobRecord, LOG_MESSAGE_MAX, LOG_ROWS_PER_JOB, json_column, wording_column,
};

/// Appends a line to job `seq`'s log, at its current attempt, and drops its oldest lines
/// past [`LOG_ROWS_PER_JOB`].
pub(crate) fn append_log(
    tx: &Connection,
    seq: i64,
    at: i64,
    kind: &str,
    message: &str,
) -> Result<()> {
    let message = brain_plugin_api::shorten(message, LOG_MESSAGE_MAX);
    let added = tx
        .prepare_cached(
            "INSERT INTO job_log (job_seq, at, attempt, kind, message) \
             SELECT seq, ?2, attempt, ?3, ?4 FROM jobs WHERE seq = ?1",
        )?
        .execute(params![seq, at, kind, message])?;
    if added > 0 {
        tx.prepare_cached(
            "DELETE FROM job_log WHERE job_seq = ?1 AND id <= \
             (SELECT id FROM job_log WHERE job_seq = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
        )?
        .execute(params![seq, LOG_ROWS_PER_JOB])?;
    }
    Ok(())
}

/// Logs `message` as job `seq`'s progress unless it is empty or what it last logged.
pub(crate) fn log_progress(tx: &Connection, seq: i64, at: i64, message: &str) -> Result<()> {
    if message.is_empty() {
        return Ok(());
    }
    let last: Option<String> = tx
        .prepare_cached(
            "SELECT message FROM job_log WHERE job_seq = ?1 AND kind = 'progress' \
             ORDER BY id DESC LIMIT 1",
        )?
        .query_row([seq], |r| r.get(0))
        .optional()?;
    if last.as_deref() == Some(brain_plugin_api::shorten(message, LOG_MESSAGE_MAX).as_str()) {
        return Ok(());
    }
    append_log(tx, seq, at, "progress", message)
}

pub(crate) const HEAD_COLUMNS: &str = "seq, id, job_type, source, label, batch_id, priority, attempt, max_attempts, started_at, wording";

/// How many columns [`HEAD_COLUMNS`] has: the index of the first column after them.
pub(crate) const HEAD_WIDTH: usize = 11;

pub(crate) fn head_from_row(row: &Row<'_>) -> rusqlite::Result<JobHead> {
    let source: String = row.get(3)?;
    Ok(JobHead {
        seq: row.get(0)?,
        id: row.get(1)?,
        job_type: row.get(2)?,
        // Sources are validated before they are stored; a bad one means a hand-edited row.
        source: source.parse().unwrap_or_else(|_| Source::system()),
        label: row.get(4)?,
        batch_id: row.get(5)?,
        priority: row.get(6)?,
        attempt: row.get(7)?,
        max_attempts: row.get(8)?,
        started_at: row.get(9)?,
        wording: wording_column(row.get(10)?),
    })
}

/// The condition a claimable job meets: pending, nothing left to wait for, one of the
/// pool's types and, for a scoped pool, in its scope. Placeholders are numbered from
/// `first` (types, then scope ids); a bare `?` would take the largest index seen so far.
pub(crate) fn due_condition(types: usize, scope: usize, first: usize) -> String {
    let list = |from: usize, n: usize| {
        (from..from + n)
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut sql = format!(
        "status = 'pending' AND waiting_on = 0 AND job_type IN ({})",
        list(first, types)
    );
    if scope > 0 {
        let ids = list(first + types, scope);
        sql.push_str(&format!(" AND (id IN ({ids}) OR batch_id IN ({ids}))"));
    }
    sql
}

pub(crate) const BATCH_COLUMNS: &str = "id, source, label, created_at, started_at, finished_at, total, pending, processing, \
     completed, failed, cancelled, job_type, wording";

pub(crate) fn batch_from_row(row: &Row<'_>) -> rusqlite::Result<BatchRow> {
    let source: String = row.get(1)?;
    Ok(BatchRow {
        id: row.get(0)?,
        source: source.parse().unwrap_or_else(|_| Source::system()),
        label: row.get(2)?,
        created_at: row.get(3)?,
        started_at: row.get(4)?,
        finished_at: row.get(5)?,
        total: row.get::<_, i64>(6)?.max(0) as u64,
        pending: row.get::<_, i64>(7)?.max(0) as u64,
        processing: row.get::<_, i64>(8)?.max(0) as u64,
        completed: row.get::<_, i64>(9)?.max(0) as u64,
        failed: row.get::<_, i64>(10)?.max(0) as u64,
        cancelled: row.get::<_, i64>(11)?.max(0) as u64,
        job_type: row.get(12)?,
        wording: wording_column(row.get(13)?),
    })
}

pub(crate) fn batch_row(conn: &Connection, id: &str) -> Result<Option<BatchRow>> {
    let sql = format!("SELECT {BATCH_COLUMNS} FROM batches WHERE id = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id], batch_from_row)
        .optional()?)
}

pub(crate) const RECORD_COLUMNS: &str = "id, job_type, input, result, source, metadata, status, priority, attempt, max_attempts, \
     last_error, created_at, scheduled_at, started_at, finished_at, lease_expires_at, worker_id, cancel_requested, \
     progress_current, progress_total, progress_message, batch_id, label, wording, estimated_ms";

pub(crate) fn record_from_row(row: &Row<'_>) -> rusqlite::Result<(JobRecord, String)> {
    let source: String = row.get(4)?;
    let status: String = row.get(6)?;
    let record = JobRecord {
        id: row.get(0)?,
        job_type: row.get(1)?,
        input: json_column(row.get(2)?).unwrap_or_default(),
        result: json_column(row.get(3)?),
        source: source.parse().unwrap_or_else(|_| Source::system()),
        metadata: json_column(row.get(5)?),
        status: JobStatus::parse(&status).unwrap_or(JobStatus::Failed),
        priority: row.get(7)?,
        attempt: row.get(8)?,
        max_attempts: row.get(9)?,
        last_error: row.get(10)?,
        created_at: row.get(11)?,
        scheduled_at: row.get(12)?,
        started_at: row.get(13)?,
        finished_at: row.get(14)?,
        lease_expires_at: row.get(15)?,
        worker_id: row.get(16)?,
        cancel_requested: row.get(17)?,
        progress_current: row.get::<_, i64>(18)?.max(0) as u64,
        progress_total: row.get::<_, i64>(19)?.max(0) as u64,
        progress_message: row.get(20)?,
        batch_id: row.get(21)?,
        label: row.get(22)?,
        wording: wording_column(row.get(23)?),
        estimated_ms: row.get(24)?,
    };
    Ok((record, status))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A job's log keeps its newest lines, however many it reports, each cut to size.
    #[test]
    fn a_jobs_log_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let conn =
            crate::store::sqlite::schema::open_and_migrate(&dir.path().join("brain.db")).unwrap();
        conn.execute(
            "INSERT INTO jobs (seq, id, job_type, input, source, status, max_attempts, created_at, scheduled_at) \
             VALUES (7, 'job_a', 't:x', '{}', 'cli', 'processing', 3, 0, 0)",
            [],
        )
        .unwrap();
        let total = LOG_ROWS_PER_JOB + 50;
        for i in 0..total {
            log_progress(&conn, 7, i, &format!("item {i}")).unwrap();
        }
        // The same message again adds nothing; an empty one neither.
        log_progress(&conn, 7, total, &format!("item {}", total - 1)).unwrap();
        log_progress(&conn, 7, total, "").unwrap();
        append_log(&conn, 7, total, "error", &"x".repeat(5_000)).unwrap();
        let rows: Vec<(String, String)> = conn
            .prepare("SELECT kind, message FROM job_log WHERE job_seq = 7 ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(rows.len() as i64, LOG_ROWS_PER_JOB);
        assert_eq!(rows[0].1, format!("item {}", total - LOG_ROWS_PER_JOB + 1));
        let (kind, message) = rows.last().unwrap();
        assert_eq!(kind, "error");
        assert_eq!(
            message.chars().count(),
            LOG_MESSAGE_MAX + 1,
            "cut, with an ellipsis"
        );
        // Deleting the job deletes its log.
        conn.execute("DELETE FROM jobs WHERE seq = 7", []).unwrap();
        let left: i64 = conn
            .query_row("SELECT COUNT(*) FROM job_log", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0);
    }
}
