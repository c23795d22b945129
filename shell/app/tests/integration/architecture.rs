//! Architecture invariants that a build alone does not enforce, checked on the source.

use std::path::{Path, PathBuf};

use crate::support::Demo;

/// The workspace's root (this crate is `shell/app`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Whether `word` occurs in `text` as a whole word (`site_build`, not `site_builder`).
fn names(text: &str, word: &str) -> bool {
    let part = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    text.match_indices(word).any(|(at, _)| {
        !part(text[..at].chars().next_back()) && !part(text[at + word.len()..].chars().next())
    })
}

/// Interfaces know no plugin: no interface crate depends on a plugin crate, and no
/// interface's code (tests and test support aside) names a plugin's tool — they render
/// what plugins declare (`ToolSpec`, `CommandSpec`, `Wording`).
#[test]
fn interfaces_know_no_plugin() {
    let demo = Demo::init();
    let listed = crate::support::json(&demo.run(&["tool", "--list", "--json"]).expect(0).stdout);
    let plugin_tools: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["plugin"] != "shell")
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(plugin_tools.contains(&"site_generate"), "{listed:#}");
    assert!(names("runs (site_build, …)", "site_build") && !names("a site_builder", "site_build"));

    let mut files = Vec::new();
    for interface in ["cli", "mcp", "matrix", "web"] {
        let dir = root().join("interfaces").join(interface);
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        let dependencies = manifest
            .split("[dev-dependencies]")
            .next()
            .unwrap_or_default();
        assert!(
            !dependencies.contains("brain-site-builder"),
            "{interface} depends on a plugin"
        );
        sources(&dir.join("src"), &mut files);
    }
    for file in files.iter().filter(|f| !f.ends_with("testing.rs")) {
        let text = std::fs::read_to_string(file).unwrap();
        // Unit tests may use a plugin's declarations as fixtures.
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for tool in &plugin_tools {
            assert!(
                !names(code, tool),
                "{} names the plugin tool {tool}",
                file.display()
            );
        }
    }
}

/// The dashboard's browser code builds the page from nodes and text: whatever a job's label,
/// error or input holds shows as text, never as markup.
#[test]
fn the_dashboard_puts_data_in_pages_as_text() {
    let code = std::fs::read_to_string(root().join("interfaces/web/assets/app.js")).unwrap();
    for sink in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
    ] {
        assert!(!code.contains(sink), "app.js uses {sink}");
    }
    assert!(
        code.contains("textContent"),
        "app.js sets text some other way?"
    );
}

/// Plugins build on the plugin API's root alone: the engine's part of it
/// (`brain_plugin_api::engine`) is for the shell's crates.
#[test]
fn plugins_use_the_plugin_api_not_the_engine() {
    let mut files = Vec::new();
    sources(&root().join("plugins"), &mut files);
    sources(&root().join("tests/example-plugin/src"), &mut files);
    assert!(files.len() > 5, "{files:?}");
    for file in files
        .iter()
        .filter(|f| f.components().any(|c| c.as_os_str() == "src"))
    {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(
            !text.contains("brain_plugin_api::engine"),
            "{} uses the engine's part of the plugin API",
            file.display()
        );
    }
}
