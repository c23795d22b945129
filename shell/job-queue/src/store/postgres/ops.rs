//! The typed operations on PostgreSQL, each with its SQL: the same semantics as the SQLite
//! driver's (`sqlite/ops/`), claims with `FOR UPDATE SKIP LOCKED`, and wake-ups as a
//! NOTIFY at commit (`Changes::wake_work`, `wake_check`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use brain_plugin_api::{JobStatus, SideEffect, Source};
use deadpool_postgres::Transaction;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::writer::PgOp;
use crate::error::{QueueError, Result};
use crate::store::{
    BatchRow, Cancel, CancelResult, Changes, Claim, Claimed, Effect, Enqueue, Finish, Heartbeat,
    HeartbeatResult, InsertJob, Inserted, JobHead, LOG_MESSAGE_MAX, LOG_ROWS_PER_JOB, OutboxDone,
    Outcome, Prune, RegisterWorker, Retry, SaveEstimates, SaveProgress, Sweep, UnregisterWorker,
    status_from, wording_column, wording_text,
};
use crate::util::random_i64;

/// The columns of [`JobHead`], in the order [`head_from_row`] reads them.
pub(crate) const HEAD_COLUMNS: &str = "seq, id, job_type, source, label, batch_id, priority, attempt, max_attempts, started_at, wording";

/// How many columns [`HEAD_COLUMNS`] has.
pub(crate) const HEAD_WIDTH: usize = 11;

pub(crate) fn head_from_row(row: &Row) -> Result<JobHead> {
    let source: String = row.try_get(3)?;
    Ok(JobHead {
        seq: row.try_get(0)?,
        id: row.try_get(1)?,
        job_type: row.try_get(2)?,
        // Sources are validated before they are stored; a bad one means a hand-edited row.
        source: source.parse().unwrap_or_else(|_| Source::system()),
        label: row.try_get(4)?,
        batch_id: row.try_get(5)?,
        priority: row.try_get(6)?,
        attempt: count(row.try_get::<_, i32>(7)?),
        max_attempts: count(row.try_get::<_, i32>(8)?),
        started_at: row.try_get(9)?,
        wording: wording_column(row.try_get(10)?),
    })
}

/// A stored count as the unsigned number it is (never negative unless edited by hand).
fn count(value: i32) -> u32 {
    u32::try_from(value).unwrap_or(0)
}

fn as_i64(value: impl TryInto<i64>) -> i64 {
    value.try_into().unwrap_or(i64::MAX)
}

/// Appends a line to job `seq`'s log and drops its oldest lines past the bound.
pub(crate) async fn append_log(
    tx: &Transaction<'_>,
    seq: i64,
    at: i64,
    kind: &str,
    message: &str,
) -> Result<()> {
    let message = brain_plugin_api::shorten(message, LOG_MESSAGE_MAX);
    let stmt = tx
        .prepare_cached(
            "INSERT INTO job_log (job_seq, at, attempt, kind, message) \
             SELECT seq, $2, attempt, $3, $4 FROM jobs WHERE seq = $1",
        )
        .await?;
    if tx.execute(&stmt, &[&seq, &at, &kind, &message]).await? > 0 {
        let trim = tx
            .prepare_cached(
                "DELETE FROM job_log WHERE job_seq = $1 AND id <= \
                 (SELECT id FROM job_log WHERE job_seq = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
            )
            .await?;
        tx.execute(&trim, &[&seq, &LOG_ROWS_PER_JOB]).await?;
    }
    Ok(())
}

/// Logs `message` as job `seq`'s progress unless it is empty or what it last logged.
async fn log_progress(tx: &Transaction<'_>, seq: i64, at: i64, message: &str) -> Result<()> {
    if message.is_empty() {
        return Ok(());
    }
    let stmt = tx
        .prepare_cached(
            "SELECT message FROM job_log WHERE job_seq = $1 AND kind = 'progress' \
             ORDER BY id DESC LIMIT 1",
        )
        .await?;
    let last: Option<String> = tx.query_opt(&stmt, &[&seq]).await?.map(|r| r.get(0));
    if last.as_deref() == Some(brain_plugin_api::shorten(message, LOG_MESSAGE_MAX).as_str()) {
        return Ok(());
    }
    append_log(tx, seq, at, "progress", message).await
}

// ---- Enqueue

#[async_trait]
impl PgOp for Enqueue {
    type Out = Inserted;
    const WHAT: &'static str = "enqueue";

