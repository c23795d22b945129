//! The notes tools: search and query through the real index and the local generator, and
//! the indexing job.

use std::time::Duration;

use brain_plugin_api::{Caller, Permission, Source, ToolContext};
use serde_json::json;

use crate::support::*;

/// Someone in a Matrix room: public tools only.
fn public() -> Caller {
    Caller::new(
        Source::with_detail("matrix", "!r:x").unwrap(),
        Permission::Public,
    )
}

fn write_notes(brain: &Brain) {
    let notes = brain.dir.path().join("notes");
    std::fs::create_dir_all(&notes).unwrap();
    std::fs::write(
        notes.join("gardening.md"),
        "---\ntitle: Gardening log\ntags: [garden]\n---\nTomatoes need sun. Water them at dawn.\n",
    )
    .unwrap();
    std::fs::write(
        notes.join("rust.md"),
        "# Rust notes\n\nOwnership makes memory safe without a collector.\n",
    )
    .unwrap();
    std::fs::write(
        notes.join("broken.md"),
        "---\ntitle: [unclosed\n---\nbody\n",
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_and_query_read_fresh_notes() {
    let brain = Brain::new("");
    write_notes(&brain);
    let shell = brain.shell(vec![]).await.unwrap();
    let public = public();

    let found = shell
        .execute(
            "search",
            json!({"query": "tomatoes"}),
            ToolContext::new(public.clone()),
        )
        .await
        .unwrap();
    let notes = found.structured["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 1, "{}", found.structured);
    assert_eq!(notes[0]["title"], "Gardening log");
    assert!(
        notes[0]["snippet"].as_str().unwrap().contains("[Tomatoes]"),
        "{}",
        notes[0]
    );

    // A note written after the first search is found too: searches refresh the index.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    std::fs::write(
        brain.dir.path().join("notes/bees.md"),
        "# Bees\n\nBees like tomatoes flowers.\n",
    )
    .unwrap();
    let found = shell
        .execute(
            "search",
            json!({"query": "bees"}),
            ToolContext::new(public.clone()),
        )
        .await
        .unwrap();
    assert_eq!(
        found.structured["notes"][0]["title"], "Bees",
        "{}",
        found.structured
    );

    // query is for trusted callers, answers from the best notes and cites them.
    let err = shell
        .execute(
            "query",
            json!({"question": "what about ownership?"}),
            ToolContext::new(public.clone()),
        )
        .await;
    assert!(err.is_err());
    let answer = shell
        .execute(
            "query",
            json!({"question": "ownership"}),
            ToolContext::new(Caller::cli()),
        )
        .await
        .unwrap();
    assert!(answer.text.contains("Rust notes"), "{}", answer.text);
    assert_eq!(answer.structured["sources"][0]["path"], "rust.md");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_job_reports_progress_and_skips_broken_notes() {
    let brain = Brain::new("");
    write_notes(&brain);
    let shell = brain.shell(vec![]).await.unwrap();
    shell.start_workers().await.unwrap();
    let started = shell
        .execute("notes_index", json!({}), ToolContext::new(Caller::cli()))
        .await
        .unwrap();
    let id = started.structured["jobId"].as_str().unwrap().to_owned();
    let mut watch = shell.queue().watch(&id).await.unwrap();
    let mut last = None;
    while let Some(event) = tokio::time::timeout(Duration::from_secs(30), watch.next())
        .await
        .unwrap()
    {
        last = Some(event);
    }
    let last = last.unwrap();
    assert_eq!(
        last.status,
        brain_plugin_api::JobStatus::Completed,
        "{last:?}"
    );
    let report = last.result.unwrap();
    assert_eq!(report["skipped"][0]["path"], "broken.md", "{report}");
    assert_eq!(report["scanned"], 3, "{report}");
    shell.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_names_the_links_it_did_not_follow() {
    let brain = Brain::new("");
    write_notes(&brain);
    // A file outside the brain folder, linked from the notes folder: public search must not
    // serve it, and says it did not look at it.
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(
        outside.path().join("secret.md"),
        "# Secret\n\nThe tomatoes code.\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("secret.md"),
        brain.dir.path().join("notes/secret.md"),
    )
    .unwrap();
    let shell = brain.shell(vec![]).await.unwrap();
    let public = public();
    let found = shell
        .execute(
            "search",
            json!({"query": "tomatoes"}),
            ToolContext::new(public.clone()),
        )
        .await
        .unwrap();
    let titles: Vec<_> = found.structured["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Gardening log"], "{}", found.structured);
    assert_eq!(found.structured["linksNotSearched"], json!(["secret.md"]));
    assert!(
        found
            .text
            .contains("Not searched: secret.md (links to files outside the notes folder"),
        "{}",
        found.text
    );
}

/// Each database file has its own identity: the job queue refuses the notes index and the
/// notes index refuses the job database, though both are brains files, and both still open
/// as themselves with what they held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_job_database_and_the_notes_index_refuse_each_others_file() {
    use brain_job_queue::{NewJob, Queue, QueueConfig, QueueError};
    use brain_notes::{NotesError, NotesIndex};
    use brain_plugin_api::engine::Bus;

    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes");
    std::fs::create_dir(&notes).unwrap();
    std::fs::write(notes.join("a.md"), "# A\n\nkeep me\n").unwrap();
    let (jobs_db, notes_db) = (dir.path().join("brain.db"), dir.path().join("notes.db"));
    let queue = Queue::open(&jobs_db, QueueConfig::default(), Bus::new()).unwrap();
    queue.register("test:kept", Double).unwrap();
    let job = queue
        .enqueue(NewJob::new("test:kept", json!(1)))
        .await
        .unwrap();
    let index = NotesIndex::open(&notes_db, &notes).unwrap();
    index.reindex(&mut |_, _, _| {}, &|| false).unwrap();

    match Queue::open(&notes_db, QueueConfig::default(), Bus::new()) {
        Err(QueueError::ForeignDatabase { .. }) => {}
        Err(other) => panic!("the queue opened the notes index with: {other}"),
        Ok(_) => panic!("the queue took the notes index as its database"),
    }
    let err = NotesIndex::open(&jobs_db, &notes).err();
    assert!(
        matches!(err, Some(NotesError::ForeignDatabase { .. })),
        "{err:?}"
    );

    let again = Queue::open(&jobs_db, QueueConfig::default(), Bus::new()).unwrap();
    assert!(again.job(&job.id).await.unwrap().is_some());
    assert_eq!(
        NotesIndex::open(&notes_db, &notes)
            .unwrap()
            .count()
            .unwrap(),
        1
    );
}
