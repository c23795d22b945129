//! The `[site]` configuration: the scaffold registers; every invalid key is named with what
//! is allowed; a missing `[site]` registers and the tools explain; `file = …` is read from
//! the brain directory.

use serde_json::{Value, json};

use crate::support::{Brain, scaffold_site};
use brain_plugin_api::ToolError;
use brain_site_builder::internals::NO_SITE;

/// The registration error for `config`.
fn error(config: Value) -> String {
    match Brain::try_with_config(config) {
        Ok(_) => panic!("registration succeeded"),
        Err(e) => e.to_string(),
    }
}

/// The scaffold with `change` applied to it.
fn scaffold_with(change: impl FnOnce(&mut Value)) -> Value {
    let mut site = scaffold_site();
    change(&mut site);
    site
}

#[tokio::test]
async fn the_scaffold_registers_every_tool_and_handler() {
    let brain = Brain::new();
    let mut tools: Vec<&str> = brain
        .registration
        .tools
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    tools.sort_unstable();
    assert_eq!(
        tools,
        [
            "site_build",
            "site_generate",
            "site_promote",
            "site_rollback",
            "site_routes",
            "site_serve",
            "site_templates"
        ]
    );
    let mut handlers: Vec<&str> = brain
        .registration
        .handlers
        .iter()
        .map(|(t, _)| t.as_str())
        .collect();
    handlers.sort_unstable();
    assert_eq!(
        handlers,
        [
            "site-builder:build",
            "site-builder:generate",
            "site-builder:promote",
            "site-builder:rollback",
            "site-builder:serve"
        ]
    );
}

#[test]
fn an_unknown_template_names_the_key_and_the_allowed_ones() {
    let config = scaffold_with(|s| s["routes"][1]["sections"][0]["template"] = json!("herox"));
    assert_eq!(
        error(config),
        r#"site.routes[1].sections[0].template: unknown template "herox" (allowed: hero, features, products, cta, text, note-list)"#
    );
}

#[test]
fn each_invalid_key_is_named() {
    let cases: Vec<(Value, &str)> = vec![
        (
            scaffold_with(|s| s["routes"][1]["id"] = json!("landing")),
            "site.routes[1].id: \"landing\" is already the id of site.routes[0]",
        ),
        (
            scaffold_with(|s| s["routes"][1]["id"] = json!("About_Us")),
            "site.routes[1].id: \"About_Us\" is not a valid id",
        ),
        (
            scaffold_with(|s| s["routes"][1]["path"] = json!("/")),
            "site.routes[1].path: \"/\" is already the path of site.routes[0]",
        ),
        (
            scaffold_with(|s| s["routes"][1]["path"] = json!("about")),
            "site.routes[1].path: must start with \"/\"",
        ),
        (
            scaffold_with(|s| s["routes"][1]["path"] = json!("/about us")),
            "site.routes[1].path: \"/about us\" is not a valid path",
        ),
        (
            scaffold_with(|s| s["routes"][0]["sections"][1]["id"] = json!("hero")),
            "site.routes[0].sections[1].id: \"hero\" is already the id of sections[0]",
        ),
        (
            scaffold_with(|s| s["routes"][0]["sections"][1]["id"] = json!("Feat ures")),
            "site.routes[0].sections[1].id: \"Feat ures\" is not a valid id",
        ),
        (
            scaffold_with(|s| s["base_url"] = json!("example.org")),
            "site.base_url: must be an absolute http:// or https:// URL",
        ),
        (
            scaffold_with(|s| s["title"] = json!(" ")),
            "site.title: must not be empty",
        ),
        (
            scaffold_with(|s| s["routes"] = json!([])),
            "site.routes: declare at least one route",
        ),
        (
            scaffold_with(|s| {
                s.as_object_mut().unwrap().remove("title");
            }),
            "site: missing field `title`",
        ),
        (
            scaffold_with(|s| s["routes"][0]["sections"][0]["template"] = json!(3)),
            "site.routes[0].sections[0].template: invalid type: integer `3`",
        ),
        (
            scaffold_with(|s| s["routse"] = json!([])),
            "site.routse: unknown key: did you mean `routes`?",
        ),
        (
            scaffold_with(|s| s["routes"][0]["titel"] = json!("x")),
            "site.routes[0].titel: unknown key: did you mean `title`? (allowed: id, path, title, nav, sections)",
        ),
        (
            scaffold_with(|s| s["cta"] = json!({"headline": "h"})),
            "site.cta: missing field `text`",
        ),
        (json!("a string"), "site: must be a table"),
    ];
    for (config, expected) in cases {
        let message = error(config.clone());
        assert!(
            message.starts_with(expected),
            "expected {expected:?}\n     got {message:?}\n  config {config}"
        );
    }
}