    async fn run(&self, tx: &Transaction<'_>, now: i64, changes: &mut Changes) -> Result<Inserted> {
        let Self { batch, jobs } = self;
        let mut inserted = Inserted::default();
        let mut fresh = Vec::with_capacity(jobs.len());
        let mut keys = std::collections::HashSet::new();
        let owner = tx
            .prepare_cached(
                "SELECT COALESCE(batch_id, id) FROM jobs WHERE job_type = $1 AND unique_key = $2 \
                 AND unique_key IS NOT NULL AND status IN ('pending', 'processing')",
            )
            .await?;
        for j in jobs {
            if let Some(key) = &j.unique_key {
                if !keys.insert((j.job_type.as_str(), key.as_str())) {
                    inserted.skipped += 1;
                    continue;
                }
                if let Some(row) = tx.query_opt(&owner, &[&j.job_type, key]).await? {
                    let owner: String = row.get(0);
                    inserted.skipped += 1;
                    if !inserted.shared_with.contains(&owner) {
                        inserted.shared_with.push(owner);
                    }
                    continue;
                }
            }
            fresh.push(j);
        }
        if fresh.is_empty() {
            return Ok(inserted);
        }
        if let Some(b) = batch {
            let stmt = tx
                .prepare_cached(
                    "INSERT INTO batches (id, source, label, metadata, job_type, created_at, wording) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .await?;
            tx.execute(
                &stmt,
                &[
                    &b.id,
                    &b.source.as_str(),
                    &b.label,
                    &b.metadata,
                    &b.job_type,
                    &now,
                    &wording_text(b.wording.as_ref()),
                ],
            )
            .await?;
            changes.batches.push(b.id.clone());
        }
        let batch_id = batch.as_ref().map(|b| b.id.as_str());
        // Jobs that wait for nothing go in one statement.
        let plain: Vec<&InsertJob> = fresh
            .iter()
            .copied()
            .filter(|j| j.after.is_empty())
            .collect();
        let mut seqs = insert_plain(tx, &plain, batch_id, now).await?;
        let mut deps = DependencyCheck::default();
        for j in fresh {
            if j.after.is_empty() {
                let seq = seqs
                    .remove(j.id.as_str())
                    .ok_or_else(|| QueueError::Corrupt(format!("job {} was not stored", j.id)))?;
                let head = j.head(seq, batch_id);
                if batch_id.is_none() {
                    changes.effects.push(Effect::Enqueued(head.clone()));
                }
                inserted.heads.push(head);
                continue;
            }
            let (head, cancelled) = insert_job(tx, j, batch_id, now, &mut deps).await?;
            if batch_id.is_none() {
                changes.effects.push(match cancelled {
                    Some(reason) => Effect::CancelledPending(head.clone(), reason),
                    None => Effect::Enqueued(head.clone()),
                });
            }
            inserted.heads.push(head);
        }
        changes.wake_work = true;
        Ok(inserted)
    }
}

/// Inserts jobs that wait for nothing, in order, in one statement; their seqs by id.
async fn insert_plain<'a>(
    tx: &Transaction<'_>,
    jobs: &[&'a InsertJob],
    batch_id: Option<&str>,
    now: i64,
) -> Result<HashMap<&'a str, i64>> {
    if jobs.is_empty() {
        return Ok(HashMap::new());
    }
    let ids: Vec<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
    let types: Vec<&str> = jobs.iter().map(|j| j.job_type.as_str()).collect();
    let inputs: Vec<&str> = jobs.iter().map(|j| j.input.as_str()).collect();
    let sources: Vec<&str> = jobs.iter().map(|j| j.source.as_str()).collect();
    let metadata: Vec<Option<&str>> = jobs.iter().map(|j| j.metadata.as_deref()).collect();
    let priorities: Vec<i32> = jobs.iter().map(|j| j.priority).collect();
    let attempts: Vec<i32> = jobs
        .iter()
        .map(|j| i32::try_from(j.max_attempts).unwrap_or(i32::MAX))
        .collect();
    let delays: Vec<i64> = jobs.iter().map(|j| j.delay_ms).collect();
    let labels: Vec<Option<&str>> = jobs.iter().map(|j| j.label.as_deref()).collect();
    let keys: Vec<Option<&str>> = jobs.iter().map(|j| j.unique_key.as_deref()).collect();
    let wordings: Vec<Option<String>> = jobs
        .iter()
        .map(|j| wording_text(j.wording.as_ref()))
        .collect();
    let estimates: Vec<Option<i64>> = jobs.iter().map(|j| j.estimated_ms).collect();
    // In the order given (`ORDER BY n`), so seqs follow it and claims keep enqueue order.
    let stmt = tx
        .prepare_cached(
            "INSERT INTO jobs (id, job_type, input, source, metadata, status, priority, max_attempts, \
             created_at, scheduled_at, batch_id, label, unique_key, wording, estimated_ms) \
             SELECT id, job_type, input, source, metadata, 'pending', priority, max_attempts, \
             $1, $1 + delay, $2, label, unique_key, wording, estimated_ms \
             FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[], \
             $9::int[], $10::bigint[], $11::text[], $12::text[], $13::text[], $14::bigint[]) \
             WITH ORDINALITY AS v (id, job_type, input, source, metadata, priority, max_attempts, \
             delay, label, unique_key, wording, estimated_ms, n) ORDER BY n RETURNING seq, id",
        )
        .await?;
    let rows = tx
        .query(
            &stmt,
            &[
                &now,
                &batch_id,
                &ids,
                &types,
                &inputs,
                &sources,
                &metadata,
                &priorities,
                &attempts,
                &delays,
                &labels,
                &keys,
                &wordings,
                &estimates,
            ],
        )
        .await?;
    let known: std::collections::HashSet<&'a str> = jobs.iter().map(|j| j.id.as_str()).collect();
    let mut seqs = HashMap::with_capacity(rows.len());
    for row in &rows {
        let id: &str = row.try_get(1)?;
        if let Some(&id) = known.get(id) {
            seqs.insert(id, row.try_get(0)?);
        }
    }
    Ok(seqs)
}

/// Inserts a job; one that names dependencies waits for the unfinished ones, and ends
/// cancelled at once if one already failed (unless it runs after failures). Returns its
/// head and, if it was cancelled, why.
async fn insert_job(
    tx: &Transaction<'_>,
    j: &InsertJob,
    batch_id: Option<&str>,
    now: i64,
    deps: &mut DependencyCheck,
) -> Result<(Arc<JobHead>, Option<String>)> {
    let mut waiting = 0i32;
    let mut failed = None;
    for id in &j.after {
        match deps.lookup(tx, id).await? {
            None => waiting += 1,
            Some(true) => {}
            Some(false) => {
                failed.get_or_insert(id.as_str());
            }
        }
    }
    let cancelled = failed.filter(|_| !j.run_after_failure).map(not_run_because);
    let stmt = tx
        .prepare_cached(
            "INSERT INTO jobs (id, job_type, input, source, metadata, status, priority, max_attempts, \
             created_at, scheduled_at, batch_id, label, waiting_on, run_after_failure, finished_at, \
             last_error, unique_key, wording, estimated_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) \
             RETURNING seq",
        )
        .await?;
    let status = if cancelled.is_some() {
        "cancelled"
    } else {
        "pending"
    };
    let max_attempts = i32::try_from(j.max_attempts).unwrap_or(i32::MAX);
    let scheduled = now + j.delay_ms;
    let waiting = if cancelled.is_some() { 0 } else { waiting };
    let finished = cancelled.as_ref().map(|_| now);
    let seq: i64 = tx
        .query_one(
            &stmt,
            &[
                &j.id,
                &j.job_type,
                &j.input,
                &j.source.as_str(),
                &j.metadata,
                &status,
                &j.priority,
                &max_attempts,
                &now,
                &scheduled,
                &batch_id,
                &j.label,
                &waiting,
                &j.run_after_failure,
                &finished,
                &cancelled,
                &j.unique_key,
                &wording_text(j.wording.as_ref()),
                &j.estimated_ms,
            ],
        )
        .await?
        .get(0);
    if !j.after.is_empty() {
        let link = tx
            .prepare_cached(
                "INSERT INTO job_deps (after_id, job_seq, resolved) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
            )
            .await?;
        for id in &j.after {
            // Work that has ended already is counted now (it is not in `waiting_on`).
            let ended = deps.lookup(tx, id).await?.is_some();
            tx.execute(&link, &[id, &seq, &ended]).await?;
        }
    }
    Ok((j.head(seq, batch_id), cancelled))
}

