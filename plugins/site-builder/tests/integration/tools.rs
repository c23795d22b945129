//! The synchronous tools: `site_routes` and `site_templates`, both public.

use brain_plugin_api::Permission;
use brain_site_builder::internals::Template;
use serde_json::json;

use crate::support::Brain;

#[tokio::test]
async fn visibility() {
    let brain = Brain::new();
    for tool in &brain.registration.tools {
        let expected = match tool.name.as_str() {
            "site_routes" | "site_templates" => Permission::Public,
            _ => Permission::Anchor,
        };
        assert_eq!(tool.visibility, expected, "{}", tool.name);
        assert_eq!(tool.input_schema["type"], "object", "{}", tool.name);
    }
    let generate = brain
        .registration
        .tools
        .iter()
        .find(|t| t.name == "site_generate")
        .unwrap();
    assert!(generate.input_schema["properties"]["dryRun"].is_object());
}

#[tokio::test]
async fn routes_show_paths_sections_and_content() {
    let brain = Brain::new();
    brain
        .run_job(
            "site-builder:generate",
            json!({"route": "landing", "section": "hero"}),
        )
        .await
        .unwrap();
    brain
        .run_job(
            "site-builder:promote",
            json!({"route": "landing", "section": "hero"}),
        )
        .await
        .unwrap();
    let result = brain.call("site_routes", json!({})).await.unwrap();
    let routes = &result.structured["routes"];
    assert_eq!(routes[0]["path"], "/");
    assert_eq!(routes[1]["url"], "https://example.org/about");
    assert_eq!(
        routes[0]["sections"][0],
        json!({"id": "hero", "template": "hero", "preview": true, "production": true})
    );
    assert_eq!(
        routes[0]["sections"][1],
        json!({"id": "features", "template": "features", "preview": false, "production": false})
    );
    assert!(
        result.text.contains("hero (hero): preview, production"),
        "{}",
        result.text
    );
}

#[tokio::test]
async fn templates_come_with_their_schemas() {
    let brain = Brain::new();
    let result = brain.call("site_templates", json!({})).await.unwrap();
    let templates = result.structured["templates"].as_array().unwrap();
    assert_eq!(templates.len(), 6);
    for (info, template) in templates.iter().zip(Template::ALL) {
        assert_eq!(info["name"], template.name());
        assert_eq!(info["kind"], format!("site-section:{}", template.name()));
        assert_eq!(info["schema"], template.schema());
    }
    let hero = &templates[0]["schema"]["properties"];
    for field in ["headline", "subheadline", "cta_text", "cta_url"] {
        assert!(hero[field].is_object(), "{field}");
    }
}
