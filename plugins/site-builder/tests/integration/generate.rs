//! `site_generate` and its job: one job per section without content, filters, force, dry
//! runs, the request sent to the generator, the file written, and errors mapped to
//! retryable or permanent.

use brain_plugin_api::testing;
use brain_plugin_api::{JobError, Source};
use brain_site_builder::Environment;
use brain_site_builder::internals::{
    GenerateOutput, SectionContent, Template, parse_content, read_content,
};
use serde_json::{Value, json};

use crate::support::{Brain, Mode, invalid_field};

/// The (job type, label, input) of every job of the batches enqueued so far.
fn enqueued(brain: &Brain) -> Vec<(String, String, Value)> {
    brain
        .recording
        .batches()
        .iter()
        .flat_map(|b| b.jobs.iter())
        .map(|j| {
            (
                j.job_type.clone(),
                j.label.clone().unwrap_or_default(),
                j.input.clone(),
            )
        })
        .collect()
}

fn labels(brain: &Brain) -> Vec<String> {
    enqueued(brain).into_iter().map(|(_, l, _)| l).collect()
}

#[tokio::test]
async fn enqueues_one_job_per_section_without_content() {
    let brain = Brain::new();
    brain.write(
        "content/preview/landing/hero.md",
        "---\ntemplate: hero\nheadline: h\nsubheadline: s\ncta_text: c\ncta_url: /\n---\n",
    );
    let result = brain.call("site_generate", json!({})).await.unwrap();
    assert_eq!(result.structured["type"], "batch", "{}", result.structured);
    assert!(
        result.text.contains("generating content for 4 sections"),
        "{}",
        result.text
    );

    let batches = brain.recording.batches();
    assert_eq!(batches.len(), 1);
    let batch = &batches[0];
    assert_eq!(batch.label.as_deref(), Some("Generating content"));
    assert_eq!(batch.source, Source::cli());
    assert_eq!(
        labels(&brain),
        [
            "landing:features",
            "landing:products",
            "landing:cta",
            "about:text"
        ]
    );
    for job in &batch.jobs {
        assert_eq!(job.job_type, "site-builder:generate");
        assert_eq!(
            job.source,
            Source::cli(),
            "progress goes back to the caller"
        );
    }
    assert_eq!(
        batch.jobs[0].input,
        json!({"route": "landing", "section": "features", "force": false, "stale": true})
    );
}

#[tokio::test]
async fn force_route_and_section_filters() {
    let brain = Brain::new();
    brain.generate_all().await;
    // Everything has content: nothing to do, answered synchronously.
    let result = brain.call("site_generate", json!({})).await.unwrap();
    assert_eq!(result.structured["dryRun"], false);
    assert!(
        result
            .text
            .starts_with("Nothing to generate: 5 sections up to date with the notes"),
        "{}",
        result.text
    );
    assert!(brain.recording.batches().is_empty());

    brain
        .call("site_generate", json!({"force": true, "route": "landing"}))
        .await
        .unwrap();
    assert_eq!(
        labels(&brain),
        [
            "landing:hero",
            "landing:features",
            "landing:products",
            "landing:cta"
        ]
    );
    assert!(enqueued(&brain).iter().all(|(_, _, i)| i["force"] == true));

    let brain = Brain::new();
    brain
        .call("site_generate", json!({"route": "/about"}))
        .await
        .unwrap();
    brain
        .call("site_generate", json!({"section": "cta"}))
        .await
        .unwrap();
    brain
        .call(
            "site_generate",
            json!({"route": "landing", "section": "products"}),
        )
        .await
        .unwrap();
    assert_eq!(
        labels(&brain),
        ["about:text", "landing:cta", "landing:products"]
    );
}

#[tokio::test]
async fn unknown_routes_and_sections_name_the_field_and_list_the_allowed_ids() {
    let brain = Brain::new();
    let (field, message) =
        invalid_field(brain.call("site_generate", json!({"route": "blog"})).await);
    assert_eq!(field, "route");
    assert_eq!(message, "unknown route \"blog\" (allowed: landing, about)");

    let (field, message) = invalid_field(
        brain
            .call(
                "site_generate",
                json!({"route": "about", "section": "hero"}),
            )
            .await,
    );
    assert_eq!(field, "section");
    assert_eq!(
        message,
        "unknown section \"hero\" in route about (allowed: text)"
    );

    let (field, message) = invalid_field(
        brain
            .call("site_generate", json!({"section": "nope"}))
            .await,
    );
    assert_eq!(field, "section");
    assert_eq!(
        message,
        "unknown section \"nope\" (allowed: hero, features, products, cta, text)"
    );

    let (field, _) = invalid_field(brain.call("site_generate", json!({"dry_run": true})).await);
    assert_eq!(field, "dry_run", "the JSON name is dryRun");
    let (field, _) = invalid_field(brain.call("site_generate", json!({"force": "yes"})).await);
    assert_eq!(field, "force");
    assert!(brain.recording.batches().is_empty());
}

