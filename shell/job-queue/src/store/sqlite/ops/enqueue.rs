//! Enqueue: jobs (and a batch) stored in one go; work whose unique key a live job holds is
//! skipped and named, and jobs that wait for others are linked to them.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::Result;
use crate::store::Changes;
use crate::store::Effect;
use crate::store::sqlite::deps::{DependencyCheck, insert_dependent};
use crate::store::sqlite::writer::Op;
use crate::store::wording_text;
use crate::store::{Enqueue, Inserted};

impl Op for Enqueue {
    type Out = Inserted;
    const WHAT: &'static str = "enqueue";

    fn run(&self, tx: &Connection, now: i64, changes: &mut Changes) -> Result<Inserted> {
        let Self { batch, jobs } = self;
        let Changes {
            effects, batches, ..
        } = changes;
        let mut inserted = Inserted::default();
        // Jobs whose type and key a pending or running job has are not stored: that one
        // does their work.
        let mut fresh = Vec::with_capacity(jobs.len());
        let mut keys = std::collections::HashSet::new();
        for j in jobs {
            if let Some(key) = &j.unique_key
                && !keys.insert((j.job_type.as_str(), key.as_str()))
            {
                // The same work twice in one enqueue: once is enough.
                inserted.skipped += 1;
                continue;
            }
            let existing = match &j.unique_key {
                None => None,
                Some(key) => tx
                    .prepare_cached(
                        "SELECT COALESCE(batch_id, id) FROM jobs WHERE job_type = ?1 AND unique_key = ?2 \
                         AND unique_key IS NOT NULL AND status IN ('pending', 'processing')",
                    )?
                    .query_row(params![j.job_type, key], |r| r.get::<_, String>(0))
                    .optional()?,
            };
            match existing {
                Some(owner) => {
                    inserted.skipped += 1;
                    if !inserted.shared_with.contains(&owner) {
                        inserted.shared_with.push(owner);
                    }
                }
                None => fresh.push(j),
            }
        }
        if fresh.is_empty() {
            return Ok(inserted);
        }
        if let Some(b) = batch {
            tx.prepare_cached(
                "INSERT INTO batches (id, source, label, metadata, job_type, created_at, wording) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                b.id,
                b.source.as_str(),
                b.label,
                b.metadata,
                b.job_type,
                now,
                wording_text(b.wording.as_ref())
            ])?;
            batches.push(b.id.clone());
        }
        let batch_id = batch.as_ref().map(|b| b.id.as_str());
        let mut insert = tx.prepare_cached(
            "INSERT INTO jobs (id, job_type, input, source, metadata, status, priority, max_attempts, \
             created_at, scheduled_at, batch_id, label, unique_key, wording, estimated_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        )?;
        let mut heads = Vec::with_capacity(fresh.len());
        let mut deps = DependencyCheck::default();
        for j in fresh {
            if !j.after.is_empty() {
                let head = insert_dependent(tx, j, batch_id, now, &mut deps)?;
                if batch_id.is_none() {
                    effects.push(if let Some(reason) = &head.1 {
                        Effect::CancelledPending(head.0.clone(), reason.clone())
                    } else {
                        Effect::Enqueued(head.0.clone())
                    });
                }
                heads.push(head.0);
                continue;
            }
            insert.execute(params![
                j.id,
                j.job_type,
                j.input,
                j.source.as_str(),
                j.metadata,
                j.priority,
                j.max_attempts,
                now,
                now + j.delay_ms,
                batch_id,
                j.label,
                j.unique_key,
                wording_text(j.wording.as_ref()),
                j.estimated_ms
            ])?;
            let head = j.head(tx.last_insert_rowid(), batch_id);
            if batch_id.is_none() {
                effects.push(Effect::Enqueued(head.clone()));
            }
            heads.push(head);
        }
        inserted.heads = heads;
        Ok(inserted)
    }
}
