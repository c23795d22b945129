//! The SQLite writer: one thread that commits many operations per transaction (group
//! commit).
//!
//! Callers hand it typed operations ([`Op`]: a params struct whose `run` holds its SQL and
//! returns its own answer type); the thread takes the first waiting, drains whatever else
//! is queued behind it, runs them all in one `BEGIN IMMEDIATE` transaction and answers each
//! caller after the commit. That is how a no-op job costs a fraction of a disk sync. If one
//! operation fails, the transaction is rolled back and the operations are replayed one
//! transaction each, so a bad one only fails its own caller.
//!
//! After each commit the writer reports what changed as [`Effect`]s to the progress
//! monitor, so events describe committed state only.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use super::deps::resolve_dependencies;
use super::rows::batch_row;
use crate::error::{QueueError, Result};
use crate::store::{Changes, Effect, EffectSink};
use crate::util::now_ms;

/// At most this many operations share one transaction, so a flood of enqueues cannot hold
/// the write lock long enough to starve other processes.
const MAX_GROUP: usize = 2048;

/// One typed write operation.
pub(crate) trait Op: Send + 'static {
    /// Its answer.
    type Out: Send + 'static;
    /// What it does, for the log when nobody waits for its answer.
    const WHAT: &'static str;

    /// Runs it in the writer's open transaction at time `now`, recording what it changed.
    /// It may run twice (a group that failed is replayed one operation at a time), so
    /// everything it does goes through `tx`.
    fn run(&self, tx: &Connection, now: i64, changes: &mut Changes) -> Result<Self::Out>;
}

/// An operation waiting in the writer's queue, with where its answer goes.
trait Pending: Send {
    fn run(&mut self, tx: &Connection, now: i64, changes: &mut Changes) -> Result<()>;
    /// Answers the caller once the transaction ended, `Ok` when it committed.
    fn answer(self: Box<Self>, committed: Result<()>);
}

struct Call<O: Op> {
    op: O,
    out: Option<O::Out>,
    reply: Option<oneshot::Sender<Result<O::Out>>>,
}

impl<O: Op> Pending for Call<O> {
    fn run(&mut self, tx: &Connection, now: i64, changes: &mut Changes) -> Result<()> {
        self.out = Some(self.op.run(tx, now, changes)?);
        Ok(())
    }

    fn answer(self: Box<Self>, committed: Result<()>) {
        let Call { out, reply, .. } = *self;
        crate::store::answer(out, reply, committed, O::WHAT);
    }
}

/// The handle to the writer thread.
#[derive(Clone)]
pub(crate) struct Writer {
    tx: mpsc::UnboundedSender<Box<dyn Pending>>,
}

impl Writer {
    /// Starts the writer thread on an open, migrated connection.
    pub(crate) fn start(conn: Connection, effects: EffectSink) -> Result<Self> {
        let (tx, rx) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("brain-queue-writer".into())
            .spawn(move || WriterThread { conn, effects }.run(rx))
            .map_err(|source| QueueError::Io {
                path: PathBuf::from("<writer thread>"),
                source,
            })?;
        Ok(Self { tx })
    }

    /// Queues `op` without waiting for it; a failure is logged.
    pub(crate) fn send<O: Op>(&self, op: O) -> Result<()> {
        self.queue(op, None)
    }

    /// Runs `op` and waits for its answer, after the commit.
    pub(crate) async fn call<O: Op>(&self, op: O) -> Result<O::Out> {
        let (reply, answer) = oneshot::channel();
        self.queue(op, Some(reply))?;
        answer.await.map_err(|_| QueueError::Closed)?
    }

    fn queue<O: Op>(&self, op: O, reply: Option<oneshot::Sender<Result<O::Out>>>) -> Result<()> {
        let call = Call {
            op,
            out: None,
            reply,
        };
        self.tx.send(Box::new(call)).map_err(|_| QueueError::Closed)
    }
}

struct WriterThread {
    conn: Connection,
    effects: EffectSink,
}

pub(crate) fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

impl WriterThread {
    fn run(mut self, mut rx: mpsc::UnboundedReceiver<Box<dyn Pending>>) {
        let mut group = Vec::with_capacity(MAX_GROUP);
        while let Some(first) = rx.blocking_recv() {
            group.push(first);
            while group.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(op) => group.push(op),
                    Err(_) => break,
                }
            }
            self.run_group(&mut group);
        }
    }

    fn run_group(&mut self, group: &mut Vec<Box<dyn Pending>>) {
        match self.attempt(group) {
            Ok(effects) => {
                self.publish(effects);
                for op in group.drain(..) {
                    op.answer(Ok(()));
                }
            }
            Err(error) => {
                tracing::debug!(%error, operations = group.len(), "group commit failed; retrying one by one");
                for mut op in group.drain(..) {
                    match self.attempt(std::slice::from_mut(&mut op)) {
                        Ok(effects) => {
                            self.publish(effects);
                            op.answer(Ok(()));
                        }
                        Err(error) => op.answer(Err(self.naming(error))),
                    }
                }
            }
        }
    }

    /// Errors about the database file name it.
    fn naming(&self, error: QueueError) -> QueueError {
        match self.conn.path() {
            Some(path) => error.naming(Path::new(path)),
            None => error,
        }
    }

    fn publish(&self, effects: Vec<Effect>) {
        if !effects.is_empty() {
            (self.effects)(effects);
        }
    }

    /// Runs the operations in one transaction, retrying while another process holds the
    /// write lock, so "database is locked" never reaches a caller. Returns the effects.
    fn attempt(&mut self, group: &mut [Box<dyn Pending>]) -> Result<Vec<Effect>> {
        let mut delay = Duration::from_millis(5);
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            match self.transaction(group) {
                Err(QueueError::Sqlite(e))
                    if is_busy(&e) && std::time::Instant::now() < deadline =>
                {
                    tracing::debug!("database busy; retrying the transaction in {delay:?}");
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_millis(250));
                }
                other => return other,
            }
        }
    }

    fn transaction(&mut self, group: &mut [Box<dyn Pending>]) -> Result<Vec<Effect>> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = now_ms();
        let mut changes = Changes::default();
        for op in group.iter_mut() {
            op.run(&tx, now, &mut changes)?;
        }
        let Changes {
            mut effects,
            mut batches,
            ..
        } = changes;
        resolve_dependencies(&tx, now, &mut effects, &mut batches)?;
        batches.sort_unstable();
        batches.dedup();
        for id in batches {
            if let Some(row) = batch_row(&tx, &id)? {
                effects.push(Effect::Batch(row));
            }
        }
        tx.commit()?;
        Ok(effects)
    }
}