#[tokio::test]
async fn a_dry_run_lists_and_changes_nothing() {
    let brain = Brain::new();
    let result = brain
        .call("site_generate", json!({"dryRun": true, "route": "landing"}))
        .await
        .unwrap();
    assert_eq!(result.structured["dryRun"], true);
    let sections = result.structured["sections"].as_array().unwrap();
    assert_eq!(sections.len(), 4);
    assert_eq!(
        sections[0],
        json!({"route": "landing", "section": "hero", "template": "hero",
               "file": "content/preview/landing/hero.md", "exists": false,
               "reason": "no content yet"})
    );
    assert!(result.text.contains("dry run"), "{}", result.text);
    assert!(
        result.text.contains("landing:features (features)"),
        "{}",
        result.text
    );
    assert!(brain.recording.batches().is_empty());
    assert!(brain.recording.jobs().is_empty());
    assert!(!brain.exists("content"), "a dry run writes nothing");
}

#[tokio::test]
async fn the_handler_writes_a_valid_file_and_reports_progress() {
    let brain = Brain::new();
    let (result, progress) = brain
        .run_job_progress(
            "site-builder:generate",
            json!({"route": "landing", "section": "features"}),
        )
        .await;
    let output: GenerateOutput = serde_json::from_value(result.unwrap()).unwrap();
    assert_eq!(output.file, "content/preview/landing/features.md");
    assert_eq!(
        (output.route.as_str(), output.section.as_str()),
        ("landing", "features")
    );
    let last = progress.peek();
    assert_eq!((last.current, last.total), (3, 3));

    let text = brain.read("content/preview/landing/features.md");
    assert!(text.starts_with("---\ntemplate: features\n"), "{text}");
    match parse_content(&text, Template::Features).unwrap() {
        SectionContent::Features(f) => {
            assert_eq!(f.title, "What I work on");
            assert_eq!(f.items[0].note.as_deref(), Some("ideas.md"));
        }
        other => panic!("{other:?}"),
    }

    // The text template keeps its body as Markdown below the frontmatter.
    brain
        .run_job(
            "site-builder:generate",
            json!({"route": "about", "section": "text"}),
        )
        .await
        .unwrap();
    let text = brain.read("content/preview/about/text.md");
    assert!(
        text.starts_with("---\ntemplate: text\ntitle: About me\n---\n\nI keep notes.\n"),
        "{text}"
    );
}

#[tokio::test]
async fn the_request_follows_the_contract() {
    let brain = Brain::new();
    brain
        .run_job(
            "site-builder:generate",
            json!({"route": "landing", "section": "features"}),
        )
        .await
        .unwrap();
    let requests = brain.generator.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.kind, "site-section:features");
    assert_eq!(request.schema, Template::Features.schema());
    assert!(request.prompt.contains("Test Site"), "{}", request.prompt);
    assert!(request.prompt.contains("features"), "{}", request.prompt);
    let context = &request.context;
    assert_eq!(
        context["site"],
        json!({"title": "Test Site", "description": "A personal brain, published.", "notes_path": "/notes",
               "base_url": "https://example.org", "cta": null})
    );
    assert_eq!(
        context["route"],
        json!({"id": "landing", "path": "/", "title": "Home"})
    );
    assert_eq!(
        context["section"],
        json!({"id": "features", "template": "features"})
    );
    // Searched with "home features": both matching notes, in NoteHit's JSON shape.
    let notes = context["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(notes[0]["path"].is_string() && notes[0]["snippet"].is_string());
    // Only the products section is made from the products (so only it follows them).
    assert_eq!(context["products"], json!([]));
    brain
        .run_job(
            "site-builder:generate",
            json!({"route": "landing", "section": "products"}),
        )
        .await
        .unwrap();
    let requests = brain.generator.requests();
    let products = requests[1].context["products"].as_array().unwrap();
    assert_eq!(products.len(), 1);
    assert_eq!(products[0]["path"], "example-product.md");
}

