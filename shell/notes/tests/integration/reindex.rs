//! Refreshing: what is found, what is re-read, and what the report counts.

use std::time::{Duration, Instant};

use brain_notes::{IndexReport, NotesError, SkippedNote};
use rusqlite::Connection;
use serde_json::json;

use crate::support::{Brain, note};

/// Checks the full-text index against the notes table.
fn assert_fts_consistent(brain: &Brain) {
    let conn = Connection::open(&brain.db).unwrap();
    conn.execute(
        "INSERT INTO notes_fts (notes_fts, rank) VALUES ('integrity-check', 1)",
        [],
    )
    .unwrap();
    let fts_rows: i64 = conn
        .query_row("SELECT count(*) FROM notes_fts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(fts_rows as u64, brain.index.count().unwrap());
}

fn counts(report: &IndexReport) -> (u64, u64, u64, u64, u64) {
    (
        report.scanned,
        report.added,
        report.updated,
        report.removed,
        report.unchanged,
    )
}

#[test]
fn refreshes_incrementally() {
    let brain = Brain::new();
    let n = 5;
    for i in 0..n {
        brain.write(
            &format!("n{i}.md"),
            &note(&format!("Note {i}"), &["t"], &format!("Body {i} original.")),
        );
        brain.set_mtime(&format!("n{i}.md"), 0);
    }
    let first = brain.reindex();
    assert_eq!(counts(&first), (n, n, 0, 0, 0));
    assert!(first.skipped.is_empty());

    // (scanned, added, updated, removed, unchanged)
    assert_eq!(
        counts(&brain.reindex()),
        (n, 0, 0, 0, n),
        "a second pass changes nothing"
    );

    // Same size, same mtime, different bytes: a stat-only pass cannot see it, which shows
    // unchanged files are not read at all.
    brain.write("n0.md", &note("Note 0", &["t"], "Body 0 REPLACED."));
    brain.set_mtime("n0.md", 0);
    assert_eq!(counts(&brain.reindex()), (n, 0, 0, 0, n));
    assert!(
        brain
            .index
            .get("n0.md")
            .unwrap()
            .unwrap()
            .body
            .contains("original")
    );
    brain.write("n0.md", &note("Note 0", &["t"], "Body 0 original."));
    brain.set_mtime("n0.md", 0);

    // Touched: read and hashed, found equal, not re-parsed.
    brain.set_mtime("n1.md", 60);
    assert_eq!(counts(&brain.reindex()), (n, 0, 0, 0, n));
    assert_eq!(
        counts(&brain.reindex()),
        (n, 0, 0, 0, n),
        "the new mtime was stored"
    );

    brain.write(
        "n2.md",
        &note("Note 2 renamed", &["t", "new"], "Changed body."),
    );
    assert_eq!(counts(&brain.reindex()), (n, 0, 1, 0, n - 1));
    let changed = brain.index.get("n2.md").unwrap().unwrap();
    assert_eq!(changed.title, "Note 2 renamed");
    assert_eq!(changed.tags, ["t", "new"]);
    assert_eq!(brain.index.search("renamed", 10).unwrap()[0].path, "n2.md");
    assert!(
        brain
            .index
            .search("original", 10)
            .unwrap()
            .iter()
            .all(|h| h.path != "n2.md")
    );

    brain.remove("n3.md");
    assert_eq!(counts(&brain.reindex()), (n - 1, 0, 0, 1, n - 1));
    assert_eq!(brain.index.get("n3.md").unwrap(), None);
    assert!(
        brain
            .index
            .search("Note 3", 10)
            .unwrap()
            .iter()
            .all(|h| h.path != "n3.md")
    );

    brain.write("sub/added.md", "# Added\n\nA new note.\n");
    assert_eq!(counts(&brain.reindex()), (n, 1, 0, 0, n - 1));
    assert_eq!(brain.index.count().unwrap(), n);
    assert_fts_consistent(&brain);
}

#[test]
fn a_broken_note_is_skipped_and_reported_while_the_others_are_indexed() {
    let brain = Brain::new();
    brain.write("good.md", &note("Good", &[], "Fine."));
    brain.write("ideas/also-good.md", "No frontmatter at all.\n");
    brain.write(
        "ideas/broken.md",
        "---\ntitle: Broken\ntags: [a, b\nmore: x\n---\nBody.\n",
    );
    let report = brain.reindex();
    assert_eq!((report.added, report.removed), (2, 0));
    assert_eq!(report.skipped.len(), 1, "{report:?}");
    let SkippedNote { path, error } = &report.skipped[0];
    assert_eq!(path, "ideas/broken.md");
    assert!(
        error.contains("line 4"),
        "the error names the line: {error}"
    );
    assert_eq!(brain.index.count().unwrap(), 2);

    // Still broken and unchanged: reported again, so it is not forgotten.
    assert_eq!(brain.reindex().skipped.len(), 1);

    // A note that breaks loses its indexed version.
    brain.write("good.md", "---\ntitle: [unclosed\n---\nFine.\n");
    let report = brain.reindex();
    assert_eq!(
        (report.updated, report.removed, report.skipped.len()),
        (0, 1, 2)
    );
    assert_eq!(brain.index.get("good.md").unwrap(), None);
    assert!(brain.index.search("fine", 10).unwrap().is_empty());

    brain.write("good.md", &note("Good again", &[], "Fine."));
    brain.write("ideas/broken.md", &note("Fixed", &[], "Body."));
    let report = brain.reindex();
    assert_eq!((report.added, report.skipped.len()), (2, 0));
    assert_fts_consistent(&brain);
}

#[test]
fn a_note_that_is_not_utf8_is_skipped_with_its_line() {
    let brain = Brain::new();
    std::fs::write(brain.path("latin1.md"), b"line one\ncaf\xe9\n").unwrap();
    brain.write("ok.md", "Fine.\n");
    let report = brain.reindex();
    assert_eq!(report.added, 1);
    assert_eq!(report.skipped.len(), 1);
    assert_eq!(report.skipped[0].path, "latin1.md");
    assert!(
        report.skipped[0].error.contains("UTF-8"),
        "{:?}",
        report.skipped
    );
    assert!(
        report.skipped[0].error.contains("line 2"),
        "{:?}",
        report.skipped
    );
}

#[test]
fn finds_markdown_recursively_and_skips_hidden_folders() {
    let brain = Brain::new();
    for file in [
        "a.md",
        "sub/deeper/b.MD",
        "sub/c.Md",
        ".obsidian/hidden.md",
        "sub/.git/objects.md",
        ".hidden-file.md",
        "readme.txt",
        "image.md.png",
    ] {
        brain.write(file, "Text.\n");
    }
    std::fs::create_dir_all(brain.path("folder.md")).unwrap();
    let report = brain.reindex();
    assert_eq!(report.scanned, 3, "{report:?}");
    for path in ["a.md", "sub/deeper/b.MD", "sub/c.Md"] {
        assert!(brain.index.get(path).unwrap().is_some(), "{path}");
    }
}

#[test]
fn get_returns_the_parsed_note() {
    let brain = Brain::new();
    brain.write(
        "ideas/rust.md",
        "---\ntitle: Rust\ntags: rust, ideas\ndate: 2024-05-01\nextra: {a: 1}\n---\n# Heading\n\nRust is *fast*. Really.\n",
    );
    brain.reindex();
    let note = brain.index.get("ideas/rust.md").unwrap().unwrap();
    assert_eq!(note.path, "ideas/rust.md");
    assert_eq!(note.title, "Rust");
    assert_eq!(note.tags, ["rust", "ideas"]);
    assert_eq!(note.date.as_deref(), Some("2024-05-01"));
    assert_eq!(note.summary, "Rust is fast.");
    assert_eq!(note.body, "# Heading\n\nRust is *fast*. Really.\n");
    assert_eq!(
        note.frontmatter,
        json!({"title": "Rust", "tags": "rust, ideas", "date": "2024-05-01", "extra": {"a": 1}})
    );
    assert_eq!(brain.index.get("ideas/missing.md").unwrap(), None);
}

#[test]
fn reports_progress_at_a_limited_rate() {
    let brain = Brain::new();
    let total = 230;
    for i in 0..total {
        brain.write(&format!("n{i:03}.md"), "Text.\n");
    }
    let mut calls = Vec::new();
    brain
        .index
        .reindex(
            &mut |current, total, message| {
                calls.push((current, total, message.to_owned(), Instant::now()));
            },
            &|| false,
        )
        .unwrap();
    let shown = || {
        calls
            .iter()
            .map(|(current, ..)| *current)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        (calls[0].0, calls[0].1, calls[0].2.as_str()),
        (0, total, "Indexing n000.md")
    );
    let (last, reports) = calls.split_last().unwrap();
    assert_eq!((last.0, last.1), (total, total));
    assert_eq!(last.2, format!("Indexed {total} notes"));
    for (current, count, message, _) in reports {
        assert_eq!(*count, total);
        assert_eq!(message, &format!("Indexing n{current:03}.md"));
    }
    // The rule itself, not a count: a machine slow enough to take 100 ms per few files
    // legitimately gets more reports. Between two reports before the final one, either
    // 50 files passed (exactly: the report is due at the 50th) or, with fewer, at least
    // 100 ms did — the throttle stamps a report after the callback returns, so the next
    // callback starts at least 100 ms after this one started. No gap is ever wider than
    // 50 files, so reports keep coming on a fast machine too.
    for pair in reports.windows(2) {
        let ((from, .., at), (to, .., next_at)) = (&pair[0], &pair[1]);
        let files = *to as i64 - *from as i64;
        let waited = next_at.duration_since(*at);
        assert!(
            files == 50 || ((1..50).contains(&files) && waited >= Duration::from_millis(100)),
            "report at {to} came {files} files and {waited:?} after the one at {from}: {:?}",
            shown()
        );
    }
    // Nor does the final report follow a silence of more than 50 files.
    let last_report = reports.last().unwrap().0;
    assert!(
        total - last_report <= 50,
        "no report between file {last_report} and the end: {:?}",
        shown()
    );
}

#[test]
fn a_missing_notes_folder_is_an_error_naming_it() {
    let brain = Brain::new();
    std::fs::remove_dir(&brain.notes).unwrap();
    let error = brain
        .index
        .reindex(&mut |_, _, _| {}, &|| false)
        .unwrap_err();
    assert!(matches!(error, NotesError::Io { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains(&brain.notes.display().to_string()),
        "{error}"
    );
}

#[test]
fn the_report_serializes_for_job_results() {
    let brain = Brain::new();
    brain.write("bad.md", "---\na: [\n---\n");
    let report = serde_json::to_value(brain.reindex()).unwrap();
    assert_eq!(report["scanned"], 1);
    assert_eq!(report["skipped"][0]["path"], "bad.md");
    assert!(
        report["skipped"][0]["error"]
            .as_str()
            .unwrap()
            .contains("line")
    );
}
