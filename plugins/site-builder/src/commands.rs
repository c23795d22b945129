//! The commands a person types to run the site's tools (`brain site generate`, `/build`,
//! `!promote`), and the completion of their routes and sections from `[site]`.

use brain_plugin_api::{ArgSpec, CommandSpec, CompleteRequest};

use crate::config::Site;

/// `route` and `section`, typed in that order or as `--route`/`--section`.
fn select(command: CommandSpec) -> CommandSpec {
    command
        .arg(
            ArgSpec::text(
                "route",
                "Only this route: its id (`landing`) or its path (`/about`)",
            )
            .positional()
            .completes(),
        )
        .arg(
            ArgSpec::text("section", "Only sections with this id")
                .positional()
                .completes(),
        )
}

pub(crate) fn commands() -> Vec<CommandSpec> {
    vec![
        select(CommandSpec::new(
            "site",
            "generate",
            "site_generate",
            "Generate content for sections that have none yet (one job per section)",
        ))
        .arg(ArgSpec::switch(
            "force",
            "Also regenerate sections that have content already (replacing any edits)",
        ))
        .arg(ArgSpec::switch(
            "dryRun",
            "Only list what would be generated; change nothing",
        )),
        CommandSpec::new(
            "site",
            "build",
            "site_build",
            "Build the static site into dist/<env>/ (default: preview)",
        )
        .arg(
            ArgSpec::text("environment", "Which content to build with")
                .flag("env")
                .positional()
                .choices(["preview", "production"]),
        )
        .arg(ArgSpec::switch(
            "strict",
            "Fail on a link to a page or file the site does not have (else a warning)",
        )),
        select(CommandSpec::new(
            "site",
            "promote",
            "site_promote",
            "Copy preview content to production",
        )),
        CommandSpec::new(
            "site",
            "serve",
            "site_serve",
            "Serve dist/<env>/ on 127.0.0.1, rebuild when notes, content or templates change, reload open pages; Ctrl-C stops",
        )
        .arg(
            ArgSpec::text("environment", "Which site to serve")
                .flag("env")
                .positional()
                .choices(["preview", "production"]),
        )
        .arg(ArgSpec::number("port", "The port on 127.0.0.1 (default 8080; 0: any free one)")),
        select(CommandSpec::new(
            "site",
            "rollback",
            "site_rollback",
            "Remove the production content (the site falls back to nothing promoted)",
        )),
    ]
}

/// Route ids and paths for `route`; for `section`, the sections of the route typed before
/// it, else of every route.
pub(crate) fn complete(request: &CompleteRequest<'_>) -> Vec<String> {
    let Ok(Some(site)) = Site::from_config(request.config, &request.dirs.root) else {
        return Vec::new();
    };
    let typed_route = request.typed.get("route").and_then(|r| r.as_str());
    match request.field {
        "route" => site
            .routes
            .iter()
            .flat_map(|r| [r.id.clone(), r.path.clone()])
            .collect(),
        "section" => site
            .routes
            .iter()
            .filter(|r| typed_route.is_none_or(|t| t == r.id || t == r.path))
            .flat_map(|r| r.sections.iter().map(|s| s.id.clone()))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brain_plugin_api::BrainDirs;
    use serde_json::{Map, Value, json};

    #[test]
    fn routes_and_sections_complete_from_the_config() {
        let config = json!({
            "title": "Marta bakes",
            "base_url": "https://example.org",
            "routes": [
                {"id": "landing", "path": "/", "title": "Home", "sections": [
                    {"id": "hero", "template": "hero"}, {"id": "cta", "template": "cta"}]},
                {"id": "about", "path": "/about", "title": "About", "sections": [{"id": "text", "template": "text"}]},
            ],
        });
        let dirs = BrainDirs::new("/nowhere");
        let ask = |field: &str, typed: Value| {
            let typed: Map<String, Value> = typed.as_object().cloned().unwrap_or_default();
            let mut values = complete(&CompleteRequest {
                tool: "site_generate",
                field,
                typed: &typed,
                config: &config,
                dirs: &dirs,
            });
            values.sort();
            values
        };
        assert_eq!(ask("route", json!({})), ["/", "/about", "about", "landing"]);
        assert_eq!(ask("section", json!({"route": "/about"})), ["text"]);
        assert_eq!(ask("section", json!({})), ["cta", "hero", "text"]);
        assert!(ask("force", json!({})).is_empty());
        assert!(commands().iter().all(|c| c.problems().is_empty()));
    }
}
