//! Heartbeat: a worker's leases extended with their progress, answering which of them
//! were asked to cancel and which it lost; and a progress snapshot saved between beats.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::Result;
use crate::store::Changes;
use crate::store::sqlite::rows::log_progress;
use crate::store::sqlite::writer::Op;
use crate::store::{Heartbeat, HeartbeatResult, SaveProgress};

impl Op for Heartbeat {
    type Out = HeartbeatResult;
    const WHAT: &'static str = "renew leases";

    fn run(&self, tx: &Connection, now: i64, _: &mut Changes) -> Result<HeartbeatResult> {
        let Self {
            worker_id,
            leases,
            lease_ms,
        } = self;
        let registered = tx
            .prepare_cached("UPDATE workers SET heartbeat_at = ?2 WHERE id = ?1")?
            .execute(params![worker_id.as_ref(), now])?;
        let mut stmt = tx.prepare_cached(
            "UPDATE jobs SET lease_expires_at = ?3, progress_current = ?4, progress_total = ?5, \
             progress_message = ?6 WHERE seq = ?1 AND lease_token = ?2 AND status = 'processing' \
             RETURNING cancel_requested",
        )?;
        let mut result = HeartbeatResult {
            unregistered: registered == 0,
            ..HeartbeatResult::default()
        };
        for (seq, token, p) in leases {
            let cancel: Option<bool> = stmt
                .query_row(
                    params![
                        seq,
                        token,
                        now + lease_ms,
                        p.current as i64,
                        p.total as i64,
                        p.message
                    ],
                    |r| r.get(0),
                )
                .optional()?;
            match cancel {
                None => result.lost.push((*seq, *token)),
                Some(true) => result.cancel_requested.push((*seq, *token)),
                Some(false) => {}
            }
        }
        Ok(result)
    }
}

impl Op for SaveProgress {
    type Out = ();
    const WHAT: &'static str = "save a progress snapshot";

    fn run(&self, tx: &Connection, now: i64, _: &mut Changes) -> Result<()> {
        let Self {
            seq,
            lease_token,
            progress,
        } = self;
        let saved = tx
            .prepare_cached(
                "UPDATE jobs SET progress_current = ?3, progress_total = ?4, progress_message = ?5 \
                 WHERE seq = ?1 AND lease_token = ?2 AND status = 'processing'",
            )?
            .execute(params![
                seq,
                lease_token,
                progress.current as i64,
                progress.total as i64,
                progress.message
            ])?;
        if saved > 0 {
            log_progress(tx, *seq, now, &progress.message)?;
        }
        Ok(())
    }
}
