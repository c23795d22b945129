//! Dependencies between operations: a job that waits for others is linked to them when it
//! is stored, and released (or cancelled, when one did not complete) in the transaction
//! that ends the last of them.

use std::sync::Arc;

use brain_plugin_api::JobStatus;
use rusqlite::{Connection, OptionalExtension, params};

use super::rows::{HEAD_COLUMNS, batch_row, head_from_row};
use crate::error::{QueueError, Result};
use crate::store::{Effect, InsertJob, JobHead};
use crate::store::{status_from, wording_text};

/// Whether files that operation `id` (a job outside batches, or a batch) staged are still
/// to be put in place: what waits for it must not start before they are.
pub(crate) fn files_pending(tx: &Connection, id: &str) -> Result<bool> {
    Ok(tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE job_id = ?1 \
             OR job_id IN (SELECT id FROM jobs WHERE batch_id = ?1 AND batch_id IS NOT NULL))",
        )?
        .query_row([id], |r| r.get(0))?)
}

/// What the dependencies named in one enqueue are, looked up once per command.
#[derive(Default)]
pub(crate) struct DependencyCheck {
    /// id → `None` while unfinished, `Some(true)` completed, `Some(false)` failed or
    /// cancelled.
    ended: std::collections::HashMap<String, Option<bool>>,
}

impl DependencyCheck {
    pub(crate) fn lookup(&mut self, tx: &Connection, id: &str) -> Result<Option<bool>> {
        if let Some(known) = self.ended.get(id) {
            return Ok(*known);
        }
        let job: Option<(String, Option<String>)> = tx
            .prepare_cached("SELECT status, batch_id FROM jobs WHERE id = ?1")?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let ended = match job {
            Some((_, Some(batch))) => {
                return Err(QueueError::InvalidArgument {
                    field: "after",
                    reason: format!(
                        "{id} is one item of {batch}: work waits for whole operations, so name {batch}"
                    ),
                });
            }
            // Completed with files not yet in place: waited for until they are.
            Some((status, None)) => match status_from(&status)? {
                JobStatus::Pending | JobStatus::Processing => None,
                JobStatus::Completed if files_pending(tx, id)? => None,
                JobStatus::Completed => Some(true),
                JobStatus::Failed | JobStatus::Cancelled => Some(false),
            },
            None => match batch_row(tx, id)? {
                Some(batch) if batch.finished_at.is_none() => None,
                Some(_) if files_pending(tx, id)? => None,
                Some(batch) => batch.ended(),
                None => {
                    return Err(QueueError::UnknownDependency { id: id.to_owned() });
                }
            },
        };
        self.ended.insert(id.to_owned(), ended);
        Ok(ended)
    }
}

/// Inserts a job that names dependencies: it waits for the unfinished ones, and ends
/// cancelled at once if one already failed (unless it runs after failures). Returns its
/// head and, if it was cancelled, why.
pub(crate) fn insert_dependent(
    tx: &Connection,
    j: &InsertJob,
    batch_id: Option<&str>,
    now: i64,
    deps: &mut DependencyCheck,
) -> Result<(Arc<JobHead>, Option<String>)> {
    let mut waiting = 0i64;
    let mut failed = None;
    for id in &j.after {
        match deps.lookup(tx, id)? {
            None => waiting += 1,
            Some(true) => {}
            Some(false) => {
                failed.get_or_insert(id.as_str());
            }
        }
    }
    let cancelled = failed.filter(|_| !j.run_after_failure);
    tx.prepare_cached(
        "INSERT INTO jobs (id, job_type, input, source, metadata, status, priority, max_attempts, \
         created_at, scheduled_at, batch_id, label, waiting_on, run_after_failure, finished_at, last_error, \
         unique_key, wording, estimated_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
    )?
    .execute(params![
        j.id,
        j.job_type,
        j.input,
        j.source.as_str(),
        j.metadata,
        if cancelled.is_some() { "cancelled" } else { "pending" },
        j.priority,
        j.max_attempts,
        now,
        now + j.delay_ms,
        batch_id,
        j.label,
        if cancelled.is_some() { 0 } else { waiting },
        j.run_after_failure,
        cancelled.map(|_| now),
        cancelled.map(not_run_because),
        j.unique_key,
        wording_text(j.wording.as_ref()),
        j.estimated_ms,
    ])?;
    let seq = tx.last_insert_rowid();
    let mut link = tx.prepare_cached(
        "INSERT OR IGNORE INTO job_deps (after_id, job_seq, resolved) VALUES (?1, ?2, ?3)",
    )?;
    for id in &j.after {
        // Work that has ended already is counted now (it is not in `waiting_on`).
        link.execute(params![id, seq, deps.lookup(tx, id)?.is_some()])?;
    }
    Ok((j.head(seq, batch_id), cancelled.map(not_run_because)))
}

