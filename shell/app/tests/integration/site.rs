//! The site builder end to end through the binary, as a person drives it: `brain init demo`,
//! `brain --dir demo start` in the background, then `site_generate`, `site_build`,
//! `site_promote` and `site_rollback` through `brain tool`, each followed with
//! `brain jobs status <id> --json` until it finishes; then the files it wrote and the HTML
//! in `dist/` are checked. Also: content that does not fit its template, and a note that
//! cannot be parsed.

use serde_json::json;

use crate::support::{Demo, json};

/// The five sections `brain init` declares: (route, section, template) — the landing
/// page's four, then the about page's one.
pub(crate) const SECTIONS: [(&str, &str, &str); 5] = [
    ("landing", "hero", "hero"),
    ("landing", "features", "features"),
    ("landing", "products", "products"),
    ("landing", "cta", "cta"),
    ("about", "text", "text"),
];

/// A note whose title would run a script if it reached a page unescaped. "features" makes
/// it the best match for the landing page's features section.
const SCRIPTED_NOTE: &str = "---\n\
title: \"Scripted <script>alert(1)</script> features\"\n\
tags: [features]\n\
publish: true\n\
---\n\
\n\
These features are <script>alert(2)</script> plain text & nothing else.\n";
const SCRIPTED_TITLE_ESCAPED: &str = "Scripted &lt;script&gt;alert(1)&lt;/script&gt; features";

/// The content files of `SECTIONS`, relative to `content/<environment>/`.
fn section_files() -> Vec<String> {
    let mut files: Vec<String> = SECTIONS
        .iter()
        .map(|(route, section, _)| format!("{route}/{section}.md"))
        .collect();
    files.sort();
    files
}

/// The text of the first `<tag>…</tag>` in `html`.
fn element<'a>(html: &'a str, tag: &str) -> &'a str {
    let open = format!("<{tag}>");
    let start = html
        .find(&open)
        .unwrap_or_else(|| panic!("no <{tag}> in:\n{html}"))
        + open.len();
    let end = html[start..]
        .find(&format!("</{tag}>"))
        .unwrap_or_else(|| panic!("<{tag}> not closed in:\n{html}"));
    &html[start..start + end]
}

/// Every `href="…"` value in `html`.
fn hrefs(html: &str) -> Vec<&str> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect()
}

/// Where `<section class="section {template}" id="{id}"` starts in `html`.
fn section_at(html: &str, id: &str, template: &str) -> Option<usize> {
    html.find(&format!(
        "<section class=\"section {template}\" id=\"{id}\""
    ))
}

/// No script element and no event handler from content reached the page.
#[track_caller]
fn assert_no_raw_script(page: &str, html: &str) {
    let lower = html.to_lowercase();
    assert!(
        !lower.contains("<script"),
        "{page} has a raw <script:\n{html}"
    );
    assert!(!lower.contains("alert(1)</"), "{page}:\n{html}");
}

