//! The embedded driver: the job database is an SQLite file. One writer thread commits many
//! operations per transaction (group commit, `writer.rs`); a reader serves queries beside
//! it (WAL); a thread of its own checkpoints the log (`maintenance/checkpoint.rs`).

mod deps;
mod maintenance {
    pub(super) mod checkpoint;
    pub(super) mod prune;
    pub(super) mod sweep;
}
mod ops {
    mod cancel;
    mod claim;
    mod enqueue;
    mod estimates;
    mod finish;
    mod heartbeat;
    mod outbox;
    mod retry;
    mod workers;
}
mod reader;
mod rows;
pub(crate) mod schema;
mod writer;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use brain_plugin_api::{ItemError, SideEffect};

use super::history::{HistoryRows, StatsRows};
use super::{
    BatchRow, Cancel, CancelResult, Claim, Claimed, Driver, EffectSink, Enqueue, Finish, Heartbeat,
    HeartbeatResult, Inserted, JobRecord, ListFilter, LogRow, OutboxDone, Prune, RegisterWorker,
    Retry, RunningItem, SaveEstimates, SaveProgress, Sweep, UnregisterWorker, WorkerRow,
};
use crate::error::{QueueError, Result};
use reader::Reader;
use writer::Writer;
pub(crate) use writer::is_busy;

/// A job database in an SQLite file.
pub(crate) struct SqliteDriver {
    writer: Writer,
    reader: Arc<Reader>,
    /// Dropping it stops the checkpoint thread.
    _checkpoints: std::sync::mpsc::Sender<()>,
}

impl SqliteDriver {
    /// Opens (creating and migrating when needed) the database at `path`; committed
    /// changes go to `effects`.
    pub(crate) fn open(path: &Path, effects: EffectSink) -> Result<Self> {
        let conn = schema::open_and_migrate(path).map_err(|e| e.naming(path))?;
        let reader = Arc::new(Reader::open(path).map_err(|e| e.naming(path))?);
        let writer = Writer::start(conn, effects)?;
        let checkpoints = maintenance::checkpoint::start_checkpointer(path)?;
        Ok(Self {
            writer,
            reader,
            _checkpoints: checkpoints,
        })
    }

    /// The saved duration estimates, read at once (opening is synchronous).
    pub(crate) fn saved_estimates(&self) -> Result<Vec<(String, f64, f64, u64)>> {
        self.reader.estimates()
    }

    /// Runs `read` on the reader off the async threads (SQLite calls block).
    async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Reader) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let reader = self.reader.clone();
        tokio::task::spawn_blocking(move || read(&reader))
            .await
            .map_err(|_| QueueError::Closed)?
    }
}

#[async_trait]
impl Driver for SqliteDriver {
    async fn enqueue(&self, op: Enqueue) -> Result<Inserted> {
        self.writer.call(op).await
    }
    async fn claim(&self, op: Claim) -> Result<Vec<Claimed>> {
        self.writer.call(op).await
    }
    async fn finish(&self, op: Finish) -> Result<bool> {
        self.writer.call(op).await
    }
    async fn heartbeat(&self, op: Heartbeat) -> Result<HeartbeatResult> {
        self.writer.call(op).await
    }
    fn save_progress(&self, op: SaveProgress) {
        // Only fails once the writer has stopped, when nobody watches any more.
        let _ = self.writer.send(op);
    }
    async fn cancel(&self, op: Cancel) -> Result<CancelResult> {
        self.writer.call(op).await
    }
    async fn retry(&self, op: Retry) -> Result<u64> {
        self.writer.call(op).await
    }
    async fn register_worker(&self, op: RegisterWorker) -> Result<()> {
        self.writer.call(op).await
    }
    async fn unregister_worker(&self, op: UnregisterWorker) -> Result<()> {
        self.writer.call(op).await
    }
    async fn save_estimates(&self, op: SaveEstimates) -> Result<()> {
        self.writer.call(op).await
    }
    fn save_estimates_later(&self, op: SaveEstimates) {
        let _ = self.writer.send(op);
    }
    async fn outbox_done(&self, op: OutboxDone) -> Result<()> {
        self.writer.call(op).await
    }
    async fn sweep(&self, op: Sweep) -> Result<u64> {
        self.writer.call(op).await
    }
    async fn prune(&self, op: Prune) -> Result<u64> {
        self.writer.call(op).await
    }