/// The error of a job that did not run because work it waited for did not complete.
fn not_run_because(id: &str) -> String {
    format!("not run: {id}, which it waited for, did not complete")
}

/// What the dependencies named in one enqueue are, looked up once each.
#[derive(Default)]
struct DependencyCheck {
    /// id → `None` while unfinished, `Some(true)` completed, `Some(false)` failed or
    /// cancelled.
    ended: HashMap<String, Option<bool>>,
}

impl DependencyCheck {
    async fn lookup(&mut self, tx: &Transaction<'_>, id: &str) -> Result<Option<bool>> {
        if let Some(known) = self.ended.get(id) {
            return Ok(*known);
        }
        let stmt = tx
            .prepare_cached("SELECT status, batch_id FROM jobs WHERE id = $1")
            .await?;
        let job = tx.query_opt(&stmt, &[&id]).await?;
        let ended = match job.map(|r| (r.get::<_, String>(0), r.get::<_, Option<String>>(1))) {
            Some((_, Some(batch))) => {
                return Err(QueueError::InvalidArgument {
                    field: "after",
                    reason: format!(
                        "{id} is one item of {batch}: work waits for whole operations, so name {batch}"
                    ),
                });
            }
            Some((status, None)) => match status_from(&status)? {
                JobStatus::Pending | JobStatus::Processing => None,
                JobStatus::Completed if files_pending(tx, id).await? => None,
                JobStatus::Completed => Some(true),
                JobStatus::Failed | JobStatus::Cancelled => Some(false),
            },
            None => match read_batch(tx, id).await? {
                Some(batch) if batch.finished_at.is_none() => None,
                Some(_) if files_pending(tx, id).await? => None,
                Some(batch) => batch.ended(),
                None => return Err(QueueError::UnknownDependency { id: id.to_owned() }),
            },
        };
        self.ended.insert(id.to_owned(), ended);
        Ok(ended)
    }
}

/// Whether files that operation `id` staged are still to be put in place.
async fn files_pending(tx: &Transaction<'_>, id: &str) -> Result<bool> {
    let stmt = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE job_id = $1) OR EXISTS (SELECT 1 FROM outbox o \
             JOIN jobs j ON j.id = o.job_id WHERE j.batch_id = $1)",
        )
        .await?;
    Ok(tx.query_one(&stmt, &[&id]).await?.get(0))
}

// ---- Claim

#[async_trait]
impl PgOp for Claim {
    type Out = Vec<Claimed>;
    const WHAT: &'static str = "claim jobs";
    const DURABLE: bool = false;

    async fn run(
        &self,
        tx: &Transaction<'_>,
        now: i64,
        changes: &mut Changes,
    ) -> Result<Vec<Claimed>> {
        let Self {
            worker_id,
            types,
            scope,
            limit,
            lease_ms,
        } = self;
        if types.is_empty() || *limit == 0 || scope.as_ref().is_some_and(|s| s.is_empty()) {
            return Ok(Vec::new());
        }
        let scoped = if scope.is_some() {
            " AND (id = ANY($7) OR batch_id = ANY($7))"
        } else {
            " AND $7::text[] IS NULL"
        };
        // SKIP LOCKED: workers of other processes pass over the rows this one takes.
        let sql = format!(
            "UPDATE jobs SET status = 'processing', attempt = attempt + 1, lease_token = $1, \
             lease_expires_at = $2, started_at = COALESCE(started_at, $3), worker_id = $4 \
             WHERE seq IN (SELECT seq FROM jobs WHERE status = 'pending' AND waiting_on = 0 \
             AND scheduled_at <= $3 AND job_type = ANY($6){scoped} \
             ORDER BY priority DESC, scheduled_at, seq LIMIT $5 FOR UPDATE SKIP LOCKED) \
             RETURNING {HEAD_COLUMNS}, input"
        );
        let token = random_i64();
        let types: Vec<&str> = types.iter().map(String::as_str).collect();
        let scope: Option<Vec<&str>> = scope
            .as_ref()
            .map(|s| s.iter().map(String::as_str).collect());
        let stmt = tx.prepare_cached(&sql).await?;
        let rows = tx
            .query(
                &stmt,
                &[
                    &token,
                    &(now + lease_ms),
                    &now,
                    &worker_id.as_ref(),
                    &as_i64(*limit),
                    &types,
                    &scope,
                ],
            )
            .await?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in &rows {
            let head = Arc::new(head_from_row(row)?);
            match &head.batch_id {
                None => changes.effects.push(Effect::Started(head.clone())),
                Some(b) => changes.batches.push(b.clone()),
            }
            claimed.push(Claimed {
                head,
                input: row.try_get(HEAD_WIDTH)?,
                lease_token: token,
            });
        }
        // Claimed in priority order by SKIP LOCKED's subquery; the UPDATE returns them in
        // any order.
        claimed.sort_by_key(|c| (std::cmp::Reverse(c.head.priority), c.head.seq));
        Ok(claimed)
    }
}

// ---- Finish

#[async_trait]
impl PgOp for Finish {
    type Out = bool;
    const WHAT: &'static str = "record a finished job";

