//! The sweep, a maintenance service the worker pool runs: leases that expired, and jobs of
//! workers on this host whose process is gone, go back to the queue (or fail, when their
//! attempts are spent), and stale worker rows go.

use std::sync::Arc;

use brain_plugin_api::JobStatus;
use rusqlite::{Connection, params};

use crate::error::{QueueError, Result};
use crate::store::Changes;
use crate::store::Effect;
use crate::store::Sweep;
use crate::store::sqlite::rows::{HEAD_COLUMNS, HEAD_WIDTH, append_log, head_from_row};
use crate::store::sqlite::writer::Op;
use crate::store::status_from;

impl Op for Sweep {
    type Out = u64;
    const WHAT: &'static str = "sweep";

    fn run(&self, tx: &Connection, now: i64, changes: &mut Changes) -> Result<u64> {
        let Self {
            dead_workers,
            alive_workers,
        } = self;
        let Changes {
            effects, batches, ..
        } = changes;
        for worker in dead_workers {
            tx.prepare_cached("UPDATE jobs SET lease_expires_at = 0 WHERE status = 'processing' AND worker_id = ?1")?
                .execute([worker])?;
            tx.prepare_cached("DELETE FROM workers WHERE id = ?1")?
                .execute([worker])?;
        }
        // A live process's row is never deleted (a paused one heartbeats again when it
        // resumes); elsewhere only a long silence tells.
        let alive =
            serde_json::to_string(alive_workers).map_err(|e| QueueError::Corrupt(e.to_string()))?;
        tx.prepare_cached(
            "DELETE FROM workers WHERE heartbeat_at + 3 * lease_ms < ?1 \
             AND id NOT IN (SELECT value FROM json_each(?2))",
        )?
        .execute(params![now, alive])?;
        let sql = format!(
            "UPDATE jobs SET \
             status = CASE WHEN cancel_requested THEN 'cancelled' WHEN attempt >= max_attempts THEN 'failed' ELSE 'pending' END, \
             last_error = 'the worker running attempt ' || attempt || ' stopped (its lease expired)', \
             finished_at = CASE WHEN cancel_requested OR attempt >= max_attempts THEN ?1 END, \
             scheduled_at = ?1, lease_token = NULL, lease_expires_at = NULL, worker_id = NULL \
             WHERE status = 'processing' AND lease_expires_at < ?1 \
             RETURNING {HEAD_COLUMNS}, status, last_error"
        );
        let mut stmt = tx.prepare_cached(&sql)?;
        let mut rows = stmt.query([now])?;
        let mut recovered = Vec::new();
        while let Some(row) = rows.next()? {
            let head = Arc::new(head_from_row(row)?);
            let status = status_from(&row.get::<_, String>(HEAD_WIDTH)?)?;
            let error: Option<String> = row.get(HEAD_WIDTH + 1)?;
            recovered.push((head, status, error));
        }
        drop(rows);
        drop(stmt);
        let count = recovered.len() as u64;
        for (head, status, error) in recovered {
            if let Some(b) = &head.batch_id {
                batches.push(b.clone());
            }
            tracing::warn!(job = %head.id, %status, "recovered a job whose worker stopped");
            append_log(
                tx,
                head.seq,
                now,
                "lost",
                error.as_deref().unwrap_or_default(),
            )?;
            effects.push(Effect::Finished {
                head,
                status,
                result: None,
                error,
                retry_at: (status == JobStatus::Pending).then_some(now),
                finished_at: now,
            });
        }
        Ok(count)
    }
}
