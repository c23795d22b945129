//! Worker presence: a row per worker pool (its process, host and wake-up port) while it
//! runs.

use rusqlite::{Connection, params};

use crate::error::Result;
use crate::store::Changes;
use crate::store::sqlite::writer::Op;
use crate::store::{RegisterWorker, UnregisterWorker};

impl Op for RegisterWorker {
    type Out = ();
    const WHAT: &'static str = "register a worker";

    fn run(&self, tx: &Connection, now: i64, _: &mut Changes) -> Result<()> {
        let Self { worker } = self;
        tx.prepare_cached(
            "INSERT INTO workers (id, pid, host, started_at, heartbeat_at, lease_ms, concurrency, job_types, wake_port, scope) \
             VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (id) DO UPDATE SET scope = ?9, heartbeat_at = ?4",
        )?
        .execute(params![
            worker.id,
            worker.pid,
            worker.host,
            now,
            worker.lease_ms,
            worker.concurrency,
            worker.job_types.join(","),
            worker.wake_port,
            worker.scope.as_ref().map(|s| s.join(","))
        ])?;
        Ok(())
    }
}

impl Op for UnregisterWorker {
    type Out = ();
    const WHAT: &'static str = "unregister a worker";

    fn run(&self, tx: &Connection, _: i64, _: &mut Changes) -> Result<()> {
        let Self { id } = self;
        tx.prepare_cached("DELETE FROM workers WHERE id = ?1")?
            .execute([id])?;
        Ok(())
    }
}
