//! The PostgreSQL writer: one task that commits many operations per transaction (group
//! commit), as the SQLite writer does, on a pooled connection.
//!
//! Operations queue behind each other; the task takes the first, drains what waits behind
//! it, runs them in one transaction, settles the batches they touched and the work their
//! ends release, and answers each after the commit. A failed group is replayed one
//! operation per transaction, so a bad operation fails only its caller. A lost connection
//! or a serialization failure is retried with a fresh connection for up to two minutes, so
//! a restarting server delays work but loses none.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use deadpool_postgres::{Pool, Transaction};
use tokio::sync::{mpsc, oneshot};

use super::ops::{resolve_dependencies, settle_batch};
use crate::error::{QueueError, Result};
use crate::store::{Changes, Effect, EffectSink};
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

    /// Runs it in the writer's open transaction at time `now`. It may run again (a failed
    /// group is replayed), so all it does goes through `tx`.
    async fn run(&self, tx: &Transaction<'_>, now: i64, changes: &mut Changes)
    -> Result<Self::Out>;
}

#[async_trait]
trait Pending: Send {
    async fn run(&mut self, tx: &Transaction<'_>, now: i64, changes: &mut Changes) -> Result<()>;
    fn answer(self: Box<Self>, committed: Result<()>);
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

    fn answer(self: Box<Self>, committed: Result<()>) {
        let Call { out, reply, .. } = *self;
        let answer = committed.and_then(|()| out.ok_or(QueueError::Closed));
        match reply {
            Some(reply) => drop(reply.send(answer)),
            None => {
                if let Err(error) = answer {
                    tracing::warn!(%error, "could not {}", O::WHAT);
                }
            }
        }
    }
}

/// The handle to the writer task.
#[derive(Clone)]
pub(crate) struct PgWriter {
    tx: mpsc::UnboundedSender<Box<dyn Pending>>,
}

impl PgWriter {
    /// Starts the writer task; committed changes go to `effects`.
    pub(crate) fn start(pool: Pool, effects: EffectSink) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(pool, rx, effects));
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

async fn run(pool: Pool, mut rx: mpsc::UnboundedReceiver<Box<dyn Pending>>, effects: EffectSink) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while let Some(first) = rx.recv().await {
        group.push(first);
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(op) => group.push(op),
                Err(_) => break,
            }
        }
        match attempt(&pool, &mut group).await {
            Ok(done) => {
                publish(&effects, done);
                for op in group.drain(..) {
                    op.answer(Ok(()));
                }
            }
            Err(error) => {
                tracing::debug!(%error, operations = group.len(), "group commit failed; retrying one by one");
                for mut op in group.drain(..) {
                    match attempt(&pool, std::slice::from_mut(&mut op)).await {
                        Ok(done) => {
                            publish(&effects, done);
                            op.answer(Ok(()));
                        }
                        Err(error) => op.answer(Err(error)),
                    }
                }
            }
        }
    }
}

fn publish(effects: &EffectSink, done: Vec<Effect>) {
    if !done.is_empty() {
        effects(done);
    }
}

/// Whether an error is worth a new transaction: the connection or server went away, or
/// PostgreSQL asked for a retry (serialization failure, deadlock).
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
                    )
                )
                || (e.code().is_none() && std::error::Error::source(e).is_some())
        }
        QueueError::Unreachable { .. } => true,
        _ => false,
    }
}

async fn attempt(pool: &Pool, group: &mut [Box<dyn Pending>]) -> Result<Vec<Effect>> {
    let deadline = Instant::now() + PATIENCE;
    let mut delay = Duration::from_millis(20);
    loop {
        match transaction(pool, group).await {
            Err(error) if transient(&error) && Instant::now() < deadline => {
                tracing::debug!(%error, "database unavailable; retrying the transaction in {delay:?}");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(1));
            }
            other => return other,
        }
    }
}

async fn transaction(pool: &Pool, group: &mut [Box<dyn Pending>]) -> Result<Vec<Effect>> {
    let mut client = super::connection(pool).await?;
    let tx = client.transaction().await?;
    let now = now_ms();
    let mut changes = Changes::default();
    for op in group.iter_mut() {
        op.run(&tx, now, &mut changes).await?;
    }
    resolve_dependencies(&tx, now, &mut changes).await?;
    let Changes {
        mut effects,
        mut batches,
        wake_work,
        wake_check,
    } = changes;
    batches.sort_unstable();
    batches.dedup();
    for id in batches {
        if let Some(row) = settle_batch(&tx, &id, now).await? {
            effects.push(Effect::Batch(row));
        }
    }
    // Delivered at commit, to every process listening (see `super::listen`).
    for (wanted, kind) in [(wake_work, "w"), (wake_check, "c")] {
        if wanted {
            tx.execute("SELECT pg_notify('brains_wake', $1)", &[&kind])
                .await?;
        }
    }
    tx.commit().await?;
    Ok(effects)
}
