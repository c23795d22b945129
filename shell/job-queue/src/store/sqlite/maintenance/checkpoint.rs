//! Checkpointing, a maintenance service of the SQLite file: the write-ahead log folded back
//! into the database from a thread of its own.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{QueueError, Result};
use crate::store::sqlite::schema;

/// How often the background thread folds the write-ahead log back into the database.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(500);

/// Starts a thread that checkpoints the WAL from its own connection, so the writer never
/// stalls a commit on a checkpoint (they cost several milliseconds each). It stops when
/// the returned sender is dropped.
pub(crate) fn start_checkpointer(path: &Path) -> Result<std::sync::mpsc::Sender<()>> {
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let conn = schema::connect(path)?;
    std::thread::Builder::new()
        .name("brain-queue-checkpoint".into())
        .spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                stopped.recv_timeout(CHECKPOINT_INTERVAL)
            {
                // PASSIVE never waits for readers or writers; what it cannot do now it does
                // next time.
                if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                {
                    tracing::debug!(%error, "checkpoint skipped");
                }
            }
        })
        .map_err(|source| QueueError::Io {
            path: PathBuf::from("<checkpoint thread>"),
            source,
        })?;
    Ok(stop)
}
