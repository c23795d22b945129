//! Outbox done: applied side effects' rows removed, and what waited for their operations
//! released now that their files are in place.

use rusqlite::{Connection, OptionalExtension};

use crate::error::Result;
use crate::store::Changes;
use crate::store::OutboxDone;
use crate::store::sqlite::deps::release;
use crate::store::sqlite::rows::batch_row;
use crate::store::sqlite::writer::Op;

impl Op for OutboxDone {
    type Out = ();
    const WHAT: &'static str = "mark side effects applied";

    fn run(&self, tx: &Connection, now: i64, changes: &mut Changes) -> Result<()> {
        let Self { ids } = self;
        let Changes {
            effects, batches, ..
        } = changes;
        let mut jobs: Vec<String> = Vec::new();
        {
            let mut stmt =
                tx.prepare_cached("DELETE FROM outbox WHERE id = ?1 RETURNING job_id")?;
            for id in ids {
                if let Some(job) = stmt.query_row([id], |r| r.get(0)).optional()? {
                    jobs.push(job);
                }
            }
        }
        jobs.sort_unstable();
        jobs.dedup();
        // What waited for these operations waited for their files too: released now
        // that they are in place (see `resolve_dependencies`).
        let mut ended = Vec::new();
        for job in jobs {
            let row: Option<(String, Option<String>)> = tx
                .prepare_cached("SELECT status, batch_id FROM jobs WHERE id = ?1")?
                .query_row([&job], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            match row {
                Some((_, Some(batch))) => {
                    if let Some(ok) = batch_row(tx, &batch)?.and_then(|row| row.ended()) {
                        ended.push((batch, ok));
                    }
                }
                Some((status, None)) if status == "completed" => ended.push((job, true)),
                _ => {}
            }
        }
        if !ended.is_empty() {
            release(tx, now, effects, batches, ended)?;
        }
        Ok(())
    }
}
