//! The PostgreSQL driver: one queue shared by processes on many hosts.
//!
//! Writes go through a group-commit writer task (`writer.rs`) like SQLite's, on a pooled
//! connection; claims take rows with `FOR UPDATE SKIP LOCKED`; leases are fenced by their
//! token as on SQLite. Reads use the pool. Wake-ups are a `NOTIFY brains_wake` sent at the
//! commit of work that became due (or was asked to cancel); each process LISTENs on a
//! connection of its own and reconnects when it drops — NOTIFY is a hint, so worker pools
//! keep their slow periodic check too.

mod ops;
mod reader;
pub(crate) mod schema;
mod tls;
mod writer;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use brain_plugin_api::{ItemError, SideEffect};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio::sync::broadcast;
use tokio_postgres::config::SslMode;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{AsyncMessage, Client, NoTls, Socket};
use tokio_util::sync::{CancellationToken, DropGuard};

use super::{
    BatchRow, Cancel, CancelResult, Claim, Claimed, Driver, EffectSink, Enqueue, Finish, Heartbeat,
    HeartbeatResult, Inserted, JobRecord, ListFilter, LogRow, OutboxDone, Prune, RegisterWorker,
    Retry, RunningItem, SaveEstimates, SaveProgress, Sweep, UnregisterWorker, WorkerRow,
};
use crate::error::{QueueError, Result};
use writer::PgWriter;

/// Connections in the pool: the writer's, and reads beside it.
const POOL_SIZE: usize = 8;

/// A job database on a PostgreSQL server.
pub(crate) struct PostgresDriver {
    pool: Pool,
    writer: PgWriter,
    wake: broadcast::Sender<u8>,
    /// Dropping it stops the listener.
    _listening: DropGuard,
}

/// `url` without its password, for messages.
pub(crate) fn describe(url: &str) -> String {
    let plain = tls::split(url).map_or_else(|_| url.to_owned(), |(plain, _)| plain);
    match tokio_postgres::Config::from_str(&plain) {
        Ok(config) => {
            let user = config.get_user().unwrap_or("");
            let host = config
                .get_hosts()
                .first()
                .map(|h| match h {
                    tokio_postgres::config::Host::Tcp(name) => name.clone(),
                    tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
                })
                .unwrap_or_default();
            let port = config.get_ports().first().copied().unwrap_or(5432);
            let db = config.get_dbname().unwrap_or(user);
            format!("postgres://{user}@{host}:{port}/{db}")
        }
        Err(_) => "postgres://…".to_owned(),
    }
}

/// A connected client, its connection driven by a task of its own (which ends when the
/// client is dropped).
fn spawned<T>(
    connected: std::result::Result<
        (Client, tokio_postgres::Connection<Socket, T>),
        tokio_postgres::Error,
    >,
) -> std::result::Result<(Client, tokio::task::JoinHandle<()>), tokio_postgres::Error>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (client, connection) = connected?;
    Ok((
        client,
        tokio::spawn(async move {
            let _ = connection.await;
        }),
    ))
}

/// An error with its causes ("error performing TLS handshake: invalid peer certificate:
/// UnknownIssuer"): tokio-postgres says only the first.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(&format!(": {more}"));
        }
        source = cause.source();
    }
    text
}

/// A connection from the pool, or why none can be had.
pub(crate) async fn connection(pool: &Pool) -> Result<deadpool_postgres::Object> {
    pool.get().await.map_err(|error| match error {
        deadpool_postgres::PoolError::Backend(e) => QueueError::Postgres(e),
        other => QueueError::Unreachable {
            location: "the PostgreSQL pool".into(),
            reason: other.to_string(),
        },
    })
}