    async fn job(&self, id: &str) -> Result<Option<JobRecord>> {
        let id = id.to_owned();
        self.read(move |r| r.job(&id)).await
    }
    async fn batch(&self, id: &str) -> Result<Option<BatchRow>> {
        let id = id.to_owned();
        self.read(move |r| r.batch(&id)).await
    }
    async fn id_exists(&self, id: &str) -> Result<bool> {
        let id = id.to_owned();
        self.read(move |r| r.id_exists(&id)).await
    }
    async fn ids_with_prefix(&self, prefix: &str, limit: usize) -> Result<Vec<String>> {
        let prefix = prefix.to_owned();
        self.read(move |r| r.ids_with_prefix(&prefix, limit)).await
    }
    async fn log_lines(&self, id: &str, batch: bool, limit: usize) -> Result<Vec<LogRow>> {
        let id = id.to_owned();
        self.read(move |r| r.log_lines(&id, batch, limit)).await
    }
    async fn batch_items(&self, id: &str, limit: usize) -> Result<Vec<JobRecord>> {
        let id = id.to_owned();
        self.read(move |r| r.batch_items(&id, limit)).await
    }
    async fn batch_running(&self, id: &str, limit: usize) -> Result<Vec<RunningItem>> {
        let id = id.to_owned();
        self.read(move |r| r.batch_running(&id, limit)).await
    }
    async fn batch_done_durations(&self, id: &str, sample: usize) -> Result<(u64, u64)> {
        let id = id.to_owned();
        self.read(move |r| r.batch_done_durations(&id, sample))
            .await
    }
    async fn batch_errors(&self, id: &str, limit: usize) -> Result<Vec<ItemError>> {
        let id = id.to_owned();
        self.read(move |r| r.batch_errors(&id, limit)).await
    }
    async fn list_jobs(&self, filter: &ListFilter) -> Result<Vec<JobRecord>> {
        let filter = filter.clone();
        self.read(move |r| r.list_jobs(&filter)).await
    }
    async fn list_batches(&self, filter: &ListFilter, history: i64) -> Result<Vec<BatchRow>> {
        let filter = filter.clone();
        self.read(move |r| r.list_batches(&filter, history)).await
    }
    async fn live_workers(&self, now: i64) -> Result<Vec<WorkerRow>> {
        self.read(move |r| r.live_workers(now)).await
    }
    async fn all_workers(&self) -> Result<Vec<WorkerRow>> {
        self.read(|r| r.all_workers()).await
    }
    async fn next_due(&self, types: &[String], scope: Option<&[String]>) -> Result<Option<i64>> {
        let (types, scope) = (types.to_vec(), scope.map(<[String]>::to_vec));
        self.read(move |r| r.next_due(&types, scope.as_deref()))
            .await
    }
    async fn dependencies(&self, id: &str) -> Result<Vec<String>> {
        let id = id.to_owned();
        self.read(move |r| r.dependencies(&id)).await
    }
    async fn history(&self, query: &brain_plugin_api::HistoryQuery) -> Result<HistoryRows> {
        let query = query.clone();
        self.read(move |r| r.history(&query)).await
    }
    async fn stats(&self, now: i64, since: i64) -> Result<StatsRows> {
        self.read(move |r| r.stats(now, since)).await
    }
    async fn estimates(&self) -> Result<Vec<(String, f64, f64, u64)>> {
        self.read(|r| r.estimates()).await
    }
    async fn recent_runs(
        &self,
        job_type: &str,
        limit: usize,
    ) -> Result<Vec<super::history::RunRow>> {
        let job_type = job_type.to_owned();
        self.read(move |r| r.recent_runs(&job_type, limit)).await
    }
    async fn rescued(&self, id: &str) -> Result<u64> {
        let id = id.to_owned();
        self.read(move |r| r.rescued(&id)).await
    }
    async fn active_of_type(&self, job_type: &str) -> Result<Vec<String>> {
        let job_type = job_type.to_owned();
        self.read(move |r| r.active_of_type(&job_type)).await
    }
    async fn outbox(&self, job_id: Option<&str>) -> Result<Vec<(i64, SideEffect)>> {
        let job_id = job_id.map(str::to_owned);
        self.read(move |r| r.outbox(job_id.as_deref())).await
    }
}
