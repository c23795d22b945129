//! Notes become pages: published notes get pages with wikilinks, backlinks, tags,
//! collections, neighbours, feeds, the sitemap and the search index; private notes leave
//! no trace anywhere in the built site.

use std::path::Path;

use brain_plugin_api::NoteText;
use brain_site_builder::BuildOutput;
use serde_json::{Value, json};

use crate::support::{Brain, scaffold_site};

fn note(path: &str, frontmatter: Value, title: &str, tags: &[&str], body: &str) -> NoteText {
    NoteText {
        path: path.into(),
        title: title.into(),
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        date: frontmatter["date"].as_str().map(str::to_owned),
        // As the notes index writes it: a wikilink's shown text, never its target.
        summary: format!("About {title}."),
        body: body.into(),
        frontmatter,
        hash: "h".into(),
    }
}

/// A site with a blog collection, three public notes and two private ones.
fn garden() -> Brain {
    let mut site = scaffold_site();
    site["publish_tags"] = json!(["blog"]);
    site["collections"] = json!([{ "id": "blog", "tags": ["blog"] }]);
    Brain::with_notes(site, garden_notes())
}

fn garden_notes() -> Vec<NoteText> {
    vec![
        note(
            "bread.md",
            json!({"publish": true, "date": "2026-11-02"}),
            "Sourdough bread",
            &["baking", "product"],
            "# Sourdough bread\n\nA slow loaf. See [[First loaf]] and [[Secret recipe|the family way]].\n\nAlso [[diary]] <script>alert(1)</script>.",
        ),
        note(
            "blog/first.md",
            json!({"date": "2026-12-01"}),
            "First loaf",
            &["blog", "baking"],
            "The first loaf came out of the oven. Back to [bread](../bread.md).",
        ),
        note(
            "blog/second.md",
            json!({"date": "2026-12-05", "slug": "Loaf Two"}),
            "Second loaf",
            &["blog"],
            "Better crumb. [[First loaf]].",
        ),
        note(
            "secret.md",
            json!({}),
            "Secret recipe",
            &["hidden-tag"],
            "Zanzibar cardamom, never tell. [[Sourdough bread]] [[diary]]",
        ),
        note(
            "diary.md",
            json!({"publish": false, "date": "2026-12-06"}),
            "Private diary",
            &["blog"],
            "Quixotic thoughts about the neighbours.",
        ),
    ]
}

/// A build of the preview site, nothing generated first.
async fn rebuild(brain: &Brain) -> BuildOutput {
    serde_json::from_value(brain.build("preview").await.unwrap()).unwrap()
}

async fn built(brain: &Brain) -> BuildOutput {
    brain.generate_all().await;
    let result = brain.build("preview").await.unwrap();
    serde_json::from_value(result).unwrap()
}

