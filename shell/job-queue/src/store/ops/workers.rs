//! Worker presence: a row per worker pool (its process, host and wake-up port) while it
//! runs.

use rusqlite::{Connection, params};

use crate::error::Result;
use crate::store::writer::{Changes, Op};

#[derive(Debug, Clone)]
pub(crate) struct WorkerRow {
    pub(crate) id: String,
    pub(crate) pid: u32,
    pub(crate) host: String,
    pub(crate) lease_ms: i64,
    pub(crate) concurrency: u32,
    pub(crate) job_types: Vec<String>,
    pub(crate) wake_port: Option<u16>,
    /// The job and batch ids a scoped pool is limited to; `None`: any work of its types.
    pub(crate) scope: Option<Vec<String>>,
}

impl WorkerRow {
    /// Whether this row's process is known to be gone: it ran on `this_host` and its pid
    /// no longer exists. Elsewhere only the lease can tell.
    pub(crate) fn known_dead(&self, this_host: &str) -> bool {
        self.host == this_host && crate::util::pid_alive(self.pid) == Some(false)
    }
}

/// Registers a worker pool, or refreshes its row.
pub(crate) struct RegisterWorker {
    pub(crate) worker: WorkerRow,
}

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

/// Removes a worker pool's row.
pub(crate) struct UnregisterWorker {
    pub(crate) id: String,
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
