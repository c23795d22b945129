//! Finish: a run's end stored — completed (with its staged side effects, in the same
//! transaction), retried, failed, cancelled or released — fenced by its lease token, so a
//! worker whose lease was taken over cannot end the job again.

use std::path::Path;

use brain_plugin_api::{JobStatus, SideEffect};
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::Result;
use crate::store::Changes;
use crate::store::Effect;
use crate::store::sqlite::rows::{append_log, log_progress};
use crate::store::sqlite::writer::Op;
use crate::store::status_from;
use crate::store::{Finish, Outcome};

impl Op for Finish {
    type Out = bool;
    const WHAT: &'static str = "record a finished job";

    fn run(&self, tx: &Connection, now: i64, changes: &mut Changes) -> Result<bool> {
        let Self {
            head,
            lease_token,
            outcome,
            progress,
        } = self;
        let Changes {
            effects, batches, ..
        } = changes;
        let (sql, result, error, retry_at): (&str, Option<&str>, Option<&str>, Option<i64>) =
            match outcome {
                Outcome::Completed { result, .. } => (
                    "UPDATE jobs SET status = 'completed', result = ?3, finished_at = ?4, lease_token = NULL, \
                     lease_expires_at = NULL, progress_current = COALESCE(?6, progress_current), \
                     progress_total = COALESCE(?7, progress_total), progress_message = COALESCE(?8, progress_message) \
                     WHERE seq = ?1 AND lease_token = ?2 AND status = 'processing'",
                    Some(result),
                    None,
                    None,
                ),
                Outcome::Retry { error, retry_at } => (
                    "UPDATE jobs SET status = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'pending' END, \
                     last_error = ?3, scheduled_at = ?5, \
                     finished_at = CASE WHEN cancel_requested THEN ?4 END, lease_token = NULL, \
                     lease_expires_at = NULL, worker_id = NULL, progress_current = COALESCE(?6, progress_current), \
                     progress_total = COALESCE(?7, progress_total), progress_message = COALESCE(?8, progress_message) \
                     WHERE seq = ?1 AND lease_token = ?2 AND status = 'processing' RETURNING status, ?5",
                    None,
                    Some(error),
                    Some(*retry_at),
                ),
                Outcome::Failed { error } | Outcome::Cancelled { reason: error } => (
                    if matches!(outcome, Outcome::Failed { .. }) {
                        "UPDATE jobs SET status = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'failed' END, \
                         last_error = ?3, finished_at = ?4, lease_token = NULL, lease_expires_at = NULL, \
                         progress_current = COALESCE(?6, progress_current), progress_total = COALESCE(?7, progress_total), \
                         progress_message = COALESCE(?8, progress_message) \
                         WHERE seq = ?1 AND lease_token = ?2 AND status = 'processing' RETURNING status, ?5"
                    } else {
                        "UPDATE jobs SET status = 'cancelled', last_error = ?3, finished_at = ?4, lease_token = NULL, \
                         lease_expires_at = NULL, progress_current = COALESCE(?6, progress_current), \
                         progress_total = COALESCE(?7, progress_total), progress_message = COALESCE(?8, progress_message) \
                         WHERE seq = ?1 AND lease_token = ?2 AND status = 'processing'"
                    },
                    None,
                    Some(error),
                    None,
                ),
                Outcome::Released | Outcome::Wait { .. } => (
                    "UPDATE jobs SET status = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'pending' END, \
                     finished_at = CASE WHEN cancel_requested THEN ?4 END, \
                     attempt = MAX(attempt - 1, 0), scheduled_at = COALESCE(?5, ?4), lease_token = NULL, lease_expires_at = NULL, \
                     worker_id = NULL, last_error = COALESCE(?3, last_error), progress_current = COALESCE(?6, progress_current), \
                     progress_total = COALESCE(?7, progress_total), progress_message = COALESCE(?8, progress_message) \
                     WHERE seq = ?1 AND lease_token = ?2 AND status = 'processing' RETURNING status, ?5",
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
        let value = match outcome {
            Outcome::Completed { .. } => result,
            _ => error,
        };
        let values = params![
            head.seq,
            lease_token,
            value,
            now,
            retry_at,
            progress.as_ref().map(|p| p.current as i64),
            progress.as_ref().map(|p| p.total as i64),
            progress.as_ref().map(|p| p.message.as_str()),
        ];
        let mut stmt = tx.prepare_cached(sql)?;
        // Where the stored status is known, a plain UPDATE avoids RETURNING's statement
        // journal on the hottest statement of the queue. (`?5` still counts as a
        // parameter: SQLite sizes the list by the largest index.)
        let status = match outcome {
            Outcome::Completed { effects, .. } => {
                if stmt.execute(values)? == 0 {
                    return Ok(false);
                }
                store_effects(tx, &head.id, effects)?;
                JobStatus::Completed
            }
            Outcome::Cancelled { .. } => {
                if stmt.execute(values)? == 0 {
                    return Ok(false);
                }
                JobStatus::Cancelled
            }
            _ => {
                let stored: Option<String> = stmt.query_row(values, |r| r.get(0)).optional()?;
                let Some(stored) = stored else {
                    return Ok(false);
                };
                status_from(&stored)?
            }
        };
        if let Some(p) = progress {
            log_progress(tx, head.seq, now, &p.message)?;
        }
        if let Some(error) = error {
            let kind = match status {
                JobStatus::Cancelled => "cancelled",
                _ => "error",
            };
            append_log(tx, head.seq, now, kind, error)?;
        }
        if let Some(b) = &head.batch_id {
            batches.push(b.clone());
        }
        effects.push(Effect::Finished {
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

/// Stores a completed run's staged effects in its completion's transaction.
fn store_effects(tx: &Connection, job_id: &str, effects: &[SideEffect]) -> Result<()> {
    if effects.is_empty() {
        return Ok(());
    }
    let mut stmt = tx.prepare_cached(
        "INSERT INTO outbox (job_id, kind, path, target, bytes) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for effect in effects {
        let text = |p: &Path| p.to_string_lossy().into_owned();
        let (path, target, bytes) = match effect {
            SideEffect::WriteFile { path, bytes } => (text(path), None, Some(bytes.as_slice())),
            SideEffect::RemoveFile { path } | SideEffect::RemoveEmptyDir { path } => {
                (text(path), None, None)
            }
            SideEffect::ReplaceDir { from, to } => (text(from), Some(text(to)), None),
        };
        stmt.execute(params![job_id, effect.kind(), path, target, bytes])?;
    }
    Ok(())
}
