//! Claim: the due jobs of a pool's types, highest priority first, leased to one worker
//! under a fresh lease token.

use std::sync::Arc;

use rusqlite::Connection;

use crate::error::Result;
use crate::store::Changes;
use crate::store::Effect;
use crate::store::sqlite::rows::{HEAD_COLUMNS, HEAD_WIDTH, due_condition, head_from_row};
use crate::store::sqlite::writer::Op;
use crate::store::{Claim, Claimed};
use crate::util::random_i64;

impl Op for Claim {
    type Out = Vec<Claimed>;
    const WHAT: &'static str = "claim jobs";

    fn run(&self, tx: &Connection, now: i64, changes: &mut Changes) -> Result<Vec<Claimed>> {
        let Self {
            worker_id,
            types,
            scope,
            limit,
            lease_ms,
        } = self;
        let Changes {
            effects, batches, ..
        } = changes;
        if types.is_empty() || *limit == 0 || scope.as_ref().is_some_and(|s| s.is_empty()) {
            return Ok(Vec::new());
        }
        let due = due_condition(types.len(), scope.as_ref().map_or(0, |s| s.len()), 6);
        let sql = format!(
            "UPDATE jobs SET status = 'processing', attempt = attempt + 1, lease_token = ?1, \
             lease_expires_at = ?2, started_at = COALESCE(started_at, ?3), worker_id = ?4 \
             WHERE seq IN (SELECT seq FROM jobs WHERE {due} AND scheduled_at <= ?3 \
             ORDER BY priority DESC, scheduled_at, seq LIMIT ?5 + 0) \
             RETURNING {HEAD_COLUMNS}, input"
        );
        // `LIMIT ?5 + 0`: a bare bound LIMIT makes SQLite re-prepare the statement for
        // every new value (it is treated as plan-relevant); the same holds below.
        let token = random_i64();
        let mut stmt = tx.prepare_cached(&sql)?;
        let mut values: Vec<rusqlite::types::Value> = vec![
            token.into(),
            (now + lease_ms).into(),
            now.into(),
            worker_id.to_string().into(),
            (*limit as i64).into(),
        ];
        values.extend(
            types
                .iter()
                .chain(scope.iter().flat_map(|s| s.iter()))
                .map(|t| rusqlite::types::Value::from(t.clone())),
        );
        let mut rows = stmt.query(rusqlite::params_from_iter(values))?;
        let mut claimed = Vec::new();
        while let Some(row) = rows.next()? {
            let head = Arc::new(head_from_row(row)?);
            if head.batch_id.is_none() {
                effects.push(Effect::Started(head.clone()));
            } else if let Some(b) = &head.batch_id {
                batches.push(b.clone());
            }
            claimed.push(Claimed {
                head,
                input: row.get(HEAD_WIDTH)?,
                lease_token: token,
            });
        }
        Ok(claimed)
    }
}
