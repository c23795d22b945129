//! The site-builder plugin: a website declared in `brain.toml`, whose sections are
//! generated from the notes as files a person can review and edit, and built to static
//! HTML. [`SiteBuilder`] is the plugin; put it in a brain with
//! `plugins.push(Arc::new(SiteBuilder))`.
//!
//! The flow, each step a tool whose slow part runs as background jobs with live progress:
//!
//! 1. `site_generate` — one `site-builder:generate` job per section without content, or
//!    whose sources changed since it was generated (`sources.rs` records them): the
//!    configured generator writes `content/preview/<route>/<section>.md` (YAML
//!    frontmatter with the template's fields; see [`internals::parse_content`]); a file
//!    edited by hand is kept (with `force`, replaced and kept beside as `.orig`).
//! 2. `site_build` — one `site-builder:build` job renders `dist/preview/` (or
//!    `dist/production/` from promoted content), atomically.
//! 3. `site_promote` / `site_rollback` — copy preview content to production, or remove it.
//! 4. `site_serve` — one `site-builder:serve` job serves `dist/<environment>/` on loopback
//!    until cancelled, rebuilding (a build job) when notes, content or templates change
//!    and reloading open pages.
//!
//! `site_routes` and `site_templates` describe the site and the section templates.
//!
//! The site is read from the `[site]` table (config section `site`) when the plugin
//! registers, and validated then: an invalid one stops the brain with errors naming each
//! key; a brain without `[site]` is fine, and the tools say "no `[site]` in brain.toml".

mod build;
mod commands;
mod config;
mod content;
mod garden;
mod generate;
mod links;
mod markdown;
mod pages;
mod publish;
mod render;
mod serve;
mod sources;
mod state;
mod templates;
mod tools;

use std::sync::Arc;

use async_trait::async_trait;
use brain_plugin_api::{BrainDirs, CommandSpec, CompleteRequest, Plugin, PluginError, Registrar};
use serde_json::Value;

// What a caller of the plugin's tools reads and writes: their inputs and outputs.
pub use build::{BuildInput, BuildOutput};
pub use content::Environment;
pub use publish::PublishOutput;
pub use serve::ServeInput;
pub use tools::{
    GenerateInput, PlanOutput, PlannedSection, RouteInfo, RoutesOutput, SectionInfo, SelectInput,
    TemplateInfo, TemplatesOutput,
};

/// The plugin's parts, for its own integration tests and benchmarks (which are separate
/// crates): not an API to build on.
pub mod internals {
    pub use crate::config::{Collection, ConfigError, Route, Section, Site, SiteCta, Sort};
    pub use crate::content::{
        ContentError, content_file, content_path, format_content, parse_content, read_content,
        write_atomic, write_content,
    };
    pub use crate::generate::{
        GenerateJobInput, GenerateOutput, NOTES_PER_SECTION, PRODUCT_NOTES, content_from_answer,
        generation_request, search_query, site_query,
    };
    pub use crate::markdown::{is_safe_url, to_html as markdown_to_html};
    pub use crate::publish::PublishJobInput;
    pub use crate::render::{SEARCH_SCRIPT, STYLESHEET, TEMPLATE_FILES, TEMPLATES_DIR};
    pub use crate::state::NO_SITE;
    pub use crate::templates::{
        Cta, Feature, Features, FieldError, Hero, NoteItem, NoteList, Product, Products,
        SectionContent, Template, Text,
    };
    pub use crate::tools::NoInput;
}

use crate::build::BuildJob;
use crate::config::Site;
use crate::generate::GenerateJob;
use crate::publish::{PromoteJob, RollbackJob};
use crate::state::Shared;

/// The plugin's id, and the prefix of its job types.
pub const PLUGIN_ID: &str = "site-builder";
/// The `brain.toml` table the site is declared in.
pub const CONFIG_SECTION: &str = "site";
pub const GENERATE_JOB: &str = "site-builder:generate";
pub const BUILD_JOB: &str = "site-builder:build";
pub const PROMOTE_JOB: &str = "site-builder:promote";
pub const ROLLBACK_JOB: &str = "site-builder:rollback";
pub const SERVE_JOB: &str = "site-builder:serve";

/// The site-builder plugin. It holds no state: the site is read from the context the
/// shell hands to [`Plugin::register`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SiteBuilder;

#[async_trait]
impl Plugin for SiteBuilder {
    fn id(&self) -> &str {
        PLUGIN_ID
    }

    fn version(&self) -> &str {
        env!("CARGO_PKG_VERSION")
    }

    fn description(&self) -> &str {
        "Builds a website from the notes: generates its sections as editable files, renders static HTML"
    }

    fn config_section(&self) -> &str {
        CONFIG_SECTION
    }

    fn check_config(&self, config: &Value, dirs: &BrainDirs) -> Result<(), PluginError> {
        Site::from_config(config, &dirs.root)
            .map(drop)
            .map_err(|e| PluginError::new(e.to_string()))
    }

    fn commands(&self) -> Vec<CommandSpec> {
        commands::commands()
    }

    fn complete(&self, request: &CompleteRequest<'_>) -> Vec<String> {
        commands::complete(request)
    }

    fn register(&self, registrar: &mut Registrar) -> Result<(), PluginError> {
        let ctx = registrar.context();
        let site = Site::from_config(&ctx.config(), &ctx.dirs().root)
            .map_err(|e| PluginError::new(e.to_string()))?;
        let shared = Arc::new(Shared {
            site: std::sync::RwLock::new(site.map(Arc::new)),
            ctx,
            batch_lookups: std::sync::Mutex::new(Vec::new()),
        });
        tools::register(registrar, &shared);
        // Job types `site-builder:<name>`: the registrar prefixes the plugin id.
        registrar.job_handler(
            "generate",
            GenerateJob {
                shared: shared.clone(),
            },
        );
        registrar.job_handler(
            "build",
            BuildJob {
                shared: shared.clone(),
            },
        );
        registrar.job_handler(
            "promote",
            PromoteJob {
                shared: shared.clone(),
            },
        );
        registrar.job_handler(
            "rollback",
            RollbackJob {
                shared: shared.clone(),
            },
        );
        registrar.job_handler("serve", serve::ServeJob { shared });
        Ok(())
    }
}