#[test]
fn a_site_is_generated_built_promoted_and_rolled_back() {
    let demo = Demo::init();
    // 150 ms per section and 4 workers: the 5 sections take two rounds, so polls see the
    // batch in progress.
    demo.slow_generator(150);
    demo.write_note("scripted.md", SCRIPTED_NOTE);
    let brain = demo.start();

    // Generate: a batch of one job per section, followed to the end.
    let (started, finished) = demo.tool_until_done("site_generate", &json!({}), "batch");
    let message = started["message"].as_str().unwrap();
    assert!(message.contains("5 sections"), "{started:#}");
    assert!(started["estimatedDuration"].is_string(), "{started:#}");
    assert_eq!(finished["type"], "batch", "{finished:#}");
    assert_eq!(finished["progress"]["current"], 5, "{finished:#}");
    assert_eq!(finished["progress"]["total"], 5, "{finished:#}");
    let preview = demo.content("preview");
    assert_eq!(
        preview.keys().cloned().collect::<Vec<_>>(),
        section_files(),
        "content/preview"
    );
    for (file, (bytes, _)) in &preview {
        let text = String::from_utf8(bytes.clone()).unwrap();
        let template = SECTIONS
            .iter()
            .find(|(r, s, _)| format!("{r}/{s}.md") == *file)
            .unwrap()
            .2;
        assert!(
            text.starts_with(&format!("---\ntemplate: {template}\n")),
            "{file}:\n{text}"
        );
    }
    // The scripted note is the features section's best match: its title is in the content
    // file as written (it is escaped when rendered, below).
    let features = demo.read("content/preview/landing/features.md");
    assert!(
        features.contains("Scripted <script>alert(1)</script> features"),
        "{features}"
    );
    assert!(features.contains("note: scripted.md"), "{features}");

    // Nothing is left to generate; a dry run lists without changing anything.
    let jobs_before = json(&demo.run(&["jobs", "list", "--json"]).expect(0).stdout);
    let dry = demo.tool("site_generate", &json!({ "dryRun": true }));
    assert_eq!(dry["dryRun"], true, "{dry:#}");
    assert_eq!(dry["sections"], json!([]), "{dry:#}");
    let message = dry["message"].as_str().unwrap();
    assert!(message.starts_with("Nothing to generate"), "{dry:#}");
    assert!(
        message.contains(": 5 sections up to date with the notes"),
        "{dry:#}"
    );
    let forced = demo.tool("site_generate", &json!({ "force": true, "dryRun": true }));
    assert_eq!(forced["dryRun"], true, "{forced:#}");
    let planned: Vec<(String, String, bool)> = forced["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["route"].as_str().unwrap().to_owned(),
                s["section"].as_str().unwrap().to_owned(),
                s["exists"].as_bool().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(String, String, bool)> = SECTIONS
        .iter()
        .map(|(r, s, _)| ((*r).to_owned(), (*s).to_owned(), true))
        .collect();
    assert_eq!(planned, expected, "{forced:#}");
    assert!(
        forced["message"].as_str().unwrap().contains("5 sections"),
        "{forced:#}"
    );
    assert_eq!(
        demo.content("preview"),
        preview,
        "a dry run changed content"
    );
    let jobs_after = json(&demo.run(&["jobs", "list", "--json"]).expect(0).stdout);
    assert_eq!(jobs_after, jobs_before, "a dry run enqueued something");

    // Build the preview site.
    let (started, finished) =
        demo.tool_until_done("site_build", &json!({ "environment": "preview" }), "job");
    assert!(
        started["message"]
            .as_str()
            .unwrap()
            .contains("2 routes and the published notes"),
        "{started:#}"
    );
    let result = &finished["result"];
    assert_eq!(result["environment"], "preview", "{finished:#}");
    // The 2 routes; the 3 published notes (2 from `init`, the scripted one), their 2
    // collections, their 3 tags, the list of tags and the search page.
    assert_eq!(result["pages"], 12, "{finished:#}");
    assert_eq!(result["notes"], 3, "{finished:#}");
    assert_eq!(result["output"], "dist/preview", "{finished:#}");
    assert_eq!(result["warnings"], json!([]), "{finished:#}");
    let home = demo.read("dist/preview/index.html");
    let about = demo.read("dist/preview/about/index.html");

    // Titles: the page's and the site's.
    let title = element(&home, "title");
    assert!(title.contains("Home") && title.contains("demo"), "{title}");
    let title = element(&about, "title");
    assert!(title.contains("About") && title.contains("demo"), "{title}");
    // Navigation between the two pages, relative.
    assert!(
        hrefs(&home).contains(&"./about/index.html"),
        "{:?}",
        hrefs(&home)
    );
    assert!(
        hrefs(&about).contains(&"../index.html"),
        "{:?}",
        hrefs(&about)
    );
    assert!(home.contains("<a href=\"./index.html\" aria-current=\"page\">Home</a>"));
    // Cards link to the pages of the published notes they come from; the hero's button
    // leads to the list of notes, not to the about page.
    for card in [
        "./notes/scripted-script-alert-1-script-features/index.html",
        "./notes/example-product/index.html",
    ] {
        assert!(hrefs(&home).contains(&card), "{card}: {:?}", hrefs(&home));
    }
    assert!(
        home.contains("class=\"button\" href=\"./notes/index.html\""),
        "{home}"
    );
    assert!(about.contains("<a href=\"../about/index.html\" aria-current=\"page\">About</a>"));
    // Every declared section, in the declared order.
    let mut previous = 0;
    for (route, id, template) in SECTIONS {
        let page = if route == "landing" { &home } else { &about };
        let at = section_at(page, id, template)
            .unwrap_or_else(|| panic!("no {route}:{id} section:\n{page}"));
        if route == "landing" {
            assert!(at > previous, "{id} is out of order:\n{home}");
            previous = at;
        }
    }
    assert!(
        element(&home, "h1").contains("demo"),
        "hero headline:\n{home}"
    );
    // The note's title is escaped, never a script.
    assert!(home.contains(SCRIPTED_TITLE_ESCAPED), "{home}");
    assert_no_raw_script("index.html", &home);
    assert_no_raw_script("about/index.html", &about);
    // sitemap.xml with base_url, 404.html, style.css.
    let sitemap = demo.read("dist/preview/sitemap.xml");
    for loc in [
        "<loc>http://localhost:8080/</loc>",
        "<loc>http://localhost:8080/about</loc>",
    ] {
        assert!(sitemap.contains(loc), "{sitemap}");
    }
    // Every page of the build is listed.
    assert_eq!(sitemap.matches("<loc>").count(), 12, "{sitemap}");
    assert_no_raw_script(
        "a note's page",
        &demo.read("dist/preview/notes/scripted-script-alert-1-script-features/index.html"),
    );
    let not_found = demo.read("dist/preview/404.html");
    assert!(not_found.contains("Page not found"), "{not_found}");
    assert!(
        !demo.read("dist/preview/style.css").is_empty(),
        "style.css is empty"
    );

    // Promote everything: production has each section, byte for byte the preview.
    let (started, _) = demo.tool_until_done("site_promote", &json!({}), "batch");
    assert!(
        started["message"].as_str().unwrap().contains("5 sections"),
        "{started:#}"
    );
    let production = demo.content("production");
    assert_eq!(
        production.keys().cloned().collect::<Vec<_>>(),
        section_files()
    );
    for (file, (bytes, _)) in &production {
        assert_eq!(*bytes, preview[file].0, "content/production/{file}");
    }
    let (_, finished) =
        demo.tool_until_done("site_build", &json!({ "environment": "production" }), "job");
    assert_eq!(finished["result"]["warnings"], json!([]), "{finished:#}");
    let production_home = demo.read("dist/production/index.html");
    assert!(
        section_at(&production_home, "hero", "hero").is_some(),
        "{production_home}"
    );
    assert!(demo.dir.join("dist/production/about/index.html").is_file());
    // The preview site is still there.
    assert_eq!(demo.read("dist/preview/index.html"), home);

    // Roll the about page back: its production content goes, the landing page's stays.
    let (started, _) = demo.tool_until_done("site_rollback", &json!({ "route": "about" }), "batch");
    assert!(
        started["message"].as_str().unwrap().contains("1 section"),
        "{started:#}"
    );
    let production = demo.content("production");
    assert!(
        production.keys().all(|f| f.starts_with("landing/")),
        "{:?}",
        production.keys()
    );
    assert_eq!(production.len(), 4, "{:?}", production.keys());
    // The route's folder goes with its last file.
    assert!(!demo.dir.join("content/production/about").exists());
    let routes = demo.tool("site_routes", &json!({}));
    for route in routes["routes"].as_array().unwrap() {
        for section in route["sections"].as_array().unwrap() {
            assert_eq!(section["preview"], true, "{route:#}");
            assert_eq!(section["production"], route["id"] != "about", "{route:#}");
        }
    }
    // A second rollback has nothing to do, and says so at once.
    let again = demo.tool("site_rollback", &json!({ "route": "about" }));
    assert!(
        again["message"]
            .as_str()
            .unwrap()
            .starts_with("Nothing to roll back"),
        "{again:#}"
    );

    assert_eq!(brain.interrupt(), 0);
}

#[test]
fn content_that_does_not_fit_its_template_is_reported_and_left_out() {
    let demo = Demo::init();
    let brain = demo.start();
    demo.tool_until_done("site_generate", &json!({}), "batch");
    // A person's edit gone wrong: `items` must be a list.
    std::fs::write(
        demo.dir.join("content/preview/landing/features.md"),
        "---\ntemplate: features\ntitle: What I do\nitems: \"writing, teaching\"\n---\n",
    )
    .unwrap();

    let (_, finished) = demo.tool_until_done("site_build", &json!({}), "job");
    let warnings = finished["result"]["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{finished:#}");
    let warning = warnings[0].as_str().unwrap();
    assert!(
        warning.starts_with("content/preview/landing/features.md: items:"),
        "{warning}"
    );
    // The page is there with the other sections; the broken one is left out.
    let home = demo.read("dist/preview/index.html");
    for (id, template) in [("hero", "hero"), ("products", "products"), ("cta", "cta")] {
        assert!(section_at(&home, id, template).is_some(), "{id}:\n{home}");
    }
    assert!(!home.contains("id=\"features\""), "{home}");
    assert!(!home.contains("What I do"), "{home}");
    assert!(demo.dir.join("dist/preview/about/index.html").is_file());

    assert_eq!(brain.interrupt(), 0);
}

#[test]
fn a_note_with_broken_frontmatter_is_skipped_and_search_still_works() {
    let demo = Demo::init();
    demo.write_note(
        "zebras.md",
        "---\ntitle: Zebras\ntags: [animals]\n---\n\nStripes, mostly zebras.\n",
    );
    demo.write_note(
        "broken.md",
        "---\ntitle: Broken zebras\ntags: [animals, zebras\n---\n\nMore zebras.\n",
    );
    let brain = demo.start();

    let found = demo.tool("search", &json!({ "query": "zebras" }));
    let paths: Vec<&str> = found["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["zebras.md"], "{found:#}");

    let (_, finished) = demo.tool_until_done("notes_index", &json!({}), "job");
    let skipped = finished["result"]["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{finished:#}");
    assert_eq!(skipped[0]["path"], "broken.md", "{finished:#}");
    let error = skipped[0]["error"].as_str().unwrap();
    assert!(error.contains("frontmatter"), "{error}");
    assert!(error.contains("line 3"), "{error}");
    // Five notes indexed (four from `init`, zebras.md), the broken one not.
    assert_eq!(finished["result"]["scanned"], 6, "{finished:#}");

    // Search keeps working after the job too.
    let found = demo.tool("search", &json!({ "query": "stripes" }));
    assert_eq!(found["notes"][0]["path"], "zebras.md", "{found:#}");

    assert_eq!(brain.interrupt(), 0);
}

/// A build says what it did: pages, folder, and — in text too — what it left out; a build
/// of an environment with no content is refused, saying what to do.
#[test]
fn a_build_line_names_its_pages_folder_and_warnings() {
    let demo = Demo::init();
    let nothing = demo.run(&["site", "build", "production"]).expect(1);
    assert!(
        nothing
            .stderr
            .contains("no section has production content; promote preview content"),
        "{nothing:#?}"
    );
    demo.run(&["site", "generate", "about"]).expect(0);
    let built = demo.run(&["site", "build"]).expect(0);
    let line = built.stdout.trim();
    assert!(
        // The 2 routes, and of the 2 published notes of `init`: their pages, their 2
        // collections, their 2 tags, the list of tags and the search page.
        line.starts_with("✔ Built preview: 10 pages in ") && line.ends_with("s → dist/preview/"),
        "{built:#?}"
    );
    for section in ["hero", "features", "products", "cta"] {
        let warning = format!("  warning: landing:{section} has no content");
        assert!(built.stderr.contains(&warning), "{warning}: {built:#?}");
    }
}

/// The site follows the notes: generated content records what it came from, so a new
/// product note makes exactly the products section stale (and says so), and a hand edit
/// is never overwritten silently — kept by generate, kept beside as `.orig` by `--force`.
#[test]
fn generate_follows_the_notes_and_keeps_hand_edits() {
    let demo = Demo::init();
    demo.run(&["site", "generate"]).expect(0);
    let up_to_date = demo.run(&["site", "generate"]).expect(0);
    assert!(
        up_to_date
            .stdout
            .starts_with("Nothing to generate: 5 sections up to date with the notes"),
        "{up_to_date:#?}"
    );

    std::fs::write(
        demo.dir.join("notes/bread.md"),
        "---\ntitle: Sourdough bread\ntags: [product]\npublish: true\n---\nA loaf baked every morning.\n",
    )
    .unwrap();
    let plan = demo
        .run(&["site", "generate", "--dry-run", "--json"])
        .expect(0);
    let planned = json(&plan.stdout)["sections"].clone();
    assert_eq!(
        planned,
        json!([{"route": "landing", "section": "products", "template": "products",
                "file": "content/preview/landing/products.md", "exists": true,
                "reason": "1 new product note (bread.md)"}]),
        "{plan:#?}"
    );
    let regenerated = demo.run(&["site", "generate"]).expect(0);
    assert!(
        regenerated
            .stderr
            .contains("Generating content for 1 section (1 stale: 1 new product note (bread.md))."),
        "{regenerated:#?}"
    );
    let products =
        std::fs::read_to_string(demo.dir.join("content/preview/landing/products.md")).unwrap();
    assert!(products.contains("Sourdough bread"), "{products}");

    // A person's edit: generate keeps it and says so.
    let hero = demo.dir.join("content/preview/landing/hero.md");
    let generated = std::fs::read_to_string(&hero).unwrap();
    let edited = generated
        .lines()
        .map(|l| {
            if l.starts_with("headline:") {
                "headline: Marta bakes"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&hero, &edited).unwrap();
    let kept = demo.run(&["site", "generate"]).expect(0);
    assert!(
        kept.stdout
            .contains("Kept landing:hero: edited by hand (`--force` replaces it"),
        "{kept:#?}"
    );
    assert_eq!(std::fs::read_to_string(&hero).unwrap(), edited);

    // --force replaces it, keeping the person's version beside it, and says where.
    let forced = demo
        .run(&["site", "generate", "landing", "hero", "--force"])
        .expect(0);
    assert!(
        forced
            .stderr
            .contains("the edited file is kept as content/preview/landing/hero.md.orig"),
        "{forced:#?}"
    );
    let original = demo.dir.join("content/preview/landing/hero.md.orig");
    assert_eq!(std::fs::read_to_string(original).unwrap(), edited);
    assert_eq!(std::fs::read_to_string(&hero).unwrap(), generated);
}