#[test]
fn all_problems_are_reported_at_once() {
    let config = scaffold_with(|s| {
        s["base_url"] = json!("nope");
        s["routes"][1]["sections"][0]["template"] = json!("herox");
    });
    let message = error(config);
    let lines: Vec<&str> = message.lines().collect();
    assert_eq!(lines.len(), 2, "{message}");
    assert!(lines[0].starts_with("site.base_url:"));
    assert!(lines[1].starts_with("site.routes[1].sections[0].template:"));
}

#[tokio::test]
async fn without_a_site_the_plugin_registers_and_the_tools_explain() {
    let brain = Brain::with_config(Value::Null);
    for (tool, input) in [
        ("site_generate", json!({})),
        ("site_build", json!({})),
        ("site_promote", json!({})),
        ("site_rollback", json!({})),
        ("site_routes", json!({})),
    ] {
        match brain.call(tool, input).await {
            Err(ToolError::Failed(message)) => {
                assert!(
                    message.starts_with("no [site] in brain.toml"),
                    "{tool}: {message}"
                );
                assert_eq!(message, NO_SITE);
            }
            other => panic!("{tool}: {other:?}"),
        }
    }
    let err = brain
        .run_job("site-builder:build", json!({}))
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with("no [site] in brain.toml"),
        "{err}"
    );
    // Templates do not depend on a site.
    assert!(brain.call("site_templates", json!({})).await.is_ok());
}

#[tokio::test]
async fn the_site_can_live_in_its_own_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("site")).unwrap();
    std::fs::write(
        dir.path().join("site/site.toml"),
        r#"
title = "From a file"
base_url = "https://example.org/"

[[routes]]
id = "landing"
path = "/"
title = "Home"
sections = [{ id = "hero", template = "hero" }]
"#,
    )
    .unwrap();
    let brain = Brain::in_dir(dir, json!({"file": "site/site.toml"})).unwrap();
    let routes = brain.call("site_routes", json!({})).await.unwrap();
    assert_eq!(routes.structured["title"], "From a file");
    // The trailing slash of base_url is dropped, so URLs do not double it.
    assert_eq!(
        routes.structured["routes"][0]["url"],
        "https://example.org/"
    );
}

#[test]
fn errors_in_a_site_file_name_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("site.toml"),
        "title = \"x\"\nbase_url = \"https://x.org\"\n[[routes]]\nid = \"landing\"\npath = \"/\"\ntitle = \"Home\"\nsections = [{ id = \"hero\", template = \"herox\" }]\n",
    )
    .unwrap();
    let err = match Brain::in_dir(dir, json!({"file": "site.toml"})) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("registered"),
    };
    assert!(
        err.starts_with("site.toml: routes[0].sections[0].template: unknown template \"herox\""),
        "{err}"
    );

    let err = error(json!({"file": "missing.toml"}));
    assert!(err.starts_with("site.file: cannot read"), "{err}");
    let err = error(json!({"file": "site.toml", "title": "x"}));
    assert!(
        err.starts_with("site.file: cannot be combined with other [site] keys (title)"),
        "{err}"
    );
}
