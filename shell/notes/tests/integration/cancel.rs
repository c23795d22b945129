//! Cancelling a refresh: it stops between files, keeps what it finished, and a later
//! refresh completes the work.

use std::cell::Cell;

use brain_notes::NotesError;

use crate::support::Brain;

#[test]
fn cancellation_stops_and_a_later_refresh_completes() {
    let brain = Brain::new();
    let total = 1200;
    for i in 0..total {
        brain.write(&format!("n{i:04}.md"), &format!("Note number {i}.\n"));
    }
    let polls = Cell::new(0u64);
    let error = brain
        .index
        .reindex(&mut |_, _, _| {}, &|| {
            polls.set(polls.get() + 1);
            polls.get() > 700
        })
        .unwrap_err();
    assert!(matches!(error, NotesError::Cancelled), "{error}");
    let kept = brain.index.count().unwrap();
    assert!(kept <= 700, "at most the files before the cancel: {kept}");

    let report = brain.reindex();
    assert_eq!(report.added + report.unchanged, total);
    assert_eq!(report.unchanged, kept, "finished work was kept");
    assert_eq!(brain.index.count().unwrap(), total);
}

#[test]
fn cancelling_before_the_first_file_changes_nothing() {
    let brain = Brain::new();
    brain.write("a.md", "Text.\n");
    let error = brain
        .index
        .reindex(&mut |_, _, _| {}, &|| true)
        .unwrap_err();
    assert!(matches!(error, NotesError::Cancelled), "{error}");
    assert_eq!(brain.index.count().unwrap(), 0);
    assert_eq!(brain.reindex().added, 1);
}