#[tokio::test]
async fn existing_content_is_kept_unless_forced() {
    let brain = Brain::new();
    let edited =
        "---\ntemplate: cta\nheadline: Mine\ntext: t\nbutton_text: b\nbutton_url: /\n---\n";
    brain.write("content/preview/landing/cta.md", edited);
    let output = brain
        .run_job(
            "site-builder:generate",
            json!({"route": "landing", "section": "cta"}),
        )
        .await
        .unwrap();
    assert_eq!(output["kept"], true);
    assert_eq!(brain.read("content/preview/landing/cta.md"), edited);
    assert!(brain.generator.requests().is_empty());

    brain
        .run_job(
            "site-builder:generate",
            json!({"route": "landing", "section": "cta", "force": true}),
        )
        .await
        .unwrap();
    assert!(
        brain
            .read("content/preview/landing/cta.md")
            .contains("Get in touch")
    );
}

#[tokio::test]
async fn generator_errors_are_retryable_or_permanent() {
    let brain = Brain::new();
    let input = json!({"route": "landing", "section": "features"});

    brain.generator.set_mode(Mode::Invalid);
    let err = brain
        .run_job("site-builder:generate", input.clone())
        .await
        .unwrap_err();
    assert!(!err.is_retryable());
    let message = err.to_string();
    assert!(
        message.contains("items[1].title: invalid type"),
        "{message}"
    );
    assert!(!brain.exists("content/preview/landing/features.md"));

    brain.generator.set_mode(Mode::Unavailable(true));
    let err = brain
        .run_job("site-builder:generate", input.clone())
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(err.to_string().contains("503"), "{err}");

    brain.generator.set_mode(Mode::Unavailable(false));
    let err = brain
        .run_job("site-builder:generate", input.clone())
        .await
        .unwrap_err();
    assert!(!err.is_retryable(), "{err}");

    let err = brain
        .run_job(
            "site-builder:generate",
            json!({"route": "gone", "section": "features"}),
        )
        .await
        .unwrap_err();
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("\"gone\""), "{err}");
}

#[tokio::test]
async fn a_cancelled_job_stops_and_writes_nothing() {
    let brain = Brain::new();
    let (ctx, _) = testing::job_context("site-builder:generate");
    ctx.cancellation().cancel();
    let err = brain
        .run_job_with(
            "site-builder:generate",
            json!({"route": "landing", "section": "hero"}),
            ctx,
        )
        .await
        .unwrap_err();
    assert_eq!(err, JobError::Cancelled);
    assert!(!brain.exists("content/preview/landing/hero.md"));
}

#[tokio::test]
async fn an_edited_invalid_file_names_the_file_and_the_field() {
    let brain = Brain::new();
    brain.generate_all().await;
    let path = "content/preview/landing/features.md";
    let text = brain.read(path);
    // A person replaces the second item's title with a list.
    let edited = text.replacen("- title: Welcome", "- title: [Welcome, home]", 1);
    assert_ne!(edited, text, "{text}");
    brain.write(path, &edited);

    let site = brain_site_builder::internals::Site::from_config(
        &crate::support::scaffold_site(),
        brain.root(),
    )
    .unwrap()
    .unwrap();
    let route = site.route("landing").unwrap();
    let section = &route.sections[1];
    let err = read_content(brain.root(), Environment::Preview, route, section).unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("content/preview/landing/features.md: items[1].title: invalid type:"),
        "{message}"
    );

    // A YAML syntax error names the file and the line in the file.
    brain.write(path, "---\ntemplate: features\ntitle: [unclosed\n---\n");
    let err = read_content(brain.root(), Environment::Preview, route, section).unwrap_err();
    assert_eq!(err.file, path);
    assert!(err.message.contains("line"), "{err}");
}

#[tokio::test]
async fn without_matching_notes_the_site_description_is_searched() {
    let mut config = crate::support::scaffold_site();
    config["routes"][1]["title"] = json!("Zebra");
    config["routes"][1]["sections"][0]["id"] = json!("zz");
    let brain = Brain::with_config(config);
    brain
        .run_job(
            "site-builder:generate",
            json!({"route": "about", "section": "zz"}),
        )
        .await
        .unwrap();
    let request = &brain.generator.requests()[0];
    // "zebra zz text" matches nothing; "test site personal brain published" does.
    let notes = request.context["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0]["path"], "welcome.md");
}
