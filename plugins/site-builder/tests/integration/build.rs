//! `site_build` and its job: pages with titles, navigation and every section; escaping;
//! warnings for missing and invalid content; production content only in production; the
//! atomic swap that leaves the previous site intact when a build fails.

use brain_plugin_api::{JobError, testing};
use brain_site_builder::BuildOutput;
use serde_json::json;

use crate::support::{Brain, invalid_field, scaffold_site};

fn output(value: serde_json::Value) -> BuildOutput {
    serde_json::from_value(value).unwrap()
}

#[tokio::test]
async fn the_tool_enqueues_one_build_job() {
    let brain = Brain::new();
    let result = brain.call("site_build", json!({})).await.unwrap();
    assert_eq!(result.structured["type"], "job");
    assert!(
        result
            .text
            .contains("building the preview site (2 routes and the published notes)"),
        "{}",
        result.text
    );
    let jobs = brain.recording.jobs();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].job_type, "site-builder:build");
    assert_eq!(jobs[0].input, json!({"environment": "preview"}));
    assert_eq!(jobs[0].label.as_deref(), Some("build preview"));

    brain
        .call("site_build", json!({"environment": "production"}))
        .await
        .unwrap();
    assert_eq!(
        brain.recording.jobs()[1].input,
        json!({"environment": "production"})
    );
    let (field, message) = invalid_field(
        brain
            .call("site_build", json!({"environment": "staging"}))
            .await,
    );
    assert_eq!(field, "environment");
    assert!(
        message.contains("preview") && message.contains("production"),
        "{message}"
    );
}

/// A build renders what is on disk when it runs: started while content for its
/// environment is being written, it waits for that operation (preview: generate;
/// production: promote and rollback), and so does a promote for a generate.
#[tokio::test]
async fn a_build_waits_for_the_operations_writing_its_content() {
    let brain = Brain::new();
    brain.call("site_build", json!({})).await.unwrap();
    assert!(
        brain.recording.jobs()[0].after.is_empty(),
        "nothing to wait for"
    );

    brain
        .call("site_generate", json!({"force": true}))
        .await
        .unwrap();
    let result = brain.call("site_build", json!({})).await.unwrap();
    assert_eq!(brain.recording.jobs()[1].after, vec!["batch_test_1"]);
    assert!(
        result.text.contains("once batch_test_1 has ended"),
        "{}",
        result.text
    );
    // Production content comes from promote and rollback, not from generate.
    brain
        .call("site_build", json!({"environment": "production"}))
        .await
        .unwrap();
    assert!(brain.recording.jobs()[2].after.is_empty());

    brain.generate_all().await;
    brain.call("site_promote", json!({})).await.unwrap();
    let promote = &brain.recording.batches()[1];
    assert_eq!(promote.jobs[0].job_type, "site-builder:promote");
    assert_eq!(promote.after, vec!["batch_test_1"]);
    brain
        .call("site_build", json!({"environment": "production"}))
        .await
        .unwrap();
    assert_eq!(brain.recording.jobs()[3].after, vec!["batch_test_2"]);
}

