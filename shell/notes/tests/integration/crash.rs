//! A process that dies mid-refresh (no unwinding, no rollback) leaves an index whose
//! full-text table agrees with its notes table; the next refresh finishes the work.

use std::process::{Command, Stdio};

use brain_notes::NotesIndex;
use rusqlite::Connection;

use crate::support::Brain;

const DB: &str = "BRAIN_NOTES_CRASH_DB";
const NOTES: &str = "BRAIN_NOTES_CRASH_NOTES";
const TOTAL: u64 = 1600;
const CRASH_AT: u64 = 1300;

/// The refresh the parent's child process runs and aborts. Returns at once in a normal
/// test run.
#[test]
fn child_entry() {
    let (Some(db), Some(notes)) = (std::env::var_os(DB), std::env::var_os(NOTES)) else {
        return;
    };
    let index = NotesIndex::open(db.as_ref(), notes.as_ref()).unwrap();
    let _ = index.reindex(
        &mut |current, _, _| {
            if current >= CRASH_AT {
                std::process::abort();
            }
        },
        &|| false,
    );
    unreachable!("the refresh crashes before it ends");
}

#[test]
fn a_crash_mid_refresh_leaves_a_consistent_index() {
    let brain = Brain::new();
    for i in 0..TOTAL {
        brain.write(
            &format!("n{i:04}.md"),
            &format!("# Note {i}\n\nNumber {i} text.\n"),
        );
    }
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash::child_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DB, &brain.db)
        .env(NOTES, &brain.notes)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success(), "the child crashed");

    let committed = brain.index.count().unwrap();
    assert!(
        committed > 0 && committed < CRASH_AT,
        "{committed} notes committed"
    );
    let conn = Connection::open(&brain.db).unwrap();
    conn.execute(
        "INSERT INTO notes_fts (notes_fts, rank) VALUES ('integrity-check', 1)",
        [],
    )
    .unwrap();
    drop(conn);

    let report = brain.reindex();
    assert_eq!(
        (report.added, report.unchanged),
        (TOTAL - committed, committed)
    );
    assert_eq!(brain.index.count().unwrap(), TOTAL);
    assert_eq!(
        brain.index.search("number", usize::MAX).unwrap().len() as u64,
        TOTAL
    );
}
