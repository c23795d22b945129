//! Pruning, a maintenance service the queue runs: finished work past its retention goes,
//! a bounded number of rows per transaction.

use rusqlite::{Connection, params};

use crate::error::Result;
use crate::store::Changes;
use crate::store::Prune;
use crate::store::sqlite::writer::Op;

impl Op for Prune {
    type Out = u64;
    const WHAT: &'static str = "prune";

    fn run(&self, tx: &Connection, _: i64, _: &mut Changes) -> Result<u64> {
        let Self { before, limit } = self;
        // A batch's jobs go only with the batch, so a batch never loses items it reports.
        let deleted = tx
            .prepare_cached(
                "DELETE FROM jobs WHERE seq IN (SELECT seq FROM jobs WHERE finished_at < ?1 AND \
                 (batch_id IS NULL OR batch_id IN (SELECT id FROM batches WHERE finished_at < ?1)) LIMIT ?2 + 0)",
            )?
            .execute(params![before, *limit as i64])?;
        tx.prepare_cached(
            "DELETE FROM batches WHERE finished_at < ?1 AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.batch_id = batches.id)",
        )?
        .execute([before])?;
        Ok(deleted as u64)
    }
}
