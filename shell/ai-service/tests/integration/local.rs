//! The local generator: each section kind's shape (deserialized into the structs a site
//! builder would use), determinism, fallbacks, unsupported kinds, cancellation and answers.

use std::time::{Duration, Instant};

use brain_ai_service::LocalGenerator;
use brain_plugin_api::{ContentGenerator, GenerateError, GenerationRequest, NoteHit};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Hero {
    headline: String,
    subheadline: String,
    cta_text: String,
    cta_url: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Features {
    title: String,
    items: Vec<Feature>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Feature {
    title: String,
    description: String,
    note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Products {
    title: String,
    items: Vec<Product>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Product {
    name: String,
    description: String,
    note: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cta {
    headline: String,
    text: String,
    button_text: String,
    button_url: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Text {
    title: String,
    body: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteList {
    title: String,
    notes: Vec<ListedNote>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListedNote {
    title: String,
    path: String,
    summary: String,
}

fn hit(title: &str, path: &str, tags: &[&str]) -> NoteHit {
    NoteHit {
        path: path.into(),
        title: title.into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        summary: format!("{title}, in one sentence."),
        snippet: format!("about [{title}] and more"),
        score: 1.0,
        hash: String::new(),
    }
}

fn notes(n: usize) -> Vec<NoteHit> {
    (1..=n)
        .map(|i| hit(&format!("Note {i}"), &format!("notes/{i}.md"), &[]))
        .collect()
}

fn context(notes: &[NoteHit], products: &[NoteHit]) -> Value {
    json!({
        "site": {
            "title": "Ada's brain",
            "description": "Notes on engines and poetry.",
            "base_url": "https://ada.example",
            "cta": { "headline": "Say hello", "button_text": "Write to me", "button_url": "/contact" }
        },
        "route": { "id": "about", "path": "/about", "title": "About" },
        "section": { "id": "main", "template": "text" },
        "notes": notes,
        "products": products,
    })
}

fn request(template: &str, context: Value) -> GenerationRequest {
    GenerationRequest {
        kind: format!("site-section:{template}"),
        prompt: String::new(),
        schema: json!({ "type": "object" }),
        context,
    }
}

async fn generate<T: DeserializeOwned>(template: &str, context: Value) -> T {
    let value = LocalGenerator::new(Duration::ZERO)
        .generate(&request(template, context), &CancellationToken::new())
        .await
        .unwrap();
    serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{template}: {e} in {value}"))
}

#[tokio::test]
async fn hero() {
    let hero: Hero = generate("hero", context(&notes(2), &[])).await;
    assert_eq!(hero.headline, "Ada's brain");
    assert_eq!(hero.subheadline, "Notes on engines and poetry.");
    assert_eq!(
        (hero.cta_text.as_str(), hero.cta_url.as_str()),
        ("Write to me", "/contact")
    );

    // Without a cta (or anything), defaults fill every field.
    let hero: Hero = generate("hero", json!({})).await;
    for field in [
        &hero.headline,
        &hero.subheadline,
        &hero.cta_text,
        &hero.cta_url,
    ] {
        assert!(!field.is_empty(), "{hero:?}");
    }
    assert_eq!(hero.cta_url, "/about");
}

#[tokio::test]
async fn features_take_up_to_six_notes() {
    let features: Features = generate("features", context(&notes(8), &[])).await;
    assert!(!features.title.is_empty());
    assert_eq!(features.items.len(), 6);
    assert_eq!(features.items[0].title, "Note 1");
    assert_eq!(features.items[0].description, "Note 1, in one sentence.");
    assert_eq!(features.items[0].note.as_deref(), Some("notes/1.md"));
    assert_eq!(features.items[5].note.as_deref(), Some("notes/6.md"));
}

#[tokio::test]
async fn features_without_notes_are_generic_but_never_empty() {
    for ctx in [context(&[], &[]), json!({}), Value::Null] {
        let features: Features = generate("features", ctx).await;
        assert!(!features.title.is_empty());
        assert_eq!(features.items.len(), 3);
        for item in &features.items {
            assert!(
                !item.title.is_empty() && !item.description.is_empty(),
                "{item:?}"
            );
            assert_eq!(item.note, None);
        }
    }
}

#[tokio::test]
async fn products() {
    let products = [
        hit("Engine", "products/engine.md", &["product"]),
        hit("Loom", "products/loom.md", &["product"]),
    ];
    let section: Products = generate("products", context(&notes(3), &products)).await;
    assert_eq!(section.title, "Products");
    let names: Vec<_> = section
        .items
        .iter()
        .map(|p| (p.name.as_str(), p.note.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("Engine", "products/engine.md"),
            ("Loom", "products/loom.md")
        ]
    );
    assert_eq!(section.items[0].description, "Engine, in one sentence.");

    let empty: Products = generate("products", context(&notes(3), &[])).await;
    assert_eq!(empty.title, "Products");
    assert!(empty.items.is_empty());
}

#[tokio::test]
async fn cta() {
    let cta: Cta = generate("cta", context(&[], &[])).await;
    assert_eq!(cta.headline, "Say hello");
    // No cta text: the site description stands in.
    assert_eq!(cta.text, "Notes on engines and poetry.");
    assert_eq!(
        (cta.button_text.as_str(), cta.button_url.as_str()),
        ("Write to me", "/contact")
    );

    let defaults: Cta = generate("cta", json!({ "site": { "cta": {} } })).await;
    for field in [
        &defaults.headline,
        &defaults.text,
        &defaults.button_text,
        &defaults.button_url,
    ] {
        assert!(!field.is_empty(), "{defaults:?}");
    }
}

#[tokio::test]
async fn text_is_an_about_page() {
    let text: Text = generate("text", context(&notes(3), &[])).await;
    assert_eq!(text.title, "About");
    assert!(
        text.body.starts_with("Notes on engines and poetry."),
        "{}",
        text.body
    );
    for i in 1..=3 {
        assert!(
            text.body
                .contains(&format!("- **Note {i}**: Note {i}, in one sentence.")),
            "{}",
            text.body
        );
    }

    let empty: Text = generate("text", json!({})).await;
    assert!(!empty.title.is_empty() && !empty.body.is_empty());
}

#[tokio::test]
async fn note_list() {
    let list: NoteList = generate("note-list", context(&notes(10), &[])).await;
    assert_eq!(list.title, "About");
    assert_eq!(list.notes.len(), 10);
    assert_eq!(list.notes[9].path, "notes/10.md");
    assert_eq!(list.notes[9].title, "Note 10");
    assert_eq!(list.notes[9].summary, "Note 10, in one sentence.");

    // No route title: the section id names the list.
    let list: NoteList = generate(
        "note-list",
        json!({ "section": { "id": "recent" }, "notes": notes(1) }),
    )
    .await;
    assert_eq!(list.title, "recent");
}

#[tokio::test]
async fn sparse_notes_get_fallbacks() {
    // A note with only a path: the title comes from the file name, the summary from the
    // snippet (without match markers); entries without a path and repeats are skipped.
    let ctx = json!({ "notes": [
        { "path": "ideas/steam-engines.md", "snippet": "on [steam] power" },
        { "title": "No path" },
        { "path": "ideas/steam-engines.md", "title": "Again" },
        "not an object",
    ] });
    let list: NoteList = generate("note-list", ctx).await;
    assert_eq!(list.notes.len(), 1);
    assert_eq!(list.notes[0].title, "steam engines");
    assert_eq!(list.notes[0].summary, "on steam power");
}

#[tokio::test]
async fn same_context_same_output() {
    let products = [hit("Engine", "products/engine.md", &["product"])];
    let generator = LocalGenerator::new(Duration::ZERO);
    let cancel = CancellationToken::new();
    for template in ["hero", "features", "products", "cta", "text", "note-list"] {
        let request = request(template, context(&notes(4), &products));
        let first = generator.generate(&request, &cancel).await.unwrap();
        let second = generator.generate(&request, &cancel).await.unwrap();
        assert_eq!(first, second, "{template}");
    }
}

#[tokio::test]
async fn other_kinds_are_unsupported() {
    let generator = LocalGenerator::new(Duration::from_secs(30));
    for kind in ["site-section:gallery", "blog-post", "site-section:"] {
        let request = GenerationRequest {
            kind: kind.into(),
            ..request("hero", json!({}))
        };
        let started = Instant::now();
        let error = generator
            .generate(&request, &CancellationToken::new())
            .await
            .unwrap_err();
        assert_eq!(
            error,
            GenerateError::Unsupported {
                provider: "local".into(),
                kind: kind.into()
            }
        );
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "unsupported kinds do not wait out the delay"
        );
    }
    assert_eq!(generator.name(), "local");
}

#[tokio::test]
async fn delay_paces_and_cancellation_ends_it() {
    let generator = LocalGenerator::new(Duration::from_millis(200));
    let started = Instant::now();
    generator
        .generate(&request("hero", json!({})), &CancellationToken::new())
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(200));

    let generator = LocalGenerator::new(Duration::from_secs(30));
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        trigger.cancel();
    });
    let started = Instant::now();
    let error = generator
        .generate(&request("hero", json!({})), &cancel)
        .await
        .unwrap_err();
    assert_eq!(error, GenerateError::Cancelled);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn answers_quote_passages_with_titles() {
    let generator = LocalGenerator::new(Duration::ZERO);
    let passages = [
        hit("Rust notes", "rust.md", &[]),
        hit("Tools", "tools.md", &[]),
    ];
    let answer = generator
        .answer("what about rust?", &passages, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(
        answer.text,
        "From “Rust notes”: about Rust notes and more\n\nFrom “Tools”: about Tools and more"
    );
    assert_eq!(answer.sources, passages.to_vec());

    let none = generator
        .answer("quantum knitting", &[], &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(none.text, "No note matches “quantum knitting”.");
    assert!(none.sources.is_empty());
}
