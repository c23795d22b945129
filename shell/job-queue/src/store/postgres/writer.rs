//! The PostgreSQL writer: one task that commits many operations per transaction (group
//! commit), as the SQLite writer does, on a pooled connection.
//!
//! Operations queue behind each other; the task takes the first, drains what waits behind
//! it, runs them in one transaction, settles the batches they touched and the work their
//! ends release, and answers each after the commit. A failed group is replayed one
//! operation per transaction, so a bad operation fails only its caller. A lost connection
//! or a serialization failure is retried with a fresh connection for up to two minutes, so
//! a restarting server delays work but loses none.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use deadpool_postgres::{Pool, Transaction};
use tokio::sync::{mpsc, oneshot};

use super::ops::{Settled, bulk_completion, complete_many, resolve_dependencies, settle_batch};
use crate::error::{QueueError, Result};
use crate::store::{Changes, Effect, EffectSink, Finish};
use crate::util::now_ms;

/// At most this many operations share one transaction.
const MAX_GROUP: usize = 2048;

/// How long a write keeps trying while the server cannot be reached.
const PATIENCE: Duration = Duration::from_secs(120);

/// One typed write operation on PostgreSQL.
#[async_trait]
pub(crate) trait PgOp: Send + Sync + 'static {
    type Out: Send + 'static;
    /// What it does, for the log when nobody waits for its answer.
    const WHAT: &'static str;
    /// Whether its commit must be on disk before it is answered. A claim, a heartbeat or a
    /// progress snapshot lost with a crashed server costs at most a lease (the job runs
    /// again, its first result refused by the lease token), so a transaction of those only
    /// does not wait for the disk.
    const DURABLE: bool = true;

    /// Runs it in the writer's open transaction at time `now`. It may run again (a failed
    /// group is replayed), so all it does goes through `tx`.
    async fn run(&self, tx: &Transaction<'_>, now: i64, changes: &mut Changes)
    -> Result<Self::Out>;
}

#[async_trait]
trait Pending: Send {
    async fn run(&mut self, tx: &Transaction<'_>, now: i64, changes: &mut Changes) -> Result<()>;
    fn answer(self: Box<Self>, committed: Result<()>);
    fn durable(&self) -> bool;
    /// For the writer to find the completions it stores in one statement.
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any;
}

struct Call<O: PgOp> {
    op: O,
    out: Option<O::Out>,
    reply: Option<oneshot::Sender<Result<O::Out>>>,
}

#[async_trait]
impl<O: PgOp> Pending for Call<O> {
    async fn run(&mut self, tx: &Transaction<'_>, now: i64, changes: &mut Changes) -> Result<()> {
        self.out = Some(self.op.run(tx, now, changes).await?);
        Ok(())
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn durable(&self) -> bool {
        O::DURABLE
    }

    fn answer(self: Box<Self>, committed: Result<()>) {
        let Call { out, reply, .. } = *self;
        crate::store::answer(out, reply, committed, O::WHAT);
    }
}

/// The handle to the writer task.
#[derive(Clone)]
pub(crate) struct PgWriter {
    tx: mpsc::UnboundedSender<Box<dyn Pending>>,
}

/// Writer tasks, each with a connection of its own: while one commits, the next group
/// runs on another, and the server's work is spread over two of its processes.
const WRITERS: usize = 2;

impl PgWriter {
    /// Starts the writer tasks; committed changes go to `effects`.
    pub(crate) fn start(pool: Pool, effects: EffectSink) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            queue: tokio::sync::Mutex::new(rx),
            committing: tokio::sync::Mutex::new(effects),
        });
        for _ in 0..WRITERS {
            tokio::spawn(run(pool.clone(), shared.clone()));
        }
        Self { tx }
    }

    pub(crate) fn send<O: PgOp>(&self, op: O) {
        let _ = self.queue(op, None);
    }

    pub(crate) async fn call<O: PgOp>(&self, op: O) -> Result<O::Out> {
        let (reply, answer) = oneshot::channel();
        self.queue(op, Some(reply))?;
        answer.await.map_err(|_| QueueError::Closed)?
    }

    fn queue<O: PgOp>(&self, op: O, reply: Option<oneshot::Sender<Result<O::Out>>>) -> Result<()> {
        let call = Call {
            op,
            out: None,
            reply,
        };
        self.tx.send(Box::new(call)).map_err(|_| QueueError::Closed)
    }
}

/// What the writer tasks share: the queue of operations, and the effect sink, held from
/// each commit to its report so that reports come in commit order.
struct Shared {
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Box<dyn Pending>>>,
    committing: tokio::sync::Mutex<EffectSink>,
}