    async fn run(&self, tx: &Transaction<'_>, now: i64, changes: &mut Changes) -> Result<bool> {
        let Self {
            head,
            lease_token,
            outcome,
            progress,
        } = self;
        const KEEP_PROGRESS: &str = "progress_current = COALESCE($6, progress_current), \
             progress_total = COALESCE($7, progress_total), \
             progress_message = COALESCE($8, progress_message)";
        const LEASED: &str = "WHERE seq = $1 AND lease_token = $2 AND status = 'processing'";
        let (sql, result, error, retry_at): (String, Option<&str>, Option<&str>, Option<i64>) =
            match outcome {
                Outcome::Completed { result, .. } => (
                    format!(
                        "UPDATE jobs SET status = 'completed', result = $3, finished_at = $4, \
                         lease_token = NULL, lease_expires_at = NULL, {KEEP_PROGRESS} {LEASED} \
                         AND $5::bigint IS NULL RETURNING status"
                    ),
                    Some(result.as_str()),
                    None,
                    None,
                ),
                Outcome::Retry { error, retry_at } => (
                    format!(
                        "UPDATE jobs SET status = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'pending' END, \
                         last_error = $3, scheduled_at = $5, \
                         finished_at = CASE WHEN cancel_requested THEN $4::bigint END, lease_token = NULL, \
                         lease_expires_at = NULL, worker_id = NULL, {KEEP_PROGRESS} {LEASED} RETURNING status"
                    ),
                    None,
                    Some(error.as_str()),
                    Some(*retry_at),
                ),
                Outcome::Failed { error } => (
                    format!(
                        "UPDATE jobs SET status = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'failed' END, \
                         last_error = $3, finished_at = $4, lease_token = NULL, lease_expires_at = NULL, \
                         {KEEP_PROGRESS} {LEASED} AND $5::bigint IS NULL RETURNING status"
                    ),
                    None,
                    Some(error.as_str()),
                    None,
                ),
                Outcome::Cancelled { reason } => (
                    format!(
                        "UPDATE jobs SET status = 'cancelled', last_error = $3, finished_at = $4, \
                         lease_token = NULL, lease_expires_at = NULL, {KEEP_PROGRESS} {LEASED} \
                         AND $5::bigint IS NULL RETURNING status"
                    ),
                    None,
                    Some(reason.as_str()),
                    None,
                ),
                Outcome::Released | Outcome::Wait { .. } => (
                    format!(
                        "UPDATE jobs SET status = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'pending' END, \
                         finished_at = CASE WHEN cancel_requested THEN $4::bigint END, \
                         attempt = GREATEST(attempt - 1, 0), scheduled_at = COALESCE($5::bigint, $4), \
                         lease_token = NULL, lease_expires_at = NULL, worker_id = NULL, \
                         last_error = COALESCE($3::text, last_error), {KEEP_PROGRESS} {LEASED} RETURNING status"
                    ),
                    None,
                    match outcome {
                        Outcome::Wait { error, .. } => Some(error.as_str()),
                        _ => None,
                    },
                    match outcome {
                        Outcome::Wait { retry_at, .. } => Some(*retry_at),
                        _ => None,
                    },
                ),
            };
        let value = result.or(error);
        let current = progress.as_ref().map(|p| as_i64(p.current));
        let total = progress.as_ref().map(|p| as_i64(p.total));
        let message = progress.as_ref().map(|p| p.message.as_str());
        let stmt = tx.prepare_cached(&sql).await?;
        let params: [&(dyn ToSql + Sync); 8] = [
            &head.seq,
            lease_token,
            &value,
            &now,
            &retry_at,
            &current,
            &total,
            &message,
        ];
        let Some(row) = tx.query_opt(&stmt, &params).await? else {
            // The lease is no longer this run's: rescued, cancelled or pruned meanwhile.
            return Ok(false);
        };
        let status = status_from(row.try_get(0)?)?;
        if let Outcome::Completed { effects, .. } = outcome {
            store_effects(tx, &head.id, effects).await?;
        }
        if let Some(p) = progress {
            log_progress(tx, head.seq, now, &p.message).await?;
        }
        if let Some(error) = error {
            let kind = if status == JobStatus::Cancelled {
                "cancelled"
            } else {
                "error"
            };
            append_log(tx, head.seq, now, kind, error).await?;
        }
        if let Some(b) = &head.batch_id {
            changes.batches.push(b.clone());
        }
        if status == JobStatus::Pending {
            changes.wake_work = true;
        }
        changes.effects.push(Effect::Finished {
            head: head.clone(),
            status,
            result: result.map(str::to_owned),
            error: error.map(str::to_owned),
            retry_at: if status == JobStatus::Pending {
                retry_at.or(Some(now))
            } else {
                None
            },
            finished_at: now,
        });
        Ok(true)
    }
}

/// Whether `op` can be stored with others in one statement ([`complete_many`]): a completion
/// that staged no side effects.
pub(crate) fn bulk_completion(op: &Finish) -> bool {
    matches!(&op.outcome, Outcome::Completed { effects, .. } if effects.is_empty())
}

