//! Opening: new files are created, the index survives reopening, and files that are not a
//! notes index (or a newer one) are refused without being modified.

use std::fs;

use brain_notes::{NotesError, NotesIndex};
use rusqlite::Connection;

use crate::support::{Brain, bytes, note};

/// Opens `db` expecting an error, and checks the file and its directory are unchanged.
#[track_caller]
fn refused(db: &std::path::Path) -> NotesError {
    let before = bytes(db);
    let files_before = fs::read_dir(db.parent().unwrap()).unwrap().count();
    let notes = db.parent().unwrap().join("notes");
    let error = NotesIndex::open(db, &notes).unwrap_err();
    assert!(
        error.to_string().contains(&db.display().to_string()),
        "the error names the file: {error}"
    );
    assert_eq!(bytes(db), before, "{} was modified", db.display());
    let files_after = fs::read_dir(db.parent().unwrap()).unwrap().count();
    assert_eq!(
        files_after, files_before,
        "no -wal or -shm file was created"
    );
    error
}

#[test]
fn refuses_a_file_that_is_not_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in [
        ("notes.txt", &b"hello, these are my notes\n"[..]),
        ("short.db", b"SQLite"),
        ("binary.db", &[0u8; 4096]),
    ] {
        let db = dir.path().join(name);
        fs::write(&db, content).unwrap();
        let error = refused(&db);
        assert!(matches!(error, NotesError::NotADatabase { .. }), "{error}");
    }
}

#[test]
fn refuses_another_applications_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("other.db");
    Connection::open(&db)
        .unwrap()
        .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    let error = refused(&db);
    assert!(
        matches!(
            error,
            NotesError::ForeignDatabase {
                application_id: 0,
                ..
            }
        ),
        "{error}"
    );

    let tagged = dir.path().join("tagged.db");
    Connection::open(&tagged)
        .unwrap()
        .pragma_update(None, "application_id", 0x1234)
        .unwrap();
    let error = refused(&tagged);
    assert!(
        matches!(
            error,
            NotesError::ForeignDatabase {
                application_id: 0x1234,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn refuses_the_job_database() {
    // Same application id as every brains database, but versioned without a notes table.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("brain.db");
    Connection::open(&db)
        .unwrap()
        .execute_batch(
            "PRAGMA application_id = 0x42524E53; PRAGMA user_version = 1;
             CREATE TABLE jobs (seq INTEGER PRIMARY KEY);",
        )
        .unwrap();
    let error = refused(&db);
    assert!(
        matches!(error, NotesError::ForeignDatabase { .. }),
        "{error}"
    );
}

#[test]
fn refuses_a_newer_schema() {
    let brain = Brain::new();
    let db = brain.db.clone();
    drop(brain.index);
    let conn = Connection::open(&db).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let error = refused(&db);
    assert!(
        matches!(
            error,
            NotesError::NewerSchema {
                found: 99,
                supported: 2,
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("upgrade brains"), "{error}");
}

#[test]
fn creates_a_new_or_empty_file_and_keeps_the_index_across_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes");
    fs::create_dir(&notes).unwrap();
    fs::write(notes.join("a.md"), note("A", &["x"], "Alpha text.")).unwrap();
    let db = dir.path().join("empty.db");
    fs::write(&db, b"").unwrap();

    let index = NotesIndex::open(&db, &notes).unwrap();
    assert_eq!(index.notes_dir(), notes);
    assert_eq!(
        index.reindex(&mut |_, _, _| {}, &|| false).unwrap().added,
        1
    );
    drop(index);

    let index = NotesIndex::open(&db, &notes).unwrap();
    assert_eq!(index.count().unwrap(), 1);
    let report = index.reindex(&mut |_, _, _| {}, &|| false).unwrap();
    assert_eq!((report.unchanged, report.added), (1, 0));
    assert_eq!(index.search("alpha", 5).unwrap().len(), 1);
}

#[test]
fn the_index_is_cheap_to_share_between_threads() {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<NotesIndex>();

    let brain = Brain::new();
    for i in 0..50 {
        brain.write(
            &format!("n{i}.md"),
            &note(&format!("Note {i}"), &[], "shared words"),
        );
    }
    // Searches run beside a refresh (separate connections, WAL).
    let searcher = brain.index.clone();
    let search = std::thread::spawn(move || {
        for _ in 0..50 {
            searcher.search("shared", 10).unwrap();
        }
    });
    brain.reindex();
    search.join().unwrap();
    assert_eq!(brain.index.count().unwrap(), 50);
}

#[test]
fn an_index_of_the_previous_schema_is_rebuilt_from_the_notes() {
    let brain = Brain::new();
    brain.write("a.md", &note("Alpha", &["x"], "Some zeppelin text."));
    let db = brain.db.clone();
    drop(brain.index);
    // A version 1 index (bodies in `notes`, external-content FTS) with a stale row.
    let conn = Connection::open(&db).unwrap();
    conn.execute_batch(
        "DROP TABLE notes_fts; DROP TABLE note_chunks; DROP TABLE notes;
         CREATE TABLE notes (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE,
             mtime_ns INTEGER NOT NULL, size INTEGER NOT NULL, hash BLOB NOT NULL,
             title TEXT NOT NULL, tags TEXT NOT NULL, tag_text TEXT NOT NULL, date TEXT,
             summary TEXT NOT NULL, body TEXT NOT NULL, frontmatter TEXT NOT NULL);
         CREATE VIRTUAL TABLE notes_fts USING fts5(title, tag_text, body,
             content = 'notes', content_rowid = 'id');
         INSERT INTO notes VALUES (1, 'gone.md', 0, 0, x'00', 'Gone', '[]', '', NULL, '',
             'old body', '{}');
         PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(conn);
    let index = NotesIndex::open(&db, &brain.notes).unwrap();
    assert_eq!(index.count().unwrap(), 0, "the old rows are dropped");
    let report = index.reindex(&mut |_, _, _| {}, &|| false).unwrap();
    assert_eq!(report.added, 1);
    let hits = index.search("zeppelin", 10).unwrap();
    assert_eq!(hits[0].path, "a.md");
    assert!(
        hits[0].snippet.contains("[zeppelin]"),
        "{}",
        hits[0].snippet
    );
}