impl PostgresDriver {
    /// Connects to `url`, migrates the `brains` schema when needed, and starts the writer
    /// and the listener; committed changes go to `effects`. Returns the saved duration
    /// estimates too.
    pub(crate) async fn connect(
        url: &str,
        effects: EffectSink,
    ) -> Result<(Self, Vec<(String, f64, f64, u64)>)> {
        let location = describe(url);
        let invalid = |reason: String| QueueError::InvalidArgument {
            field: "url",
            reason: format!("{location}: {reason}"),
        };
        let (plain, tls) = tls::split(url).map_err(invalid)?;
        let mut config = tokio_postgres::Config::from_str(&plain)
            .map_err(|e| invalid(format!("not a PostgreSQL connection url: {e}")))?;
        config.options("-c search_path=brains");
        config.application_name("brains");
        config.ssl_mode(if tls.required {
            SslMode::Require
        } else {
            SslMode::Disable
        });
        let rustls = match tls.required {
            true => Some(tls::Rustls::new(&tls).map_err(invalid)?),
            false => None,
        };
        let unreachable = |e: tokio_postgres::Error| QueueError::Unreachable {
            location: location.clone(),
            reason: error_chain(&e),
        };
        {
            let (mut client, running) = match &rustls {
                Some(rustls) => spawned(config.connect(rustls.clone()).await),
                None => spawned(config.connect(NoTls).await),
            }
            .map_err(unreachable)?;
            schema::migrate(&mut client, &location).await?;
            drop(client);
            let _ = running.await;
        }
        let pooled = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match &rustls {
            Some(rustls) => Manager::from_config(config.clone(), rustls.clone(), pooled),
            None => Manager::from_config(config.clone(), NoTls, pooled),
        };
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .wait_timeout(Some(Duration::from_secs(5)))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| QueueError::Unreachable {
                location: location.clone(),
                reason: e.to_string(),
            })?;
        let estimates = reader::estimates(&pool).await?;
        let (wake, _) = broadcast::channel(64);
        let stop = CancellationToken::new();
        match rustls {
            Some(rustls) => tokio::spawn(listen(config, rustls, wake.clone(), stop.clone())),
            None => tokio::spawn(listen(config, NoTls, wake.clone(), stop.clone())),
        };
        Ok((
            Self {
                writer: PgWriter::start(pool.clone(), effects),
                pool,
                wake,
                _listening: stop.drop_guard(),
            },
            estimates,
        ))
    }
}