/// The error of a job that did not run because work it waited for did not complete.
pub(crate) fn not_run_because(id: &str) -> String {
    format!("not run: {id}, which it waited for, did not complete")
}

/// Resolves the dependents of the operations that ended in this transaction: one fewer
/// thing to wait for, or — when a dependency did not complete and the job does not run
/// after failures — cancelled, which may end more operations in turn, so it repeats until
/// nothing new ended. Operations are batches and jobs outside batches; which ended is read
/// off this transaction's effects and the batches it touched. Each dependency row is
/// counted once (`resolved`), so looking at an operation twice changes nothing. One indexed
/// probe per transaction when nothing waits, which is almost always.
pub(crate) fn resolve_dependencies(
    tx: &Connection,
    now: i64,
    effects: &mut Vec<Effect>,
    batches: &mut Vec<String>,
) -> Result<()> {
    release(tx, now, effects, batches, Vec::new())
}

/// [`resolve_dependencies`], starting from `ended` as well: operations whose staged files
/// were just applied. An operation whose files are not all in place yet releases nothing:
/// what waits for it (a build after a generate) must see what it wrote.
pub(crate) fn release(
    tx: &Connection,
    now: i64,
    effects: &mut Vec<Effect>,
    batches: &mut Vec<String>,
    also_ended: Vec<(String, bool)>,
) -> Result<()> {
    let waiting: bool = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM job_deps WHERE resolved = 0)")?
        .query_row([], |r| r.get(0))?;
    if !waiting {
        return Ok(());
    }
    let mut ended: Vec<(String, bool)> = effects
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
    let mut looked_at = 0;
    let mut unblocked = false;
    loop {
        // Batches touched since the last look: the ones that have ended.
        while looked_at < batches.len() {
            let id = batches[looked_at].clone();
            looked_at += 1;
            if let Some(ok) = batch_row(tx, &id)?.and_then(|row| row.ended()) {
                ended.push((id, ok));
            }
        }
        let Some((id, ok)) = ended.pop() else { break };
        if files_pending(tx, &id)? {
            // Released by the `OutboxDone` that applies them.
            continue;
        }
        let dependents: Vec<i64> = {
            let mut stmt = tx.prepare_cached(
                "UPDATE job_deps SET resolved = 1 WHERE after_id = ?1 AND resolved = 0 RETURNING job_seq",
            )?;
            let rows = stmt.query_map([&id], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        for seq in dependents {
            if !ok {
                let sql = format!(
                    "UPDATE jobs SET status = 'cancelled', finished_at = ?2, last_error = ?3, waiting_on = 0 \
                     WHERE seq = ?1 AND status = 'pending' AND NOT run_after_failure RETURNING {HEAD_COLUMNS}"
                );
                let reason = not_run_because(&id);
                let cancelled = tx
                    .prepare_cached(&sql)?
                    .query_row(params![seq, now, reason], head_from_row)
                    .optional()?;
                if let Some(head) = cancelled {
                    match &head.batch_id {
                        Some(b) => batches.push(b.clone()),
                        None => {
                            ended.push((head.id.clone(), false));
                            effects.push(Effect::CancelledPending(Arc::new(head), reason));
                        }
                    }
                    continue;
                }
            }
            let left: Option<i64> = tx
                .prepare_cached(
                    "UPDATE jobs SET waiting_on = waiting_on - 1 WHERE seq = ?1 AND status = 'pending' \
                     AND waiting_on > 0 RETURNING waiting_on",
                )?
                .query_row([seq], |r| r.get(0))
                .optional()?;
            unblocked |= left == Some(0);
        }
    }
    if unblocked {
        let mut stmt =
            tx.prepare_cached("SELECT wake_port FROM workers WHERE wake_port IS NOT NULL")?;
        let ports = stmt.query_map([], |r| r.get(0))?;
        effects.push(Effect::Unblocked {
            wake_ports: ports.collect::<rusqlite::Result<_>>()?,
        });
    }
    Ok(())
}
