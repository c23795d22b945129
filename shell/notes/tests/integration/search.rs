//! Full-text search: ranking, snippets, the AND-then-OR fallback, and user text that must
//! never be an FTS5 syntax error.

use proptest::prelude::*;

use crate::support::{Brain, note};

fn sample() -> Brain {
    let brain = Brain::new();
    brain.write(
        "body-only.md",
        &note(
            "Weekly groceries",
            &["home"],
            "Bought bread and milk. Later I read a chapter about ownership in Rust and \
             thought about borrowing.",
        ),
    );
    brain.write(
        "ideas/rust.md",
        &note(
            "Rust ownership",
            &["programming"],
            "Notes on moving values around.",
        ),
    );
    brain.write(
        "tagged.md",
        &note("Garden plans", &["rust", "garden"], "Tomatoes need sun."),
    );
    brain.write(
        "cafe.md",
        &note(
            "Café list",
            &[],
            "The best café in town serves crème brûlée.",
        ),
    );
    brain.write("python.md", &note("Python", &[], "Snakes and scripts."));
    brain.reindex();
    brain
}

#[test]
fn a_title_match_outranks_a_body_only_match() {
    let brain = sample();
    let hits = brain.index.search("ownership", 10).unwrap();
    let paths: Vec<_> = hits.iter().map(|h| h.path.as_str()).collect();
    assert_eq!(paths, ["ideas/rust.md", "body-only.md"]);
    assert!(
        hits[0].score > hits[1].score && hits[1].score > 0.0,
        "{hits:?}"
    );
    assert_eq!(hits[0].title, "Rust ownership");
    assert_eq!(hits[0].tags, ["programming"]);
    assert_eq!(hits[0].summary, "Notes on moving values around.");
}

#[test]
fn tags_are_searchable_and_rank_between_title_and_body() {
    let brain = sample();
    let hits = brain.index.search("rust", 10).unwrap();
    let paths: Vec<_> = hits.iter().map(|h| h.path.as_str()).collect();
    assert_eq!(paths, ["ideas/rust.md", "tagged.md", "body-only.md"]);
}

#[test]
fn snippets_mark_the_matched_words() {
    let brain = sample();
    let hits = brain.index.search("borrow", 10).unwrap();
    assert_eq!(hits.len(), 1);
    assert!(
        hits[0].snippet.contains("[borrowing]"),
        "{}",
        hits[0].snippet
    );
    let hits = brain.index.search("bread milk", 10).unwrap();
    assert!(
        hits[0].snippet.contains("[bread]") && hits[0].snippet.contains("[milk]"),
        "{}",
        hits[0].snippet
    );
}

#[test]
fn words_are_prefixes_and_diacritics_are_ignored() {
    let brain = sample();
    assert_eq!(brain.index.search("owner", 10).unwrap().len(), 2);
    assert_eq!(
        brain.index.search("cafe creme", 10).unwrap()[0].path,
        "cafe.md"
    );
    assert_eq!(brain.index.search("CAFÉ", 10).unwrap()[0].path, "cafe.md");
}

#[test]
fn all_words_are_required_unless_no_note_has_them_all() {
    let brain = sample();
    let hits = brain.index.search("rust borrowing", 10).unwrap();
    assert_eq!(hits.len(), 1, "AND: only the note with both words");
    assert_eq!(hits[0].path, "body-only.md");
    let hits = brain.index.search("snakes tomatoes", 10).unwrap();
    let mut paths: Vec<_> = hits.iter().map(|h| h.path.as_str()).collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        ["python.md", "tagged.md"],
        "OR when AND finds nothing"
    );
}

#[test]
fn limits_are_respected() {
    let brain = sample();
    assert_eq!(brain.index.search("rust", 2).unwrap().len(), 2);
    assert!(brain.index.search("rust", 0).unwrap().is_empty());
    assert_eq!(brain.index.search("rust", usize::MAX).unwrap().len(), 3);
}

