//! Retry: failed work queued again with a fresh set of attempts.

use std::sync::Arc;

use rusqlite::{Connection, params};

use crate::error::Result;
use crate::store::Changes;
use crate::store::Effect;
use crate::store::Retry;
use crate::store::sqlite::rows::{HEAD_COLUMNS, append_log, head_from_row};
use crate::store::sqlite::writer::Op;

impl Op for Retry {
    type Out = u64;
    const WHAT: &'static str = "retry";

    fn run(&self, tx: &Connection, now: i64, changes: &mut Changes) -> Result<u64> {
        let Self { id } = self;
        let Changes {
            effects, batches, ..
        } = changes;
        let column = if id.starts_with("batch_") {
            "batch_id"
        } else {
            "id"
        };
        let sql = format!(
            "UPDATE OR IGNORE jobs SET status = 'pending', attempt = 0, result = NULL, last_error = NULL, \
         started_at = NULL, finished_at = NULL, scheduled_at = ?2, cancel_requested = 0, \
         lease_token = NULL, lease_expires_at = NULL, worker_id = NULL, \
         progress_current = 0, progress_total = 0, progress_message = NULL \
         WHERE {column} = ?1 AND status = 'failed' RETURNING {HEAD_COLUMNS}"
        );
        let mut stmt = tx.prepare_cached(&sql)?;
        let heads = stmt
            .query_map(params![id, now], head_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        drop(stmt);
        let count = heads.len() as u64;
        for head in heads {
            append_log(tx, head.seq, now, "retried", "queued again by request")?;
            if let Some(batch) = &head.batch_id {
                batches.push(batch.clone());
            }
            effects.push(Effect::Enqueued(Arc::new(head)));
        }
        Ok(count)
    }
}