/// Forwards `NOTIFY brains_wake` payloads (`w`: work is due, `c`: check for cancelled
/// jobs) to `wake`, reconnecting when the connection drops. After each connection `w` is
/// sent once, and after a reconnection `c` too: notifications sent while it was down are
/// lost.
async fn listen<T>(
    config: tokio_postgres::Config,
    tls: T,
    wake: broadcast::Sender<u8>,
    stop: CancellationToken,
) where
    T: MakeTlsConnect<Socket> + Clone,
    T::Stream: Send + 'static,
{
    let mut delay = Duration::from_millis(100);
    let mut reconnected = false;
    while !stop.is_cancelled() {
        let connected = tokio::select! {
            c = config.connect(tls.clone()) => c,
            () = stop.cancelled() => return,
        };
        let (client, mut connection) = match connected {
            Ok(pair) => pair,
            Err(error) => {
                tracing::debug!(%error, "cannot listen for wake-ups; trying again in {delay:?}");
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = stop.cancelled() => return,
                }
                delay = (delay * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        // The connection is driven by polling its messages: requests and notifications.
        let (notes, mut received) = tokio::sync::mpsc::unbounded_channel::<String>();
        let driving = tokio::spawn(async move {
            while let Some(Ok(message)) =
                std::future::poll_fn(|cx| connection.poll_message(cx)).await
            {
                if let AsyncMessage::Notification(n) = message {
                    let _ = notes.send(n.payload().to_owned());
                }
            }
        });
        if client.batch_execute("LISTEN brains_wake").await.is_ok() {
            delay = Duration::from_millis(100);
            // Work may have been enqueued before this LISTEN: a claim finds it. Cancel
            // requests missed while a connection was down are looked for too; at the first
            // connection the pool's own heartbeats cover them (and an early beat would run
            // its housekeeping at once).
            let _ = wake.send(b'w');
            if reconnected {
                let _ = wake.send(b'c');
            }
            reconnected = true;
            loop {
                tokio::select! {
                    note = received.recv() => match note {
                        Some(payload) => {
                            for kind in payload.bytes() {
                                let _ = wake.send(kind);
                            }
                        }
                        None => break,
                    },
                    () = stop.cancelled() => break,
                }
            }
        }
        driving.abort();
    }
}

#[async_trait]
impl Driver for PostgresDriver {
    fn wake_ups(&self) -> Option<broadcast::Receiver<u8>> {
        Some(self.wake.subscribe())
    }

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
        self.writer.send(op);
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
        self.writer.send(op);
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
        reader::job(&self.pool, id).await
    }
    async fn batch(&self, id: &str) -> Result<Option<BatchRow>> {
        reader::batch(&self.pool, id).await
    }
    async fn id_exists(&self, id: &str) -> Result<bool> {
        reader::id_exists(&self.pool, id).await
    }
    async fn ids_with_prefix(&self, prefix: &str, limit: usize) -> Result<Vec<String>> {
        reader::ids_with_prefix(&self.pool, prefix, limit).await
    }
    async fn log_lines(&self, id: &str, batch: bool, limit: usize) -> Result<Vec<LogRow>> {
        reader::log_lines(&self.pool, id, batch, limit).await
    }
    async fn batch_items(&self, id: &str, limit: usize) -> Result<Vec<JobRecord>> {
        reader::batch_items(&self.pool, id, limit).await
    }
    async fn batch_running(&self, id: &str, limit: usize) -> Result<Vec<RunningItem>> {
        reader::batch_running(&self.pool, id, limit).await
    }
    async fn batch_done_durations(&self, id: &str, sample: usize) -> Result<(u64, u64)> {
        reader::batch_done_durations(&self.pool, id, sample).await
    }
    async fn batch_errors(&self, id: &str, limit: usize) -> Result<Vec<ItemError>> {
        reader::batch_errors(&self.pool, id, limit).await
    }
    async fn list_jobs(&self, filter: &ListFilter) -> Result<Vec<JobRecord>> {
        reader::list_jobs(&self.pool, filter).await
    }
    async fn list_batches(&self, filter: &ListFilter, history: i64) -> Result<Vec<BatchRow>> {
        reader::list_batches(&self.pool, filter, history).await
    }
    async fn live_workers(&self, now: i64) -> Result<Vec<WorkerRow>> {
        reader::live_workers(&self.pool, now).await
    }
    async fn all_workers(&self) -> Result<Vec<WorkerRow>> {
        reader::live_workers(&self.pool, i64::MIN / 4).await
    }
    async fn next_due(&self, types: &[String], scope: Option<&[String]>) -> Result<Option<i64>> {
        reader::next_due(&self.pool, types, scope).await
    }
    async fn dependencies(&self, id: &str) -> Result<Vec<String>> {
        reader::dependencies(&self.pool, id).await
    }
    async fn rescued(&self, id: &str) -> Result<u64> {
        reader::rescued(&self.pool, id).await
    }
    async fn history(
        &self,
        query: &brain_plugin_api::HistoryQuery,
    ) -> Result<super::history::HistoryRows> {
        reader::history(&self.pool, query).await
    }
    async fn stats(&self, now: i64, since: i64) -> Result<super::history::StatsRows> {
        reader::stats(&self.pool, now, since).await
    }
    async fn estimates(&self) -> Result<Vec<(String, f64, f64, u64)>> {
        reader::estimates(&self.pool).await
    }
    async fn recent_runs(
        &self,
        job_type: &str,
        limit: usize,
    ) -> Result<Vec<super::history::RunRow>> {
        reader::recent_runs(&self.pool, job_type, limit).await
    }
    async fn active_of_type(&self, job_type: &str) -> Result<Vec<String>> {
        reader::active_of_type(&self.pool, job_type).await
    }
    async fn outbox(&self, job_id: Option<&str>) -> Result<Vec<(i64, SideEffect)>> {
        reader::outbox(&self.pool, job_id).await
    }
}

impl std::fmt::Debug for PostgresDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresDriver").finish_non_exhaustive()
    }
}