#[tokio::test]
async fn pages_have_titles_navigation_and_every_section() {
    let brain = Brain::new();
    brain.generate_all().await;
    let (result, progress) = brain
        .run_job_progress("site-builder:build", json!({"environment": "preview"}))
        .await;
    let built = output(result.unwrap());
    // The 2 routes; the 3 published notes, their collection, their 3 tags, the list of
    // tags and the search page.
    assert_eq!((built.pages, built.notes), (11, 3));
    assert_eq!(built.output, "dist/preview");
    assert!(built.warnings.is_empty(), "{:?}", built.warnings);
    let last = progress.peek();
    assert_eq!((last.current, last.total), (11, 11));

    for file in [
        "index.html",
        "about/index.html",
        "style.css",
        "sitemap.xml",
        "404.html",
    ] {
        assert!(brain.exists(&format!("dist/preview/{file}")), "{file}");
    }
    let home = brain.read("dist/preview/index.html");
    let about = brain.read("dist/preview/about/index.html");
    assert!(home.contains("<title>Home · Test Site</title>"), "{home}");
    assert!(
        about.contains("<title>About · Test Site</title>"),
        "{about}"
    );
    for page in [&home, &about] {
        assert!(page.contains(r#"class="brand""#) && page.contains(">Test Site</a>"));
        assert!(page.contains("style.css\">"));
    }
    // Navigation links every route, relative to the page.
    assert!(
        home.contains(r#"<a href="./index.html" aria-current="page">Home</a>"#),
        "{home}"
    );
    assert!(
        home.contains(r#"<a href="./about/index.html">About</a>"#),
        "{home}"
    );
    assert!(
        about.contains(r#"<a href="../index.html">Home</a>"#),
        "{about}"
    );
    assert!(
        about.contains(r#"<a href="../about/index.html" aria-current="page">About</a>"#),
        "{about}"
    );
    assert!(about.contains(r#"href="../style.css""#));

    for id in ["hero", "features", "products", "cta"] {
        assert!(home.contains(&format!(r#"id="{id}""#)), "{id} missing");
    }
    assert!(about.contains(r#"id="text""#));
    assert!(home.contains("Notes, published") && home.contains("What I work on"));
    assert!(home.contains("Example product") && home.contains("Get in touch"));
    // The hero's `/about` link is made relative; mailto passes unchanged.
    assert!(
        home.contains(r#"href="./about/index.html">Read more</a>"#),
        "{home}"
    );
    assert!(home.contains(r#"href="mailto:me@example.org""#));
    // The about page's Markdown body is rendered.
    assert!(about.contains("<li>one</li>"), "{about}");
    assert!(about.contains(r#"<link rel="canonical" href="https://example.org/about">"#));

    let sitemap = brain.read("dist/preview/sitemap.xml");
    assert!(
        sitemap.contains("<loc>https://example.org/</loc>"),
        "{sitemap}"
    );
    assert!(
        sitemap.contains("<loc>https://example.org/about</loc>"),
        "{sitemap}"
    );
    let not_found = brain.read("dist/preview/404.html");
    assert!(not_found.contains("Page not found"));
    assert!(
        not_found.contains(r#"<a href="/about/index.html">About</a>"#),
        "{not_found}"
    );
    assert!(not_found.contains(r#"href="/style.css""#));
    // No build folders are left behind.
    let leftovers: Vec<String> = std::fs::read_dir(brain.path("dist"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(leftovers, ["preview"]);
}

#[tokio::test]
async fn note_and_content_text_is_escaped() {
    let brain = Brain::new();
    brain.generator.overrides.lock().unwrap().insert(
        "site-section:hero".into(),
        json!({
            "headline": "<script>alert('hero')</script>",
            "subheadline": "Tom & Jerry \"quoted\"",
            "cta_text": "Go",
            "cta_url": "javascript:alert(1)",
        }),
    );
    brain.generator.overrides.lock().unwrap().insert(
        "site-section:text".into(),
        json!({
            "title": "<b>About</b>",
            "body": "Hello <script>alert('body')</script>\n\n<iframe src=x></iframe>",
        }),
    );
    brain.generate_all().await;
    brain.build("preview").await.unwrap();
    let home = brain.read("dist/preview/index.html");
    let about = brain.read("dist/preview/about/index.html");
    for page in [&home, &about] {
        assert!(!page.contains("<script"), "{page}");
        assert!(!page.contains("<iframe"), "{page}");
        assert!(!page.contains("javascript:"), "{page}");
    }
    assert!(
        home.contains("&lt;script&gt;alert(&#39;hero&#39;)&lt;/script&gt;"),
        "{home}"
    );
    assert!(
        home.contains("Tom &amp; Jerry &quot;quoted&quot;"),
        "{home}"
    );
    assert!(about.contains("&lt;b&gt;About&lt;/b&gt;"), "{about}");
    assert!(about.contains("Hello &lt;script&gt;"), "{about}");
}

#[tokio::test]
async fn missing_and_invalid_content_are_warnings_and_the_rest_renders() {
    let brain = Brain::new();
    brain.generate_all().await;
    std::fs::remove_file(brain.path("content/preview/landing/products.md")).unwrap();
    let features = brain.read("content/preview/landing/features.md");
    brain.write(
        "content/preview/landing/features.md",
        &features.replacen("- title: Welcome", "- title: {nested: map}", 1),
    );
    let built = output(brain.build("preview").await.unwrap());
    assert_eq!(built.warnings.len(), 2, "{:?}", built.warnings);
    assert!(
        built.warnings[0]
            .starts_with("content/preview/landing/features.md: items[1].title: invalid type:"),
        "{:?}",
        built.warnings
    );
    assert_eq!(built.warnings[1], "landing:products has no content");
    let home = brain.read("dist/preview/index.html");
    assert!(home.contains(r#"id="hero""#) && home.contains(r#"id="cta""#));
    assert!(!home.contains(r#"id="features""#) && !home.contains(r#"id="products""#));
}

#[tokio::test]
async fn production_uses_production_content_only() {
    let brain = Brain::new();
    brain.generate_all().await;
    // Only the hero is promoted, and it differs from the preview.
    brain.write(
        "content/production/landing/hero.md",
        "---\ntemplate: hero\nheadline: Live headline\nsubheadline: s\ncta_text: Go\ncta_url: /\n---\n",
    );
    let built = output(brain.build("production").await.unwrap());
    assert_eq!(built.output, "dist/production");
    assert_eq!(
        built.warnings,
        [
            "landing:features has no content",
            "landing:products has no content",
            "landing:cta has no content",
            "about:text has no content"
        ]
    );
    let home = brain.read("dist/production/index.html");
    assert!(home.contains("Live headline"));
    assert!(!home.contains("Notes, published") && !home.contains("What I work on"));
    let about = brain.read("dist/production/about/index.html");
    assert!(about.contains("Nothing here yet."), "{about}");
    // The preview site is a separate folder, untouched.
    assert!(!brain.exists("dist/preview"));
}

#[tokio::test]
async fn a_failed_build_leaves_the_previous_site_byte_identical() {
    let brain = Brain::new();
    brain.generate_all().await;
    brain.build("preview").await.unwrap();
    let before = brain.snapshot("dist/preview");
    assert!(before.len() >= 5);

    // Content changes, and a page template fails on the second route only.
    brain.write(
        "content/preview/landing/cta.md",
        "---\ntemplate: cta\nheadline: Changed\ntext: t\nbutton_text: b\nbutton_url: /\n---\n",
    );
    brain.write(
        "templates/page.html",
        "{% extends \"base.html\" %}{% block main %}{% if route.id == \"about\" %}{{ route.title | no_such_filter }}{% endif %}{% for s in sections %}{{ s.html }}{% endfor %}{% endblock %}",
    );
    let err = brain.build("preview").await.unwrap_err();
    assert!(!err.is_retryable());
    let message = err.to_string();
    assert!(message.contains("/about"), "{message}");
    assert!(message.contains("no_such_filter"), "{message}");
    assert_eq!(brain.snapshot("dist/preview"), before);
    let entries: Vec<String> = std::fs::read_dir(brain.path("dist"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(entries, ["preview"], "the failed build's folder is removed");

    // Fixed, the next build replaces the site.
    std::fs::remove_file(brain.path("templates/page.html")).unwrap();
    brain.build("preview").await.unwrap();
    assert!(brain.read("dist/preview/index.html").contains("Changed"));
}

#[tokio::test]
async fn a_cancelled_build_changes_nothing() {
    let brain = Brain::new();
    brain.generate_all().await;
    brain.build("preview").await.unwrap();
    let before = brain.snapshot("dist/preview");
    brain.write(
        "content/preview/landing/cta.md",
        "---\ntemplate: cta\nheadline: Changed\ntext: t\nbutton_text: b\nbutton_url: /\n---\n",
    );
    let (ctx, _) = testing::job_context("site-builder:build");
    ctx.cancellation().cancel();
    let err = brain
        .run_job_with("site-builder:build", json!({}), ctx)
        .await
        .unwrap_err();
    assert_eq!(err, JobError::Cancelled);
    assert_eq!(brain.snapshot("dist/preview"), before);
}

#[tokio::test]
async fn templates_and_the_stylesheet_can_be_overridden() {
    let brain = Brain::new();
    brain.generate_all().await;
    brain.write(
        "templates/sections/hero.html",
        "<section id=\"{{ section.id }}\" class=\"mine\">{{ content.headline | upper }}</section>",
    );
    brain.write("templates/style.css", "body { color: red }");
    brain.build("preview").await.unwrap();
    let home = brain.read("dist/preview/index.html");
    assert!(
        home.contains(r#"class="mine">NOTES, PUBLISHED</section>"#),
        "{home}"
    );
    assert_eq!(brain.read("dist/preview/style.css"), "body { color: red }");

    // A syntax error in an override fails the build, naming the template.
    brain.write("templates/sections/cta.html", "{% if %}");
    let err = brain.build("preview").await.unwrap_err();
    assert!(
        err.to_string().starts_with("templates/sections/cta.html:"),
        "{err}"
    );
}

#[tokio::test]
async fn nested_paths_link_back_up() {
    let mut config = crate::support::scaffold_site();
    config["routes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "intro", "path": "/docs/intro", "title": "Intro", "sections": []}));
    let brain = Brain::with_config(config);
    brain.generate_all().await;
    brain.build("preview").await.unwrap();
    let intro = brain.read("dist/preview/docs/intro/index.html");
    assert!(
        intro.contains(r#"<a href="../../index.html">Home</a>"#),
        "{intro}"
    );
    assert!(intro.contains(r#"href="../../style.css""#), "{intro}");
    assert!(
        brain
            .read("dist/preview/index.html")
            .contains(r#"<a href="./docs/intro/index.html">Intro</a>"#)
    );
}

#[tokio::test]
async fn pages_left_out_of_the_navigation_are_still_built_and_in_the_sitemap() {
    let mut site = scaffold_site();
    site["routes"][1]["nav"] = json!(false);
    let brain = Brain::with_config(site);
    brain.generate_all().await;
    let built = output(brain.build("preview").await.unwrap());
    assert_eq!(built.pages, 11);
    let home = brain.read("dist/preview/index.html");
    let about = brain.read("dist/preview/about/index.html");
    let menu = |page: &str| -> String {
        let start = page.find("<nav").expect("a nav element");
        let end = start + page[start..].find("</nav>").expect("a closed nav");
        page[start..end].to_owned()
    };
    assert!(
        !menu(&home).contains("about"),
        "about must not be in the menu: {}",
        menu(&home)
    );
    // The page itself exists, marks no menu entry as current, and links back home.
    assert!(
        about.contains("<title>About · Test Site</title>"),
        "{about}"
    );
    assert!(!about.contains("aria-current"), "{about}");
    assert!(about.contains("href=\"../index.html\""), "{about}");
    assert!(brain.read("dist/preview/sitemap.xml").contains("/about"));
}

#[tokio::test]
async fn an_environment_without_content_is_not_built_and_says_what_to_do() {
    let brain = Brain::new();
    let err = brain.build("preview").await.unwrap_err().to_string();
    assert!(
        err.contains("no section has preview content; generate it first"),
        "{err}"
    );
    assert!(!brain.exists("dist/preview"));

    brain.generate_all().await;
    let err = brain.build("production").await.unwrap_err().to_string();
    assert!(
        err.contains("no section has production content; promote preview content"),
        "{err}"
    );
    assert!(!brain.exists("dist/production"));
    let built = output(brain.build("preview").await.unwrap());
    assert_eq!((built.pages, built.output.as_str()), (11, "dist/preview"));
}

#[tokio::test]
async fn broken_internal_links_are_warnings_or_with_strict_a_failure() {
    let brain = Brain::new();
    brain.generate_all().await;
    let clean = output(brain.build("preview").await.unwrap());
    assert!(
        clean.warnings.iter().all(|w| !w.starts_with("broken link")),
        "{:?}",
        clean.warnings
    );

    let hero = brain.read("content/preview/landing/hero.md");
    let cta = hero
        .lines()
        .find(|l| l.starts_with("cta_url:"))
        .unwrap_or_else(|| panic!("{hero}"))
        .to_owned();
    brain.write(
        "content/preview/landing/hero.md",
        &hero.replace(&cta, "cta_url: /nowhere"),
    );
    let built = output(brain.build("preview").await.unwrap());
    let broken: Vec<&String> = built
        .warnings
        .iter()
        .filter(|w| w.starts_with("broken link"))
        .collect();
    assert_eq!(broken.len(), 1, "{:?}", built.warnings);
    assert!(broken[0].starts_with("broken link on /: "), "{broken:?}");
    assert!(broken[0].contains("nowhere"), "{broken:?}");

    let strict = brain
        .run_job(
            "site-builder:build",
            json!({"environment": "preview", "strict": true}),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        strict.contains("1 broken link (strict): broken link on /"),
        "{strict}"
    );
}