/// Stores completions (each [`bulk_completion`]) in one statement, fenced by their lease
/// tokens as one by one; whether each was accepted, in order. The rows join the arrays
/// unnested: looking each row's values up by `array_position` cost time quadratic in the
/// group (a group of 200 took 25 µs a row, against 11 µs joined). The token alone fences
/// (only a processing job holds one: every other transition clears it): with `status =
/// 'processing'` too, the planner, with statistics taken while nothing ran, would walk the
/// partial index of running jobs for each array element instead of the primary key (84 µs
/// a row with 1,000,000 jobs stored).
pub(crate) async fn complete_many(
    tx: &Transaction<'_>,
    now: i64,
    ops: &[&Finish],
    changes: &mut Changes,
) -> Result<Vec<bool>> {
    let mut seqs = Vec::with_capacity(ops.len());
    let mut tokens = Vec::with_capacity(ops.len());
    let mut results: Vec<&str> = Vec::with_capacity(ops.len());
    let mut currents = Vec::with_capacity(ops.len());
    let mut totals = Vec::with_capacity(ops.len());
    let mut messages: Vec<Option<&str>> = Vec::with_capacity(ops.len());
    for op in ops {
        seqs.push(op.head.seq);
        tokens.push(op.lease_token);
        results.push(match &op.outcome {
            Outcome::Completed { result, .. } => result.as_str(),
            _ => "null",
        });
        currents.push(op.progress.as_ref().map(|p| as_i64(p.current)));
        totals.push(op.progress.as_ref().map(|p| as_i64(p.total)));
        messages.push(op.progress.as_ref().map(|p| p.message.as_str()));
    }
    let stmt = tx
        .prepare_cached(
            "UPDATE jobs SET status = 'completed', result = u.result, finished_at = $1, \
             lease_token = NULL, lease_expires_at = NULL, \
             progress_current = COALESCE(u.current, progress_current), \
             progress_total = COALESCE(u.total, progress_total), \
             progress_message = COALESCE(u.message, progress_message) \
             FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::bigint[], $6::bigint[], $7::text[]) \
             AS u(seq, token, result, current, total, message) \
             WHERE jobs.seq = u.seq AND jobs.lease_token = u.token RETURNING jobs.seq",
        )
        .await?;
    let accepted: std::collections::HashSet<i64> = tx
        .query(
            &stmt,
            &[
                &now, &seqs, &tokens, &results, &currents, &totals, &messages,
            ],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut out = Vec::with_capacity(ops.len());
    for op in ops {
        let ok = accepted.contains(&op.head.seq);
        out.push(ok);
        if !ok {
            continue;
        }
        if let Some(p) = &op.progress {
            log_progress(tx, op.head.seq, now, &p.message).await?;
        }
        if let Some(b) = &op.head.batch_id {
            changes.batches.push(b.clone());
        }
        let result = match &op.outcome {
            Outcome::Completed { result, .. } => Some(result.clone()),
            _ => None,
        };
        changes.effects.push(Effect::Finished {
            head: op.head.clone(),
            status: JobStatus::Completed,
            result,
            error: None,
            retry_at: None,
            finished_at: now,
        });
    }
    Ok(out)
}

/// Stores a completed run's staged effects in its completion's transaction.
async fn store_effects(tx: &Transaction<'_>, job_id: &str, effects: &[SideEffect]) -> Result<()> {
    if effects.is_empty() {
        return Ok(());
    }
    let stmt = tx
        .prepare_cached(
            "INSERT INTO outbox (job_id, kind, path, target, bytes) VALUES ($1, $2, $3, $4, $5)",
        )
        .await?;
    for effect in effects {
        let text = |p: &Path| p.to_string_lossy().into_owned();
        let (path, target, bytes) = match effect {
            SideEffect::WriteFile { path, bytes } => (text(path), None, Some(bytes.as_slice())),
            SideEffect::RemoveFile { path } | SideEffect::RemoveEmptyDir { path } => {
                (text(path), None, None)
            }
            SideEffect::ReplaceDir { from, to } => (text(from), Some(text(to)), None),
        };
        tx.execute(&stmt, &[&job_id, &effect.kind(), &path, &target, &bytes])
            .await?;
    }
    Ok(())
}

// ---- Heartbeat and progress

#[async_trait]
impl PgOp for Heartbeat {
    type Out = HeartbeatResult;
    const WHAT: &'static str = "renew leases";
    const DURABLE: bool = false;

    async fn run(
        &self,
        tx: &Transaction<'_>,
        now: i64,
        _: &mut Changes,
    ) -> Result<HeartbeatResult> {
        let Self {
            worker_id,
            leases,
            lease_ms,
        } = self;
        let beat = tx
            .prepare_cached("UPDATE workers SET heartbeat_at = $2 WHERE id = $1")
            .await?;
        let registered = tx.execute(&beat, &[&worker_id.as_ref(), &now]).await?;
        let renew = tx
            .prepare_cached(
                "UPDATE jobs SET lease_expires_at = $3, progress_current = $4, progress_total = $5, \
                 progress_message = $6 WHERE seq = $1 AND lease_token = $2 AND status = 'processing' \
                 RETURNING cancel_requested",
            )
            .await?;
        let mut result = HeartbeatResult {
            unregistered: registered == 0,
            ..HeartbeatResult::default()
        };
        // In seq order, as completions lock them: two transactions never wait for each
        // other's rows in a circle.
        let mut leases: Vec<_> = leases.iter().collect();
        leases.sort_unstable_by_key(|(seq, _, _)| *seq);
        for (seq, token, p) in leases {
            let row = tx
                .query_opt(
                    &renew,
                    &[
                        seq,
                        token,
                        &(now + lease_ms),
                        &as_i64(p.current),
                        &as_i64(p.total),
                        &p.message,
                    ],
                )
                .await?;
            match row.map(|r| r.get::<_, bool>(0)) {
                None => result.lost.push((*seq, *token)),
                Some(true) => result.cancel_requested.push((*seq, *token)),
                Some(false) => {}
            }
        }
        Ok(result)
    }
}

#[async_trait]
impl PgOp for SaveProgress {
    type Out = ();
    const WHAT: &'static str = "save a progress snapshot";
    const DURABLE: bool = false;

    async fn run(&self, tx: &Transaction<'_>, now: i64, _: &mut Changes) -> Result<()> {
        let Self {
            seq,
            lease_token,
            progress,
        } = self;
        let stmt = tx
            .prepare_cached(
                "UPDATE jobs SET progress_current = $3, progress_total = $4, progress_message = $5 \
                 WHERE seq = $1 AND lease_token = $2 AND status = 'processing'",
            )
            .await?;
        let saved = tx
            .execute(
                &stmt,
                &[
                    seq,
                    lease_token,
                    &as_i64(progress.current),
                    &as_i64(progress.total),
                    &progress.message,
                ],
            )
            .await?;
        if saved > 0 {
            log_progress(tx, *seq, now, &progress.message).await?;
        }
        Ok(())
    }
}

// ---- Cancel and retry

#[async_trait]
impl PgOp for Cancel {
    type Out = CancelResult;
    const WHAT: &'static str = "cancel";

    async fn run(
        &self,
        tx: &Transaction<'_>,
        now: i64,
        changes: &mut Changes,
    ) -> Result<CancelResult> {
        let id = &self.id;
        let mut result = CancelResult {
            cancelled: 0,
            requested: Vec::new(),
            found: false,
        };
        let is_batch = tx
            .query_opt("SELECT 1 FROM batches WHERE id = $1", &[id])
            .await?
            .is_some();
        let column = if is_batch { "batch_id" } else { "id" };
        // One statement for both: each row is pending (ends cancelled) or running (asked
        // to stop) at the moment it is locked. Two statements would each see a moment of
        // their own, and a job claimed by another process between them would be neither.
        let rows = tx
            .query(
                &format!(
                    "UPDATE jobs SET \
                     status = CASE WHEN status = 'pending' THEN 'cancelled' ELSE status END, \
                     finished_at = CASE WHEN status = 'pending' THEN $2 ELSE finished_at END, \
                     last_error = CASE WHEN status = 'pending' THEN 'cancelled before it started' \
                     ELSE last_error END, \
                     cancel_requested = cancel_requested OR status = 'processing' \
                     WHERE {column} = $1 AND status IN ('pending', 'processing') \
                     RETURNING {HEAD_COLUMNS}, status, worker_id"
                ),
                &[id, &now],
            )
            .await?;
        let mut cancelled = Vec::new();
        for row in &rows {
            if row.try_get::<_, &str>(HEAD_WIDTH)? == "processing" {
                result
                    .requested
                    .push((row.try_get(0)?, row.try_get(HEAD_WIDTH + 1)?));
            } else {
                cancelled.push(row);
            }
        }
        if !result.requested.is_empty() {
            changes.wake_check = true;
        }
        result.cancelled = cancelled.len() as u64;
        if is_batch {
            result.found = true;
            changes.batches.push(id.clone());
            return Ok(result);
        }
        for row in cancelled {
            let head = head_from_row(row)?;
            if let Some(b) = &head.batch_id {
                changes.batches.push(b.clone());
            }
            changes.effects.push(Effect::CancelledPending(
                Arc::new(head),
                "cancelled before it started".into(),
            ));
        }
        result.found = !result.requested.is_empty()
            || result.cancelled > 0
            || tx
                .query_opt("SELECT 1 FROM jobs WHERE id = $1", &[id])
                .await?
                .is_some();
        Ok(result)
    }
}

#[async_trait]
impl PgOp for Retry {
    type Out = u64;
    const WHAT: &'static str = "retry";

    async fn run(&self, tx: &Transaction<'_>, now: i64, changes: &mut Changes) -> Result<u64> {
        let column = if self.id.starts_with("batch_") {
            "batch_id"
        } else {
            "id"
        };
        // A job whose unique key another live job holds now stays failed (the partial
        // unique index refuses it), as SQLite's `UPDATE OR IGNORE` leaves it.
        let sql = format!(
            "UPDATE jobs j SET status = 'pending', attempt = 0, result = NULL, last_error = NULL, \
             started_at = NULL, finished_at = NULL, scheduled_at = $2, cancel_requested = false, \
             lease_token = NULL, lease_expires_at = NULL, worker_id = NULL, \
             progress_current = 0, progress_total = 0, progress_message = NULL \
             WHERE j.{column} = $1 AND j.status = 'failed' AND (j.unique_key IS NULL OR NOT EXISTS \
             (SELECT 1 FROM jobs o WHERE o.job_type = j.job_type AND o.unique_key = j.unique_key \
             AND o.status IN ('pending', 'processing'))) RETURNING {HEAD_COLUMNS}"
        );
        let rows = tx.query(&sql, &[&self.id, &now]).await?;
        for row in &rows {
            let head = head_from_row(row)?;
            append_log(tx, head.seq, now, "retried", "queued again by request").await?;
            if let Some(batch) = &head.batch_id {
                changes.batches.push(batch.clone());
            }
            changes.effects.push(Effect::Enqueued(Arc::new(head)));
        }
        changes.wake_work |= !rows.is_empty();
        Ok(rows.len() as u64)
    }
}

// ---- Workers and estimates

#[async_trait]
impl PgOp for RegisterWorker {
    type Out = ();
    const WHAT: &'static str = "register a worker";

    async fn run(&self, tx: &Transaction<'_>, now: i64, _: &mut Changes) -> Result<()> {
        let w = &self.worker;
        let stmt = tx
            .prepare_cached(
                "INSERT INTO workers (id, pid, host, started_at, heartbeat_at, lease_ms, concurrency, \
                 job_types, wake_port, scope) VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (id) DO UPDATE SET scope = $9, heartbeat_at = $4",
            )
            .await?;
        tx.execute(
            &stmt,
            &[
                &w.id,
                &i64::from(w.pid),
                &w.host,
                &now,
                &w.lease_ms,
                &i64::from(w.concurrency),
                &w.job_types.join(","),
                &w.wake_port.map(i32::from),
                &w.scope.as_ref().map(|s| s.join(",")),
            ],
        )
        .await?;
        Ok(())
    }
}

#[async_trait]
impl PgOp for UnregisterWorker {
    type Out = ();
    const WHAT: &'static str = "unregister a worker";

    async fn run(&self, tx: &Transaction<'_>, _: i64, _: &mut Changes) -> Result<()> {
        tx.execute("DELETE FROM workers WHERE id = $1", &[&self.id])
            .await?;
        Ok(())
    }
}

#[async_trait]
impl PgOp for SaveEstimates {
    type Out = ();
    const WHAT: &'static str = "save duration estimates";

    async fn run(&self, tx: &Transaction<'_>, now: i64, _: &mut Changes) -> Result<()> {
        let stmt = tx
            .prepare_cached(
                "INSERT INTO estimates (job_type, mean_ms, var_ms2, samples, updated_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (job_type) DO UPDATE SET \
                 mean_ms = $2, var_ms2 = $3, samples = $4, updated_at = $5",
            )
            .await?;
        for (job_type, mean, var, samples) in &self.rows {
            tx.execute(&stmt, &[job_type, mean, var, &as_i64(*samples), &now])
                .await?;
        }
        Ok(())
    }
}

// ---- Outbox

#[async_trait]
impl PgOp for OutboxDone {
    type Out = ();
    const WHAT: &'static str = "mark side effects applied";

    async fn run(&self, tx: &Transaction<'_>, now: i64, changes: &mut Changes) -> Result<()> {
        let rows = tx
            .query(
                "DELETE FROM outbox WHERE id = ANY($1) RETURNING job_id",
                &[&self.ids],
            )
            .await?;
        let mut jobs: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        jobs.sort_unstable();
        jobs.dedup();
        // What waited for these operations waited for their files too: released now.
        let mut ended = Vec::new();
        for job in jobs {
            let row = tx
                .query_opt("SELECT status, batch_id FROM jobs WHERE id = $1", &[&job])
                .await?;
            match row.map(|r| (r.get::<_, String>(0), r.get::<_, Option<String>>(1))) {
                Some((_, Some(batch))) => {
                    if let Some(ok) = settle_batch(tx, &batch, now)
                        .await?
                        .and_then(|row| row.ended())
                    {
                        ended.push((batch, ok));
                    }
                }
                Some((status, None)) if status == "completed" => ended.push((job, true)),
                _ => {}
            }
        }
        if !ended.is_empty() {
            let looked_at = changes.batches.len();
            release(tx, now, changes, ended, &mut Settled::new(), looked_at).await?;
        }
        Ok(())
    }
}

// ---- Maintenance: sweep and prune

#[async_trait]
impl PgOp for Sweep {
    type Out = u64;
    const WHAT: &'static str = "sweep";

    async fn run(&self, tx: &Transaction<'_>, now: i64, changes: &mut Changes) -> Result<u64> {
        let Self {
            dead_workers,
            alive_workers,
        } = self;
        if !dead_workers.is_empty() {
            tx.execute(
                "UPDATE jobs SET lease_expires_at = 0 WHERE status = 'processing' \
                 AND worker_id = ANY($1)",
                &[dead_workers],
            )
            .await?;
            tx.execute("DELETE FROM workers WHERE id = ANY($1)", &[dead_workers])
                .await?;
        }
        // A live process's row is never deleted; elsewhere only a long silence tells.
        tx.execute(
            "DELETE FROM workers WHERE heartbeat_at + 3 * lease_ms < $1 AND NOT (id = ANY($2))",
            &[&now, alive_workers],
        )
        .await?;
        let sql = format!(
            "UPDATE jobs SET \
             status = CASE WHEN cancel_requested THEN 'cancelled' WHEN attempt >= max_attempts THEN 'failed' ELSE 'pending' END, \
             last_error = 'the worker running attempt ' || attempt || ' stopped (its lease expired)', \
             finished_at = CASE WHEN cancel_requested OR attempt >= max_attempts THEN $1 END, \
             scheduled_at = $1, lease_token = NULL, lease_expires_at = NULL, worker_id = NULL \
             WHERE status = 'processing' AND lease_expires_at < $1 \
             RETURNING {HEAD_COLUMNS}, status, last_error"
        );
        let rows = tx.query(&sql, &[&now]).await?;
        for row in &rows {
            let head = Arc::new(head_from_row(row)?);
            let status = status_from(row.try_get(HEAD_WIDTH)?)?;
            let error: Option<String> = row.try_get(HEAD_WIDTH + 1)?;
            if let Some(b) = &head.batch_id {
                changes.batches.push(b.clone());
            }
            tracing::warn!(job = %head.id, %status, "recovered a job whose worker stopped");
            append_log(
                tx,
                head.seq,
                now,
                "lost",
                error.as_deref().unwrap_or_default(),
            )
            .await?;
            changes.wake_work |= status == JobStatus::Pending;
            changes.effects.push(Effect::Finished {
                head,
                status,
                result: None,
                error,
                retry_at: (status == JobStatus::Pending).then_some(now),
                finished_at: now,
            });
        }
        Ok(rows.len() as u64)
    }
}

#[async_trait]
impl PgOp for Prune {
    type Out = u64;
    const WHAT: &'static str = "prune";

    async fn run(&self, tx: &Transaction<'_>, _: i64, _: &mut Changes) -> Result<u64> {
        // A batch's jobs go only with the batch, so a batch never loses items it reports.
        let deleted = tx
            .execute(
                "DELETE FROM jobs WHERE seq IN (SELECT seq FROM jobs WHERE finished_at < $1 AND \
                 (batch_id IS NULL OR batch_id IN (SELECT id FROM batches WHERE finished_at < $1)) \
                 LIMIT $2)",
                &[&self.before, &as_i64(self.limit)],
            )
            .await?;
        tx.execute(
            "DELETE FROM batches b WHERE finished_at < $1 AND NOT EXISTS \
             (SELECT 1 FROM jobs WHERE jobs.batch_id = b.id)",
            &[&self.before],
        )
        .await?;
        Ok(deleted)
    }
}

// ---- Batches and dependencies, settled at the end of each transaction

/// The columns [`batch_from_row`] reads: the batch row and its summed counters.
pub(crate) const BATCH_SELECT: &str = "SELECT b.id, b.source, b.label, b.created_at, b.started_at, b.finished_at, \
     COALESCE(SUM(c.total), 0)::bigint, COALESCE(SUM(c.pending), 0)::bigint, COALESCE(SUM(c.processing), 0)::bigint, \
     COALESCE(SUM(c.completed), 0)::bigint, COALESCE(SUM(c.failed), 0)::bigint, COALESCE(SUM(c.cancelled), 0)::bigint, \
     b.job_type, b.wording FROM batches b LEFT JOIN batch_counts c ON c.batch_id = b.id";

/// What follows [`BATCH_SELECT`] and its conditions.
pub(crate) const BATCH_GROUP: &str = " GROUP BY b.id";

pub(crate) fn batch_from_row(row: &Row) -> Result<BatchRow> {
    let source: String = row.try_get(1)?;
    let n = |i: usize| -> Result<u64> { Ok(u64::try_from(row.try_get::<_, i64>(i)?).unwrap_or(0)) };
    Ok(BatchRow {
        id: row.try_get(0)?,
        source: source.parse().unwrap_or_else(|_| Source::system()),
        label: row.try_get(2)?,
        created_at: row.try_get(3)?,
        started_at: row.try_get(4)?,
        finished_at: row.try_get(5)?,
        total: n(6)?,
        pending: n(7)?,
        processing: n(8)?,
        completed: n(9)?,
        failed: n(10)?,
        cancelled: n(11)?,
        job_type: row.try_get(12)?,
        wording: wording_column(row.try_get(13)?),
    })
}

/// Batch `id` with its summed counters, as this transaction sees it.
async fn read_batch(tx: &Transaction<'_>, id: &str) -> Result<Option<BatchRow>> {
    let read = tx
        .prepare_cached(&format!("{BATCH_SELECT} WHERE b.id = $1{BATCH_GROUP}"))
        .await?;
    tx.query_opt(&read, &[&id])
        .await?
        .as_ref()
        .map(batch_from_row)
        .transpose()
}

/// Batch `id` as this transaction leaves it, its start and end brought up to date: the
/// batch row is locked first, so a transaction of another process that ends the batch's
/// last jobs at the same moment waits and then sees these counts. `FOR NO KEY UPDATE`, not
/// `FOR UPDATE`: the counter rows' foreign key holds `KEY SHARE` locks on the batch, which
/// `FOR UPDATE` would wait for in a circle.
pub(crate) async fn settle_batch(
    tx: &Transaction<'_>,
    id: &str,
    now: i64,
) -> Result<Option<BatchRow>> {
    let lock = tx
        .prepare_cached("SELECT 1 FROM batches WHERE id = $1 FOR NO KEY UPDATE")
        .await?;
    if tx.query_opt(&lock, &[&id]).await?.is_none() {
        return Ok(None);
    }
    let Some(mut batch) = read_batch(tx, id).await? else {
        return Ok(None);
    };
    let started = batch
        .started_at
        .or((batch.processing + batch.completed + batch.failed > 0).then_some(now));
    let finished = if batch.pending + batch.processing == 0 {
        batch.finished_at.or(Some(now))
    } else {
        None
    };
    if (started, finished) != (batch.started_at, batch.finished_at) {
        let update = tx
            .prepare_cached("UPDATE batches SET started_at = $2, finished_at = $3 WHERE id = $1")
            .await?;
        tx.execute(&update, &[&id, &started, &finished]).await?;
        batch.started_at = started;
        batch.finished_at = finished;
    }
    Ok(Some(batch))
}

/// Batches settled in this transaction, by id: what its effects report.
pub(crate) type Settled = std::collections::BTreeMap<String, Option<BatchRow>>;

/// Resolves the dependents of the operations that ended in this transaction (see the
/// SQLite driver's `deps::release`, which this follows). `settled`: the batches the
/// operations touched, settled already; those the resolution touches are added.
pub(crate) async fn resolve_dependencies(
    tx: &Transaction<'_>,
    now: i64,
    changes: &mut Changes,
    settled: &mut Settled,
) -> Result<()> {
    let ended = settled
        .iter()
        .filter_map(|(id, row)| Some((id.clone(), row.as_ref()?.ended()?)))
        .collect();
    let looked_at = changes.batches.len();
    release(tx, now, changes, ended, settled, looked_at).await
}

/// [`resolve_dependencies`], starting from `also_ended`: batches that ended, or operations
/// whose staged files were just applied. Batches in `changes` from `looked_at` on are
/// settled as they come, into `settled`.
async fn release(
    tx: &Transaction<'_>,
    now: i64,
    changes: &mut Changes,
    also_ended: Vec<(String, bool)>,
    settled: &mut Settled,
    mut looked_at: usize,
) -> Result<()> {
    // Nothing ended here (enqueues, claims, heartbeats): nothing to release, and no need
    // to ask.
    let ended_here = changes.effects.iter().any(|effect| {
        matches!(effect, Effect::Finished { status, .. } if status.is_finished())
            || matches!(effect, Effect::CancelledPending(..))
    });
    if !ended_here && also_ended.is_empty() {
        return Ok(());
    }
    let open = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM job_deps WHERE NOT resolved)")
        .await?;
    if !tx.query_one(&open, &[]).await?.get::<_, bool>(0) {
        return Ok(());
    }
    let mut ended: Vec<(String, bool)> = changes
        .effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Finished { head, status, .. }
                if head.batch_id.is_none() && status.is_finished() =>
            {
                Some((head.id.clone(), *status == JobStatus::Completed))
            }
            Effect::CancelledPending(head, _) if head.batch_id.is_none() => {
                Some((head.id.clone(), false))
            }
            _ => None,
        })
        .chain(also_ended)
        .collect();
    let mut unblocked = false;
    let resolve = tx
        .prepare_cached(
            "UPDATE job_deps SET resolved = true WHERE after_id = $1 AND NOT resolved RETURNING job_seq",
        )
        .await?;
    let cancel = tx
        .prepare_cached(&format!(
            "UPDATE jobs SET status = 'cancelled', finished_at = $2, last_error = $3, waiting_on = 0 \
             WHERE seq = $1 AND status = 'pending' AND NOT run_after_failure RETURNING {HEAD_COLUMNS}"
        ))
        .await?;
    let count_down = tx
        .prepare_cached(
            "UPDATE jobs SET waiting_on = waiting_on - 1 WHERE seq = $1 AND status = 'pending' \
             AND waiting_on > 0 RETURNING waiting_on",
        )
        .await?;
    loop {
        // Batches touched since the last look, locked in id order (as every transaction
        // locks them) so that two writers never wait for each other in a circle.
        let mut fresh: Vec<String> = changes.batches[looked_at..].to_vec();
        looked_at = changes.batches.len();
        fresh.sort_unstable();
        fresh.dedup();
        for id in fresh {
            let row = settle_batch(tx, &id, now).await?;
            if let Some(ok) = row.as_ref().and_then(BatchRow::ended) {
                ended.push((id.clone(), ok));
            }
            settled.insert(id, row);
        }
        let Some((id, ok)) = ended.pop() else { break };
        if files_pending(tx, &id).await? {
            continue;
        }
        let dependents: Vec<i64> = tx
            .query(&resolve, &[&id])
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        for seq in dependents {
            if !ok {
                let reason = not_run_because(&id);
                if let Some(row) = tx.query_opt(&cancel, &[&seq, &now, &reason]).await? {
                    let head = head_from_row(&row)?;
                    match &head.batch_id {
                        Some(b) => changes.batches.push(b.clone()),
                        None => {
                            ended.push((head.id.clone(), false));
                            changes
                                .effects
                                .push(Effect::CancelledPending(Arc::new(head), reason));
                        }
                    }
                    continue;
                }
            }
            let left: Option<i32> = tx.query_opt(&count_down, &[&seq]).await?.map(|r| r.get(0));
            unblocked |= left == Some(0);
        }
    }
    if unblocked {
        changes.wake_work = true;
        // Other processes are woken by the NOTIFY; this one's pool by the effect.
        changes.effects.push(Effect::Unblocked {
            wake_ports: Vec::new(),
        });
    }
    Ok(())
}