async fn run(pool: Pool, shared: Arc<Shared>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    loop {
        {
            let mut queue = shared.queue.lock().await;
            let Some(first) = queue.recv().await else {
                return;
            };
            group.push(first);
            // Let the tasks that are ready queue theirs first: handlers started by one
            // claim end together, and each transaction costs a commit however few it holds
            // (without this, half of the writers' time went to groups of one to a few).
            tokio::task::yield_now().await;
            while group.len() < MAX_GROUP {
                match queue.try_recv() {
                    Ok(op) => group.push(op),
                    Err(_) => break,
                }
            }
        }
        match attempt(&pool, &shared, &mut group).await {
            Ok(()) => {
                for op in group.drain(..) {
                    op.answer(Ok(()));
                }
            }
            Err(error) => {
                tracing::debug!(%error, operations = group.len(), "group commit failed; retrying one by one");
                for mut op in group.drain(..) {
                    let done = attempt(&pool, &shared, std::slice::from_mut(&mut op)).await;
                    op.answer(done);
                }
            }
        }
    }
}

/// Whether an error is worth a new transaction: the connection or server went away, the
/// server has no connection to spare right now, or PostgreSQL asked for a retry
/// (serialization failure, deadlock).
pub(crate) fn transient(error: &QueueError) -> bool {
    use tokio_postgres::error::SqlState;
    match error {
        QueueError::Postgres(e) => {
            e.is_closed()
                || matches!(
                    e.code(),
                    Some(
                        &SqlState::T_R_SERIALIZATION_FAILURE
                            | &SqlState::T_R_DEADLOCK_DETECTED
                            | &SqlState::ADMIN_SHUTDOWN
                            | &SqlState::CRASH_SHUTDOWN
                            | &SqlState::CANNOT_CONNECT_NOW
                            | &SqlState::TOO_MANY_CONNECTIONS
                    )
                )
                || std::error::Error::source(e)
                    .is_some_and(|source| source.downcast_ref::<std::io::Error>().is_some())
        }
        QueueError::Unreachable { .. } => true,
        _ => false,
    }
}

async fn attempt(pool: &Pool, shared: &Shared, group: &mut [Box<dyn Pending>]) -> Result<()> {
    let deadline = Instant::now() + PATIENCE;
    let mut delay = Duration::from_millis(20);
    loop {
        match transaction(pool, shared, group).await {
            Err(error) if transient(&error) && Instant::now() < deadline => {
                tracing::debug!(%error, "database unavailable; retrying the transaction in {delay:?}");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(1));
            }
            other => return other,
        }
    }
}

async fn transaction(pool: &Pool, shared: &Shared, group: &mut [Box<dyn Pending>]) -> Result<()> {
    let mut client = super::connection(pool).await?;
    let tx = client.transaction().await?;
    if !group.iter().any(|op| op.durable()) {
        tx.batch_execute("SET LOCAL synchronous_commit = off")
            .await?;
    }
    let now = now_ms();
    let mut changes = Changes::default();
    // Completions without side effects — most of any busy group — go in one statement; the
    // other operations run one after the other.
    let bulk: Vec<bool> = group
        .iter_mut()
        .map(|op| {
            op.as_any_mut()
                .downcast_mut::<Call<Finish>>()
                .is_some_and(|call| bulk_completion(&call.op))
        })
        .collect();
    let mut completions: Vec<&mut Call<Finish>> = group
        .iter_mut()
        .zip(&bulk)
        .filter(|(_, bulk)| **bulk)
        .filter_map(|(op, _)| op.as_any_mut().downcast_mut::<Call<Finish>>())
        .collect();
    if !completions.is_empty() {
        let ops: Vec<&Finish> = completions.iter().map(|c| &c.op).collect();
        let accepted = complete_many(&tx, now, &ops, &mut changes).await?;
        for (call, accepted) in completions.iter_mut().zip(accepted) {
            call.out = Some(accepted);
        }
    }
    for (op, _) in group.iter_mut().zip(&bulk).filter(|(_, bulk)| !**bulk) {
        op.run(&tx, now, &mut changes).await?;
    }
    // Every batch the operations touched is settled now, once, locked in id order before
    // anything else is: transactions that share batches then never wait for each other in
    // a circle.
    let mut touched = changes.batches.clone();
    touched.sort_unstable();
    touched.dedup();
    let mut settled = Settled::new();
    for id in touched {
        let row = settle_batch(&tx, &id, now).await?;
        settled.insert(id, row);
    }
    resolve_dependencies(&tx, now, &mut changes, &mut settled).await?;
    let Changes {
        mut effects,
        wake_work,
        wake_check,
        ..
    } = changes;
    effects.extend(settled.into_values().flatten().map(Effect::Batch));
    // Delivered at commit, to every process listening (see `super::listen`).
    for (wanted, kind) in [(wake_work, "w"), (wake_check, "c")] {
        if wanted {
            tx.execute("SELECT pg_notify('brains_wake', $1)", &[&kind])
                .await?;
        }
    }
    let report = shared.committing.lock().await;
    tx.commit().await?;
    if !effects.is_empty() {
        report(effects);
    }
    Ok(())
}