#[test]
fn odd_queries_never_fail() {
    let brain = sample();
    let long = "rust ".repeat(1000);
    for query in [
        "",
        " ",
        "\"",
        "\"\"",
        "'",
        "*",
        "**",
        "AND",
        "OR",
        "NOT",
        "rust AND",
        "AND rust",
        "NEAR(",
        "NEAR(rust garden, 2)",
        "-",
        "-rust",
        "+rust",
        "rust*",
        "^rust",
        "title:rust",
        "{title}: rust",
        "(",
        ")",
        "()",
        "[rust]",
        "\\",
        "\0",
        "rust\0garden",
        "a:b:c",
        "🦀",
        "日本語",
        "\u{301}",
        "\u{93e}",
        "ा",
        "e\u{301}",
        "ǅ",
        "\u{200b}",
        "٣",
        "Ⅻ",
        &long,
    ] {
        let result = brain.index.search(query, 5);
        assert!(result.is_ok(), "{query:?}: {}", result.unwrap_err());
    }
    assert!(brain.index.search("", 5).unwrap().is_empty());
    assert!(brain.index.search("\"*-", 5).unwrap().is_empty());
    assert_eq!(
        brain.index.search("AND", 5).unwrap().len(),
        2,
        "matches the word `and`"
    );
    assert_eq!(
        brain.index.search("NEAR(garden", 5).unwrap()[0].path,
        "tagged.md"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn any_text_is_a_valid_query(query in any::<String>()) {
        let brain = SAMPLE.with(|brain| brain.index.clone());
        prop_assert!(brain.search(&query, 5).is_ok());
    }

    #[test]
    fn any_fts_looking_text_is_a_valid_query(
        query in "[a-z \"*()\\-+:^{}.,'NEARORANDOT0-9]{0,40}",
    ) {
        let brain = SAMPLE.with(|brain| brain.index.clone());
        prop_assert!(brain.search(&query, 5).is_ok());
    }
}

thread_local! {
    // One sample per test thread: building it per case would dominate the run time.
    static SAMPLE: Brain = sample();
}

/// A journal of `megabytes` MB: filler paragraphs, with "zeppelin" once near the start and
/// "walrus" once at the very end.
fn journal(megabytes: usize) -> String {
    let paragraph = "Another day of ordinary notes about meetings, errands and small plans.\n";
    let mut body = String::from("Start. The zeppelin flew over the harbour.\n");
    while body.len() < megabytes << 20 {
        body.push_str(paragraph);
    }
    body.push_str("Finally a walrus appeared.\n");
    note("Journal", &["daily"], &body)
}

/// The size: a 50 MB journal (its search time is printed by `notes-bench`).
#[test]
fn a_large_note_gets_a_bounded_snippet() {
    let brain = sample();
    brain.write("journal.md", &journal(50));
    brain.reindex();

    let hits = brain.index.search("zeppelin", 10).unwrap();
    assert_eq!(hits.len(), 1);
    assert!(
        hits[0].snippet.contains("The [zeppelin] flew"),
        "{}",
        hits[0].snippet
    );
    assert!(hits[0].snippet.len() < 400, "{}", hits[0].snippet);

    // Found by the index, but beyond the text a search reads for snippets (1 MB): the
    // snippet is the note's opening, still short.
    let hits = brain.index.search("walrus", 10).unwrap();
    assert_eq!(hits.len(), 1);
    assert!(
        hits[0].snippet.starts_with("Start. The zeppelin"),
        "{}",
        hits[0].snippet
    );
    assert!(hits[0].snippet.ends_with('…') && hits[0].snippet.len() < 400);

    // A word in every paragraph: still one short window.
    let hits = brain.index.search("errands", 10).unwrap();
    assert!(hits[0].snippet.contains("[errands]"), "{}", hits[0].snippet);
    assert!(hits[0].snippet.len() < 400);

    // The whole text is kept, in order, for whoever reads the note.
    let note = brain.index.get("journal.md").unwrap().unwrap();
    assert!(note.body.starts_with("Start. The zeppelin"));
    assert!(note.body.trim_end().ends_with("Finally a walrus appeared."));
    assert!(note.body.len() > 50 << 20);
    assert!(note.body.len() < 51 << 20);
}

#[test]
fn a_match_near_the_end_of_a_small_note_is_in_its_snippet() {
    let brain = Brain::new();
    // Over one stored chunk (16 KB), under the snippet budget.
    let body = "Filler words here. ".repeat(2000) + "The answer is forty-two.";
    brain.write("long.md", &note("Long", &[], &body));
    brain.reindex();
    let hits = brain.index.search("answer", 10).unwrap();
    assert!(
        hits[0].snippet.contains("The [answer] is"),
        "{}",
        hits[0].snippet
    );
    assert!(hits[0].snippet.starts_with('…') && !hits[0].snippet.ends_with('…'));
}

#[test]
fn title_and_tag_matches_are_marked_when_the_body_has_none() {
    let brain = sample();
    let hits = brain.index.search("ownership", 10).unwrap();
    assert_eq!(hits[0].path, "ideas/rust.md");
    assert_eq!(hits[0].snippet, "Rust [ownership]");
    let hits = brain.index.search("garden", 10).unwrap();
    assert_eq!(hits[0].snippet, "[Garden] plans");
}
