//! The contract with the shell's offline generator (`brain_ai_service::LocalGenerator`):
//! for every template, with notes and without, what it answers to this plugin's requests
//! fits the template's schema and type, is written as a valid content file, and builds.

use std::sync::Arc;
use std::time::Duration;

use brain_ai_service::LocalGenerator;
use brain_plugin_api::NoteHit;
use brain_site_builder::internals::{Site, Template, read_content};
use brain_site_builder::{BuildOutput, Environment};
use serde_json::json;

use crate::support::{Brain, notes, scaffold_site};

/// Generates every section of a site using every template with the local generator,
/// checks each file, and builds.
async fn generate_and_build(notes: Vec<NoteHit>) {
    let brain = Brain::with_generator(notes, Arc::new(LocalGenerator::new(Duration::ZERO)));
    let site = Site::from_config(&scaffold_site(), brain.root())
        .unwrap()
        .unwrap();
    for route in &site.routes {
        for section in &route.sections {
            let output = brain
                .run_job(
                    "site-builder:generate",
                    json!({"route": route.id, "section": section.id}),
                )
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", route.label(section)));
            assert_eq!(output["kept"], serde_json::Value::Null);
            let content = read_content(brain.root(), Environment::Preview, route, section)
                .unwrap()
                .unwrap();
            assert_eq!(content.template(), section.template);
            // What the OpenAI-compatible provider checks answers against accepts it too.
            let value = serde_json::to_value(&content).unwrap();
            brain_ai_service::validate(&section.template.schema(), &value)
                .unwrap_or_else(|e| panic!("{}: {e}\n{value}", route.label(section)));
        }
    }
    let built: BuildOutput = serde_json::from_value(brain.build("preview").await.unwrap()).unwrap();
    assert!(built.warnings.is_empty(), "{:?}", built.warnings);
}

#[tokio::test]
async fn the_local_generator_fills_every_section() {
    generate_and_build(notes()).await;
}

#[tokio::test]
async fn the_local_generator_fills_every_section_without_notes() {
    generate_and_build(Vec::new()).await;
}

#[tokio::test]
async fn every_template_is_answered_in_its_shape() {
    // A site using each template once, so note-list (not in the scaffold) is covered too.
    let generator = LocalGenerator::new(Duration::ZERO);
    let site = Site::from_config(&scaffold_site(), std::path::Path::new("/"))
        .unwrap()
        .unwrap();
    let route = &site.routes[0];
    for template in Template::ALL {
        for hits in [notes(), Vec::new()] {
            let section = brain_site_builder::internals::Section {
                id: "s".into(),
                template,
            };
            let request = brain_site_builder::internals::generation_request(
                &site,
                route,
                &section,
                &hits,
                &hits,
                site.notes_path(&hits),
            );
            let answer = brain_plugin_api::ContentGenerator::generate(
                &generator,
                &request,
                &Default::default(),
            )
            .await
            .unwrap();
            brain_ai_service::validate(&request.schema, &answer)
                .unwrap_or_else(|e| panic!("{template}: {e}\n{answer}"));
            brain_site_builder::internals::content_from_answer(template, answer)
                .unwrap_or_else(|e| panic!("{template}: {e}"));
        }
    }
}
