//! Cancel: pending work ends at once; running work is asked to stop (its worker sees the
//! request at its next heartbeat).

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::Result;
use crate::store::Changes;
use crate::store::Effect;
use crate::store::sqlite::rows::{HEAD_COLUMNS, head_from_row};
use crate::store::sqlite::writer::Op;
use crate::store::{Cancel, CancelResult};

impl Op for Cancel {
    type Out = CancelResult;
    const WHAT: &'static str = "cancel";

    fn run(&self, tx: &Connection, now: i64, changes: &mut Changes) -> Result<CancelResult> {
        let Self { id } = self;
        let Changes {
            effects, batches, ..
        } = changes;
        let mut result = CancelResult {
            cancelled: 0,
            requested: Vec::new(),
            found: false,
        };
        let is_batch: bool = tx
            .prepare_cached("SELECT 1 FROM batches WHERE id = ?1")?
            .query_row([id], |_| Ok(()))
            .optional()?
            .is_some();
        let mut request = |sql: &str| -> Result<()> {
            let mut stmt = tx.prepare_cached(sql)?;
            let mut rows = stmt.query([id])?;
            while let Some(row) = rows.next()? {
                result.requested.push((row.get(0)?, row.get(1)?));
            }
            Ok(())
        };
        if is_batch {
            request(
                "UPDATE jobs SET cancel_requested = 1 WHERE batch_id = ?1 AND status = 'processing' RETURNING seq, worker_id",
            )?;
            result.found = true;
            result.cancelled = tx
            .prepare_cached(
                "UPDATE jobs SET status = 'cancelled', finished_at = ?2, last_error = 'cancelled before it started' \
                 WHERE batch_id = ?1 AND status = 'pending'",
            )?
            .execute(params![id, now])? as u64;
            batches.push(id.to_owned());
            return Ok(result);
        }
        request(
            "UPDATE jobs SET cancel_requested = 1 WHERE id = ?1 AND status = 'processing' RETURNING seq, worker_id",
        )?;
        let sql = format!(
            "UPDATE jobs SET status = 'cancelled', finished_at = ?2, last_error = 'cancelled before it started' \
         WHERE id = ?1 AND status = 'pending' RETURNING {HEAD_COLUMNS}"
        );
        if let Some(head) = tx
            .prepare_cached(&sql)?
            .query_row(params![id, now], head_from_row)
            .optional()?
        {
            result.cancelled = 1;
            if let Some(b) = &head.batch_id {
                batches.push(b.clone());
            }
            effects.push(Effect::CancelledPending(
                Arc::new(head),
                "cancelled before it started".into(),
            ));
        }
        result.found = !result.requested.is_empty()
            || result.cancelled > 0
            || tx
                .prepare_cached("SELECT 1 FROM jobs WHERE id = ?1")?
                .query_row([id], |_| Ok(()))
                .optional()?
                .is_some();
        Ok(result)
    }
}