#[tokio::test]
async fn published_notes_become_pages_with_links_tags_feeds_and_search() {
    let brain = garden();
    let out = built(&brain).await;
    // 2 routes, 3 notes, 2 collections, 3 tags (baking, blog, product), tags, search.
    assert_eq!((out.pages, out.notes), (12, 3), "{out:?}");
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);

    let bread = brain.read("dist/preview/notes/sourdough-bread/index.html");
    assert!(bread.contains("<h1>Sourdough bread</h1>"), "{bread}");
    assert_eq!(
        bread.matches("Sourdough bread</h1>").count(),
        1,
        "the note's own # title is not repeated"
    );
    assert!(
        bread.contains(r#"<a href="../../blog/first-loaf/index.html">First loaf</a>"#),
        "{bread}"
    );
    // A link to a private note keeps only the text the note chose to show, or says
    // "(unpublished note)": never the other note's name.
    assert!(
        bread.contains("the family way")
            && bread.contains("Also (unpublished note)")
            && !bread.contains("diary"),
        "{bread}"
    );
    assert!(
        !bread.contains("<script>alert"),
        "note text is escaped: {bread}"
    );
    assert!(
        bread.contains(r#"href="../../tags/baking/index.html">#baking</a>"#),
        "{bread}"
    );
    // Backlinks: from first loaf (which links with a relative .md link).
    let linked_from = &bread[bread.find("Linked from").expect("backlinks")..];
    assert!(
        linked_from.contains(r#"<a href="../../blog/first-loaf/index.html">First loaf</a>"#),
        "{linked_from}"
    );

    let second = brain.read("dist/preview/blog/loaf-two/index.html");
    let first = brain.read("dist/preview/blog/first-loaf/index.html");
    // The blog is newest first: second, then first.
    assert!(
        second.contains(r#"rel="next" href="../../blog/first-loaf/index.html""#),
        "{second}"
    );
    assert!(
        first.contains(r#"rel="prev" href="../../blog/loaf-two/index.html""#),
        "{first}"
    );
    assert!(
        first.contains("Linked from"),
        "second links to first: {first}"
    );

    let blog = brain.read("dist/preview/blog/index.html");
    let (at_second, at_first) = (
        blog.find("Second loaf").unwrap(),
        blog.find("First loaf").unwrap(),
    );
    assert!(at_second < at_first, "newest first: {blog}");
    assert!(blog.contains(r#"href="../blog/feed.xml""#), "{blog}");
    let feed = brain.read("dist/preview/blog/feed.xml");
    assert!(
        feed.contains("<feed xmlns=\"http://www.w3.org/2005/Atom\">"),
        "{feed}"
    );
    assert!(
        feed.contains("<link href=\"https://example.org/blog/loaf-two/\"/>"),
        "{feed}"
    );
    assert!(
        feed.contains("<updated>2026-12-05T00:00:00Z</updated>"),
        "{feed}"
    );

    let tag = brain.read("dist/preview/tags/baking/index.html");
    assert!(
        tag.contains("Sourdough bread") && tag.contains("First loaf"),
        "{tag}"
    );
    let tags = brain.read("dist/preview/tags/index.html");
    assert!(
        tags.contains("#baking") && tags.contains("2 notes"),
        "{tags}"
    );

    let sitemap = brain.read("dist/preview/sitemap.xml");
    for url in [
        "/notes/sourdough-bread",
        "/blog/loaf-two",
        "/blog",
        "/tags/baking",
        "/search",
    ] {
        assert!(
            sitemap.contains(&format!("https://example.org{url}</loc>")),
            "{url}: {sitemap}"
        );
    }
    let index: Value = serde_json::from_str(&brain.read("dist/preview/search.json")).unwrap();
    let entries = index.as_array().unwrap();
    assert_eq!(entries.len(), 3);
    let first_entry = entries.iter().find(|e| e["t"] == "First loaf").unwrap();
    assert_eq!(first_entry["u"], "blog/first-loaf/index.html");
    assert!(
        first_entry["x"]
            .as_str()
            .unwrap()
            .contains("came out of the oven")
    );
    assert!(brain.exists("dist/preview/search.js"));
    let search = brain.read("dist/preview/search/index.html");
    assert!(
        search.contains(r#"<script src="../search.js" data-root="../" defer></script>"#),
        "{search}"
    );

    // Every page's navigation lists the collections with notes, and search.
    let home = brain.read("dist/preview/index.html");
    for entry in [
        r#"href="./blog/index.html">Blog<"#,
        r#"href="./notes/index.html">Notes<"#,
        r#"href="./search/index.html">Search<"#,
    ] {
        assert!(home.contains(entry), "{entry}: {home}");
    }
}

/// Every file under `dir`, as (path, text).
fn files(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
                found.push((path.display().to_string(), text));
            }
        }
    }
    found
}

#[tokio::test]
async fn nothing_of_a_private_note_reaches_the_site() {
    let brain = garden();
    built(&brain).await;
    let site = files(&brain.path("dist/preview"));
    assert!(site.len() > 10, "{} files", site.len());
    // Titles, words of their text, a tag only they carry, their file names and slugs.
    for private in [
        "Secret recipe",
        "Zanzibar",
        "cardamom",
        "hidden-tag",
        "secret.md",
        "secret-recipe",
        "Private diary",
        "Quixotic",
        "neighbours",
        "diary",
        "private-diary",
    ] {
        for (path, text) in &site {
            assert!(!text.contains(private), "{private:?} leaked into {path}");
        }
    }
    // The generated sections drew on public notes only.
    for request in brain.generator.requests() {
        let context = request.context.to_string();
        assert!(
            !context.contains("secret.md") && !context.contains("diary.md"),
            "{context}"
        );
    }
}

#[tokio::test]
async fn a_rebuild_replaces_only_the_files_that_changed() {
    let brain = garden();
    let first = built(&brain).await;
    let all = files(&brain.path("dist/preview")).len();
    assert_eq!(
        first.written, all,
        "the first build writes the whole site: {first:?}"
    );
    assert_eq!(rebuild(&brain).await.written, 0, "nothing changed");

    // One note's text changes: its page, the search index and the lists showing it.
    let mut notes = garden_notes();
    notes[1].body.push_str("\n\nA second rise overnight.");
    notes[1].hash = "h2".into();
    let brain = brain.with_other_notes(notes);
    let changed = rebuild(&brain).await;
    assert!(
        (1..=6).contains(&changed.written),
        "only what shows the note: {changed:?}"
    );
    let first_loaf = brain.read("dist/preview/blog/first-loaf/index.html");
    assert!(
        first_loaf.contains("A second rise overnight."),
        "{first_loaf}"
    );
    assert!(
        brain
            .read("dist/preview/search.json")
            .contains("second rise")
    );

    // A note unpublished: its page and its folder go, and the pages linking it change.
    let mut notes = garden_notes();
    notes[2].frontmatter["publish"] = json!(false);
    let brain = brain.with_other_notes(notes);
    let removed = rebuild(&brain).await;
    assert!(removed.written > 1 && removed.written < all, "{removed:?}");
    assert!(!brain.exists("dist/preview/blog/loaf-two"));
    let blog = brain.read("dist/preview/blog/index.html");
    assert!(!blog.contains("Second loaf"), "{blog}");

    // A template changed: every page made from it is rendered again.
    let note_template = brain_site_builder::internals::TEMPLATE_FILES
        .iter()
        .find(|(name, _)| *name == "note.html")
        .unwrap()
        .1;
    brain.write(
        "templates/note.html",
        &note_template.replace(
            "<h1>{{ note.title }}</h1>",
            "<h1 class=\"t\">{{ note.title }}</h1>",
        ),
    );
    let restyled = rebuild(&brain).await;
    assert_eq!(restyled.written, 2, "the two note pages left: {restyled:?}");
    assert!(
        brain
            .read("dist/preview/blog/first-loaf/index.html")
            .contains("<h1 class=\"t\">First loaf</h1>")
    );

    // What the updates left is exactly what a whole build writes.
    let updated = files(&brain.path("dist/preview"));
    std::fs::remove_file(brain.path(".brain/site/built/preview.json")).unwrap();
    let whole = rebuild(&brain).await;
    assert_eq!(whole.written, updated.len(), "{whole:?}");
    let mut rebuilt = files(&brain.path("dist/preview"));
    let mut updated = updated;
    let relative = |files: &mut Vec<(String, String)>| {
        let base = brain.path("dist/preview").display().to_string();
        for (path, _) in files.iter_mut() {
            *path = path.trim_start_matches(&base).to_owned();
        }
        files.sort();
    };
    relative(&mut rebuilt);
    relative(&mut updated);
    assert_eq!(rebuilt, updated);
}
