//! Refusals of database files the queue must not touch (SQLite only: see `invalid.rs`
//! for bad values).

use std::path::Path;

use brain_job_queue::{ListFilter, NewJob, Queue, QueueConfig, QueueError};
use brain_plugin_api::JobStatus;
use brain_plugin_api::engine::Bus;
use serde_json::json;

use crate::support::*;

/// Waits until every connection to the database at `path` has closed: SQLite checkpoints
/// and removes the WAL file when the last one does. The queue's connections (writer,
/// reader, checkpointer) close at nearly the same moment, and then each may see another
/// still open and leave the file; so once the WAL lingers, a connection of our own reads
/// the database and closes — being the last, it removes the file.
async fn wait_closed(path: &Path) {
    let wal = path.with_extension("db-wal");
    let started = std::time::Instant::now();
    wait_for("the queue to close its database", || async {
        if wal.exists() && started.elapsed() > std::time::Duration::from_millis(500) {
            // It must read the database: only a connection that opened the WAL checkpoints
            // and removes it when it closes last.
            if let Ok(conn) = rusqlite::Connection::open(path) {
                let _ = conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()));
            }
        }
        (!wal.exists()).then_some(())
    })
    .await;
}

fn open_err(path: &Path) -> QueueError {
    Queue::open(path, QueueConfig::default(), Bus::new()).unwrap_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_refuses_files_that_are_not_its_databases_untouched() {
    let dir = tempfile::tempdir().unwrap();

    // A FIFO under the database's name: refused at once instead of blocking on it.
    let fifo = dir.path().join("fifo.db");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let path = fifo.clone();
    let err = within(
        "a FIFO to be refused",
        tokio::task::spawn_blocking(move || open_err(&path)),
    )
    .await
    .unwrap();
    assert!(matches!(err, QueueError::NotADatabase { .. }), "{err:?}");
    assert!(err.to_string().contains("fifo.db"), "{err}");

    let text = dir.path().join("notes.db");
    let notes = b"hello, these are my notes; not a database\n".repeat(10);
    std::fs::write(&text, &notes).unwrap();
    let err = open_err(&text);
    assert!(matches!(err, QueueError::NotADatabase { .. }), "{err:?}");
    assert!(err.to_string().contains("notes.db"), "{err}");
    assert_eq!(std::fs::read(&text).unwrap(), notes);

    let foreign = dir.path().join("other.db");
    {
        let conn = rusqlite::Connection::open(&foreign).unwrap();
        conn.execute_batch(
            "CREATE TABLE jobs (id TEXT); INSERT INTO jobs VALUES ('theirs'); PRAGMA application_id = 7;",
        )
        .unwrap();
    }
    let before = std::fs::read(&foreign).unwrap();
    let err = open_err(&foreign);
    assert!(
        matches!(
            err,
            QueueError::ForeignDatabase {
                application_id: 7,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("other.db"), "{err}");
    assert_eq!(std::fs::read(&foreign).unwrap(), before);

    // An SQLite database of some application that sets no application id.
    let plain = dir.path().join("plain.db");
    {
        let conn = rusqlite::Connection::open(&plain).unwrap();
        conn.execute_batch("CREATE TABLE notes (body TEXT);")
            .unwrap();
    }
    let before = std::fs::read(&plain).unwrap();
    let err = open_err(&plain);
    assert!(matches!(err, QueueError::ForeignDatabase { .. }), "{err:?}");
    assert_eq!(std::fs::read(&plain).unwrap(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_refuses_a_newer_schema_and_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.db");
    let queue = open(&Db::Sqlite(path.clone()), QueueConfig::default()).await;
    let e = queue
        .enqueue(NewJob::new("test:echo", json!("keep me")))
        .await
        .unwrap();
    drop(queue);
    wait_closed(&path).await;

    let version = |path: &Path| -> i32 {
        rusqlite::Connection::open(path)
            .unwrap()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap()
    };
    let set_version = |path: &Path, v: i32| {
        rusqlite::Connection::open(path)
            .unwrap()
            .pragma_update(None, "user_version", v)
            .unwrap();
    };
    let supported = version(&path);
    assert!(supported >= 1);
    set_version(&path, supported + 1);

    let before = std::fs::read(&path).unwrap();
    let err = open_err(&path);
    assert!(
        matches!(err, QueueError::NewerSchema { found, supported: s, .. } if found == supported + 1 && s == supported),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("queue.db"), "{message}");
    assert!(message.contains("upgrade brains"), "{message}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the file was modified"
    );

    set_version(&path, supported);
    let queue = open(&Db::Sqlite(path.clone()), QueueConfig::default()).await;
    let record = queue.job(&e.id).await.unwrap().expect("the job survived");
    assert_eq!(record.status, JobStatus::Pending);
    assert_eq!(record.input, json!("keep me"));
    let listed = queue.list(ListFilter::default()).await.unwrap();
    assert!(
        listed.iter().any(|s| s.event.id == e.id),
        "the job is listed: {listed:?}"
    );
}

/// A job database from before each kind of brains file had its own application id (all
/// carried "BRNS") opens with its jobs, and is labelled as a job database from then on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_database_with_the_old_shared_id_opens_and_is_relabelled() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("brain.db");
    let queue = open(&Db::Sqlite(path.clone()), QueueConfig::default()).await;
    let e = queue
        .enqueue(NewJob::new("test:echo", json!("old")))
        .await
        .unwrap();
    drop(queue);
    wait_closed(&path).await;
    let application_id = |path: &Path| -> i32 {
        rusqlite::Connection::open(path)
            .unwrap()
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .unwrap()
    };
    let ours = application_id(&path);
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "application_id", 0x4252_4E53)
        .unwrap();

    let queue = open(&Db::Sqlite(path.clone()), QueueConfig::default()).await;
    let record = queue.job(&e.id).await.unwrap().expect("the job survived");
    assert_eq!(record.input, json!("old"));
    assert_eq!(application_id(&path), ours);
    assert_ne!(ours, 0x4252_4E53);
}
