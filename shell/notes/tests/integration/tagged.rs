//! Notes by tag: case-insensitive, newest first.

use crate::support::Brain;

#[test]
fn lists_notes_with_a_tag_newest_first_then_by_path() {
    let brain = Brain::new();
    let dated = |title: &str, tags: &str, date: Option<&str>| {
        let date = date.map(|d| format!("date: {d}\n")).unwrap_or_default();
        format!("---\ntitle: {title}\ntags: {tags}\n{date}---\nSummary of {title} here. More.\n")
    };
    brain.write("old.md", &dated("Old", "[Rust]", Some("2023-01-05")));
    brain.write(
        "new-b.md",
        &dated("New B", "[rust, web]", Some("2024-03-01")),
    );
    brain.write("new-a.md", &dated("New A", "rust", Some("2024-03-01")));
    brain.write("undated.md", &dated("Undated", "[RUST]", None));
    brain.write("other.md", &dated("Other", "[web]", Some("2025-01-01")));
    brain.write(
        "rustacean.md",
        &dated("Prefix", "[rustacean]", Some("2025-01-01")),
    );
    brain.reindex();

    let hits = brain.index.tagged("rust", 10).unwrap();
    let paths: Vec<_> = hits.iter().map(|h| h.path.as_str()).collect();
    assert_eq!(paths, ["new-a.md", "new-b.md", "old.md", "undated.md"]);
    assert_eq!(hits[0].summary, "Summary of New A here.");
    assert_eq!(hits[0].snippet, hits[0].summary);
    assert_eq!(hits[0].score, 0.0);
    assert_eq!(hits[1].tags, ["rust", "web"]);

    assert_eq!(brain.index.tagged("RuSt", 10).unwrap().len(), 4);
    assert_eq!(brain.index.tagged("#rust", 10).unwrap().len(), 4);
    assert_eq!(brain.index.tagged("rust", 2).unwrap().len(), 2);
    assert!(brain.index.tagged("rust", 0).unwrap().is_empty());
    assert!(brain.index.tagged("", 10).unwrap().is_empty());
    assert!(brain.index.tagged("nothing", 10).unwrap().is_empty());

    // Tags follow edits and deletions.
    brain.write("old.md", &dated("Old", "[go]", Some("2023-01-05")));
    brain.remove("undated.md");
    brain.reindex();
    let paths: Vec<_> = brain
        .index
        .tagged("rust", 10)
        .unwrap()
        .into_iter()
        .map(|h| h.path)
        .collect();
    assert_eq!(paths, ["new-a.md", "new-b.md"]);
    assert_eq!(brain.index.tagged("go", 10).unwrap()[0].path, "old.md");
}

#[test]
fn non_ascii_tags_fold_case() {
    let brain = Brain::new();
    brain.write("a.md", "---\ntags: [Ärger, ÉTÉ]\n---\nText.\n");
    brain.reindex();
    assert_eq!(brain.index.tagged("ärger", 10).unwrap().len(), 1);
    assert_eq!(brain.index.tagged("été", 10).unwrap().len(), 1);
}
