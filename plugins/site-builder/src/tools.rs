//! The plugin's tools. The slow ones (`site_generate`, `site_build`, `site_promote`,
//! `site_rollback`) check their input, enqueue jobs and answer at once with the job or
//! batch id and estimates; when there is nothing to do, or for a dry run, they answer
//! synchronously instead. `site_routes` and `site_templates` answer at once and are public.

use std::sync::Arc;

use brain_plugin_api::{
    JsonSchema, NewBatch, NewJob, NoteHit, Permission, Registrar, Source, ToolContext, ToolError,
    ToolResult, ToolSpec, Wording,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::build::BuildInput;
use crate::config::{Route, Section, Site};
use crate::content::{Environment, content_file, content_path, exists};
use crate::generate::{
    GenerateJobInput, generation_request, public_notes, public_products, search_public,
    search_query, site_query,
};
use crate::publish::PublishJobInput;
use crate::serve::{ServeInput, ServeJobInput};
use crate::sources::{self, State};
use crate::state::Shared;
use crate::templates::Template;
use crate::{BUILD_JOB, GENERATE_JOB, PROMOTE_JOB, ROLLBACK_JOB, SERVE_JOB};

/// `site_generate`'s input.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "brain_plugin_api::schemars")]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenerateInput {
    /// Only this route: its id (`landing`) or its path (`/about`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// Only sections with this id (within `route` when given, else in every route).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
    /// Also regenerate sections that have preview content already (replacing any edits).
    #[serde(default)]
    pub force: bool,
    /// Only list what would be generated; change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// `site_promote`'s and `site_rollback`'s input.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "brain_plugin_api::schemars")]
#[serde(deny_unknown_fields)]
pub struct SelectInput {
    /// Only this route: its id (`landing`) or its path (`/about`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// Only sections with this id (within `route` when given, else in every route).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
}

/// The input of tools that take none.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[schemars(crate = "brain_plugin_api::schemars")]
#[serde(deny_unknown_fields)]
pub struct NoInput {}

/// A synchronous answer of `site_generate` (dry run, or nothing to do), `site_promote` and
/// `site_rollback` (nothing to do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "brain_plugin_api::schemars")]
#[serde(rename_all = "camelCase")]
pub struct PlanOutput {
    pub dry_run: bool,
    /// What would be done (dry run) — empty when there is nothing to do.
    pub sections: Vec<PlannedSection>,
    pub message: String,
}

/// One section a dry run would generate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "brain_plugin_api::schemars")]
#[serde(rename_all = "camelCase")]
pub struct PlannedSection {
    pub route: String,
    pub section: String,
    pub template: Template,
    /// The preview file it would write, relative to the brain directory.
    pub file: String,
    /// Whether that file exists (and would be replaced).
    pub exists: bool,
    /// Why: "no content yet", "1 new product note (products/bread.md)", "force".
    pub reason: String,
}

/// `site_routes`' answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "brain_plugin_api::schemars")]
#[serde(rename_all = "camelCase")]
pub struct RoutesOutput {
    pub title: String,
    pub base_url: String,
    pub routes: Vec<RouteInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "brain_plugin_api::schemars")]
#[serde(rename_all = "camelCase")]
pub struct RouteInfo {
    pub id: String,
    pub path: String,
    pub title: String,
    /// The page's absolute URL once published.
    pub url: String,
    pub sections: Vec<SectionInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "brain_plugin_api::schemars")]
#[serde(rename_all = "camelCase")]
pub struct SectionInfo {
    pub id: String,
    pub template: Template,
    /// Whether `content/preview/<route>/<section>.md` exists.
    pub preview: bool,
    /// Whether `content/production/<route>/<section>.md` exists.
    pub production: bool,
}

/// `site_templates`' answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "brain_plugin_api::schemars")]
#[serde(rename_all = "camelCase")]
pub struct TemplatesOutput {
    pub templates: Vec<TemplateInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "brain_plugin_api::schemars")]
#[serde(rename_all = "camelCase")]
pub struct TemplateInfo {
    pub name: Template,
    pub description: String,
    /// The generation request kind: `site-section:<name>`.
    pub kind: String,
    /// The JSON schema of the template's content (the fields of its content file).
    pub schema: Value,
}

pub(crate) fn register(registrar: &mut Registrar, shared: &Arc<Shared>) {
    let s = shared.clone();
    registrar.tool(
        ToolSpec::new(
            "site_generate",
            "Generates the website's section content from the notes, one background job per \
             section that has no preview content yet (all matching sections with `force`), \
             written to content/preview/<route>/<section>.md for review and editing. Filter \
             with `route` and `section`; `dryRun` lists what would be generated. Answers at \
             once with a batch id: follow it with the status tool, then run site_build.",
            move |input: GenerateInput, call: ToolContext| {
                let s = s.clone();
                async move { generate(&s, input, &call).await }
            },
        )
        .visibility(Permission::Anchor)
        .starts_work()
        .output::<PlanOutput>(),
    );
    let s = shared.clone();
    registrar.tool(
        ToolSpec::new(
            "site_build",
            "Builds the static website into dist/<environment>/ in a background job: every \
             route's page with its sections, style.css, sitemap.xml and 404.html. `preview` \
             (the default) uses generated content, `production` only promoted content. The \
             previous build stays in place until the new one is complete.",
            move |input: BuildInput, call: ToolContext| {
                let s = s.clone();
                async move { build(&s, input, &call).await }
            },
        )
        .visibility(Permission::Anchor)
        .starts_work(),
    );
    let s = shared.clone();
    registrar.tool(
        ToolSpec::new(
            "site_promote",
            "Copies preview content to production (content/production/), one background job \
             per section with a preview file; each file is validated first. Filter with \
             `route` and `section`. Build the production site afterwards with site_build.",
            move |input: SelectInput, call: ToolContext| {
                let s = s.clone();
                async move { publish(&s, Publish::Promote, input, &call).await }
            },
        )
        .visibility(Permission::Anchor)
        .starts_work()
        .output::<PlanOutput>(),
    );
    let s = shared.clone();
    registrar.tool(
        ToolSpec::new(
            "site_rollback",
            "Removes production content (content/production/), one background job per section \
             that has some; the production site then leaves those sections out until content \
             is promoted again. Filter with `route` and `section`.",
            move |input: SelectInput, call: ToolContext| {
                let s = s.clone();
                async move { publish(&s, Publish::Rollback, input, &call).await }
            },
        )
        .visibility(Permission::Anchor)
        .starts_work()
        .output::<PlanOutput>(),
    );
    let s = shared.clone();
    registrar.tool(
        ToolSpec::new(
            "site_serve",
            "Serves the built site (dist/<environment>/) at http://127.0.0.1:<port>/ in a \
             background job that runs until cancelled: it rebuilds the site when notes, \
             content or templates change, and open pages reload themselves.",
            move |input: ServeInput, call: ToolContext| {
                let s = s.clone();
                async move { serve(&s, input, &call).await }
            },
        )
        .visibility(Permission::Anchor)
        .starts_work(),
    );
    let s = shared.clone();
    registrar.tool(
        ToolSpec::new(
            "site_routes",
            "Lists the website's routes (pages) with their paths and sections, and whether \
             each section has preview and production content.",
            move |_: NoInput, _call: ToolContext| {
                let s = s.clone();
                async move { routes(&s) }
            },
        )
        .visibility(Permission::Public)
        .output::<RoutesOutput>(),
    );
    registrar.tool(
        ToolSpec::new(
            "site_templates",
            "Lists the section templates a route's sections can use, each with what it is for \
             and the JSON schema of its content.",
            |_: NoInput, _call: ToolContext| async move { Ok(templates()) },
        )
        .visibility(Permission::Public)
        .output::<TemplatesOutput>(),
    );
}

/// The sections `route` and `section` select; an unknown one is an invalid-input error
/// naming the field and listing what exists.
pub(crate) fn select<'a>(
    site: &'a Site,
    route: Option<&str>,
    section: Option<&str>,
) -> Result<Vec<(&'a Route, &'a Section)>, ToolError> {
    let routes: Vec<&Route> = match route {
        None => site.routes.iter().collect(),
        Some(wanted) => {
            let found = site.routes.iter().find(|r| {
                r.id == wanted || r.path == wanted || r.path == wanted.trim_end_matches('/')
            });
            match found {
                Some(r) => vec![r],
                None => {
                    let allowed: Vec<&str> = site.routes.iter().map(|r| r.id.as_str()).collect();
                    return Err(ToolError::invalid(
                        "route",
                        format!("unknown route {wanted:?} (allowed: {})", allowed.join(", ")),
                    ));
                }
            }
        }
    };
    let selected: Vec<(&Route, &Section)> = routes
        .iter()
        .flat_map(|r| r.sections.iter().map(move |s| (*r, s)))
        .filter(|(_, s)| section.is_none_or(|wanted| s.id == wanted))
        .collect();
    if let Some(wanted) = section
        && selected.is_empty()
    {
        let mut allowed: Vec<&str> = Vec::new();
        for s in routes.iter().flat_map(|r| &r.sections) {
            if !allowed.contains(&s.id.as_str()) {
                allowed.push(&s.id);
            }
        }
        let scope = match route {
            Some(_) if routes.len() == 1 => format!(" in route {}", routes[0].id),
            _ => String::new(),
        };
        return Err(ToolError::invalid(
            "section",
            format!(
                "unknown section {wanted:?}{scope} (allowed: {})",
                if allowed.is_empty() {
                    "none: the route has no sections".to_owned()
                } else {
                    allowed.join(", ")
                }
            ),
        ));
    }
    Ok(selected)
}

fn count(n: usize) -> String {
    if n == 1 {
        "1 section".to_owned()
    } else {
        format!("{n} sections")
    }
}

/// One job per section of a batch, labelled `<route>:<section>`, reporting to the caller.
fn section_batch(
    job_type: &str,
    (label, done): (&str, &str),
    source: &Source,
    sections: &[(&Route, &Section)],
    input: impl Fn(&Route, &Section) -> Value,
) -> NewBatch {
    sections.iter().fold(
        NewBatch::new(source.clone())
            .label(label)
            // "Generated 5 sections in 1.2s", said the same way by every interface.
            .wording(Wording::batch(done, "section", "sections")),
        |batch, (r, s)| {
            batch.job(
                NewJob::new(job_type, input(r, s))
                    .source(source.clone())
                    .label(r.label(s))
                    // One run per section at a time: overlapping requests share it.
                    .unique(r.label(s)),
            )
        },
    )
}

/// What `site_generate` does with one selected section, and why.
enum Plan {
    /// Generate it: "no content yet", what changed in its sources, or "force".
    Write(String),
    /// Leave it: a person's edit (`true`), or up to date with the notes.
    Keep { edited: bool },
}

/// Why a section without content is generated.
const NO_CONTENT_YET: &str = "no content yet";

/// Plans each selected section: missing content is written; a person's edit is kept
/// (replaced with `force`, theirs kept as `.orig`); generated content is rewritten when
/// the notes it would be made from now differ from those it was made from.
async fn plan<'a>(
    shared: &Shared,
    site: &Site,
    selected: &[(&'a Route, &'a Section)],
    force: bool,
) -> Result<Vec<(&'a Route, &'a Section, Plan)>, ToolError> {
    let root = shared.root();
    let data = shared.ctx.dirs().data.clone();
    let mut products: Option<Vec<NoteHit>> = None;
    let mut site_notes: Option<Vec<NoteHit>> = None;
    let mut public: Option<Vec<NoteHit>> = None;
    let mut plans = Vec::with_capacity(selected.len());
    for &(route, section) in selected {
        let path = content_path(root, Environment::Preview, route, section);
        let record = match sources::state(&path, sources::read_record(&data, route, section)) {
            State::Missing => Plan::Write(NO_CONTENT_YET.to_owned()),
            State::Edited if force => Plan::Write(format!(
                "force; the edited file is kept as {}.orig",
                content_file(Environment::Preview, route, section)
            )),
            State::Edited => Plan::Keep { edited: true },
            State::Generated(_) if force => Plan::Write("force".to_owned()),
            State::Generated(record) => {
                // The sources the job would use now, looked up as it looks them up.
                let ctx = &*shared.ctx;
                if public.is_none() {
                    public = Some(public_notes(ctx, site).await?);
                }
                let public = public.as_deref().unwrap_or_default();
                let mut notes = search_public(ctx, &search_query(route, section), public).await?;
                if notes.is_empty() {
                    if site_notes.is_none() {
                        site_notes = Some(search_public(ctx, &site_query(site), public).await?);
                    }
                    notes = site_notes.clone().unwrap_or_default();
                }
                let (kind, tagged) = if section.template == Template::Products {
                    if products.is_none() {
                        products = Some(public_products(ctx, public).await?);
                    }
                    ("product note", products.clone().unwrap_or_default())
                } else {
                    ("note", Vec::new())
                };
                let request = generation_request(
                    site,
                    route,
                    section,
                    &notes,
                    &tagged,
                    site.notes_path(public),
                );
                let used: Vec<&NoteHit> = notes.iter().chain(&tagged).collect();
                match sources::why_stale(&record, &request, &used, kind) {
                    Some(why) => Plan::Write(why),
                    None => Plan::Keep { edited: false },
                }
            }
        };
        plans.push((route, section, record));
    }
    Ok(plans)
}

async fn generate(
    shared: &Shared,
    input: GenerateInput,
    call: &ToolContext,
) -> Result<ToolResult, ToolError> {
    let site = shared.site()?;
    let site = &*site;
    let root = shared.root();
    let selected = select(site, input.route.as_deref(), input.section.as_deref())?;
    let plans = plan(shared, site, &selected, input.force).await?;
    let pending: Vec<(&Route, &Section, &str)> = plans
        .iter()
        .filter_map(|(r, s, p)| match p {
            Plan::Write(why) => Some((*r, *s, why.as_str())),
            Plan::Keep { .. } => None,
        })
        .collect();
    let edited: Vec<String> = plans
        .iter()
        .filter(|(_, _, p)| matches!(p, Plan::Keep { edited: true }))
        .map(|(r, s, _)| r.label(s))
        .collect();
    // "Kept landing:hero: edited by hand (`force` replaces it, keeping yours as ….orig)."
    let kept_note = match edited.as_slice() {
        [] => String::new(),
        [one] => format!(
            " Kept {one}: edited by hand (`force` replaces it, keeping yours as a .orig file)."
        ),
        many => format!(
            " Kept {} sections edited by hand: {} (`force` replaces them, keeping yours as .orig files).",
            many.len(),
            many.join(", ")
        ),
    };

    if input.dry_run {
        let sections: Vec<PlannedSection> = pending
            .iter()
            .map(|(r, s, why)| PlannedSection {
                route: r.id.clone(),
                section: s.id.clone(),
                template: s.template,
                file: content_file(Environment::Preview, r, s),
                exists: exists(root, Environment::Preview, r, s),
                reason: (*why).to_owned(),
            })
            .collect();
        let message = if sections.is_empty() {
            nothing_to_generate(selected.len(), edited.len())
        } else {
            let reasons: Vec<&str> = sections.iter().map(|p| p.reason.as_str()).collect();
            format!(
                "Would generate content for {}{}",
                count(sections.len()),
                stale_tally(&reasons).map_or(String::new(), |t| format!(", {t}"))
            )
        };
        let mut text = format!("{message} (dry run: nothing was changed).{kept_note}");
        for planned in &sections {
            text.push_str(&format!(
                "\n  {}:{} ({}) — {} -> {}",
                planned.route, planned.section, planned.template, planned.reason, planned.file,
            ));
        }
        return Ok(ToolResult::new(
            PlanOutput {
                dry_run: true,
                sections,
                message: format!("{message}.{kept_note}"),
            },
            text,
        ));
    }
    if pending.is_empty() {
        return Ok(nothing(format!(
            "{}.{kept_note}",
            nothing_to_generate(selected.len(), edited.len())
        )));
    }
    let sections: Vec<(&Route, &Section)> = pending.iter().map(|(r, s, _)| (*r, *s)).collect();
    let batch = section_batch(
        GENERATE_JOB,
        ("Generating content", "Generated"),
        &call.caller.source,
        &sections,
        |r, s| {
            json!(GenerateJobInput {
                route: r.id.clone(),
                section: s.id.clone(),
                force: input.force,
                stale: true,
            })
        },
    );
    // "Generating content for 5 sections (no content yet)", "… (2 stale: 1 changed note)",
    // or how many are stale, then which and why.
    let reasons: Vec<&str> = pending.iter().map(|(_, _, why)| &**why).collect();
    let tally = stale_tally(&reasons);
    let why = if pending.iter().all(|(_, _, why)| *why == pending[0].2) {
        match tally {
            Some(tally) => format!(" ({tally}: {})", pending[0].2),
            None => format!(" ({})", pending[0].2),
        }
    } else {
        let reasons: Vec<String> = pending
            .iter()
            .take(5)
            .map(|(r, s, why)| format!("{} — {why}", r.label(s)))
            .collect();
        let more = pending.len() - reasons.len();
        let more = if more > 0 {
            format!("; and {more} more")
        } else {
            String::new()
        };
        let tally = tally.map_or(String::new(), |t| format!(" ({t})"));
        format!("{tally}: {}{more}", reasons.join("; "))
    };
    let message = format!(
        "Generating content for {}{why}.{kept_note}",
        count(pending.len())
    );
    let started = shared.ctx.enqueue_batch(batch, &message).await?;
    Ok(ToolResult::started(started))
}

/// "2 stale" (or "2 stale, 3 new or forced") for the reasons of the sections to generate,
/// when any is stale: its sources changed since it was generated.
fn stale_tally(reasons: &[&str]) -> Option<String> {
    let stale = reasons
        .iter()
        .filter(|why| **why != NO_CONTENT_YET && !why.starts_with("force"))
        .count();
    match stale {
        0 => None,
        n if n == reasons.len() => Some(format!("{n} stale")),
        n => Some(format!("{n} stale, {} new or forced", reasons.len() - n)),
    }
}

/// "Nothing to generate: 5 sections up to date with the notes (`force` regenerates them)".
fn nothing_to_generate(selected: usize, edited: usize) -> String {
    match selected - edited {
        _ if selected == 0 => "Nothing to generate: no sections are selected".to_owned(),
        0 => "Nothing to generate".to_owned(),
        1 => "Nothing to generate: 1 section up to date with the notes (`force` regenerates it)"
            .to_owned(),
        n => format!(
            "Nothing to generate: {n} sections up to date with the notes (`force` regenerates them)"
        ),
    }
}

/// A synchronous answer that nothing was started; `message` is its first sentence.
fn nothing(message: String) -> ToolResult {
    let text = if message.ends_with('.') {
        message.clone()
    } else {
        format!("{message}.")
    };
    ToolResult::new(
        PlanOutput {
            dry_run: false,
            sections: Vec::new(),
            message,
        },
        text,
    )
}

async fn build(
    shared: &Shared,
    input: BuildInput,
    call: &ToolContext,
) -> Result<ToolResult, ToolError> {
    let (job, message) = build_job(shared, input, call.caller.source.clone()).await?;
    let started = shared.ctx.enqueue(job, &message).await?;
    Ok(ToolResult::started(started))
}

/// A build job for `input` started by `source`, and what it is said to do. A build renders
/// the content as it is when it runs: it waits for the operations writing that
/// environment's content now, so it never renders half-written content.
pub(crate) async fn build_job(
    shared: &Shared,
    input: BuildInput,
    source: Source,
) -> Result<(NewJob, String), ToolError> {
    let routes = shared.site()?.routes.len();
    let environment = input.environment;
    let writers: &[&str] = match environment {
        Environment::Preview => &[GENERATE_JOB],
        Environment::Production => &[PROMOTE_JOB, ROLLBACK_JOB],
    };
    let after = active(shared, writers).await?;
    let job = after.iter().fold(
        NewJob::new(BUILD_JOB, json!(input))
            .source(source)
            .label(format!("build {environment}"))
            // "Built preview: 43 pages in 0.3s → dist/preview/".
            .wording(
                Wording::job(format!("Built {environment}"))
                    .detail("{pages:page:pages} in {took} → {output}/"),
            ),
        |job, id| job.after(id.clone()),
    );
    // The notes' pages are counted when the build reads them.
    let mut message = format!(
        "Building the {environment} site ({routes} route{} and the published notes)",
        if routes == 1 { "" } else { "s" }
    );
    if !after.is_empty() {
        message.push_str(&format!(" once {} has ended", after.join(" and ")));
    }
    Ok((job, message))
}

async fn serve(
    shared: &Shared,
    input: ServeInput,
    call: &ToolContext,
) -> Result<ToolResult, ToolError> {
    shared.site()?;
    let environment = input.environment;
    let input = ServeJobInput {
        serve: input,
        owner: brain_plugin_api::process_tag(),
    };
    let job = NewJob::new(SERVE_JOB, json!(input))
        .source(call.caller.source.clone())
        .label(format!("serve {environment}"))
        .wording(crate::serve::wording(environment));
    let port = match input.serve.port {
        0 => "a free port".to_owned(),
        port => format!("http://127.0.0.1:{port}/"),
    };
    let message = format!("Serving the {environment} site at {port} until stopped (Ctrl-C)");
    let started = shared.ctx.enqueue(job, &message).await?;
    Ok(ToolResult::started(started))
}

/// The unfinished operations of these job types: what new work must wait for.
async fn active(shared: &Shared, job_types: &[&str]) -> Result<Vec<String>, ToolError> {
    let mut ids = Vec::new();
    for job_type in job_types {
        ids.extend(shared.ctx.active_operations(job_type).await?);
    }
    Ok(ids)
}

/// Which way content moves: preview → production, or out of production.
#[derive(Clone, Copy)]
enum Publish {
    Promote,
    Rollback,
}

impl Publish {
    /// The environment a section must have content in to take part.
    fn from(self) -> Environment {
        match self {
            Publish::Promote => Environment::Preview,
            Publish::Rollback => Environment::Production,
        }
    }
}

/// `site_promote` and `site_rollback`: one job per selected section that has content to
/// move, as a batch.
async fn publish(
    shared: &Shared,
    direction: Publish,
    input: SelectInput,
    call: &ToolContext,
) -> Result<ToolResult, ToolError> {
    let site = shared.site()?;
    let site = &*site;
    let root = shared.root();
    let pending: Vec<(&Route, &Section)> =
        select(site, input.route.as_deref(), input.section.as_deref())?
            .into_iter()
            .filter(|(r, s)| exists(root, direction.from(), r, s))
            .collect();
    let (job_type, label, nothing_text, message) = match direction {
        Publish::Promote => (
            PROMOTE_JOB,
            ("Promoting content", "Promoted"),
            "Nothing to promote: the selected sections have no preview content (generate it with site_generate)",
            format!("Promoting {} to production", count(pending.len())),
        ),
        Publish::Rollback => (
            ROLLBACK_JOB,
            ("Rolling back content", "Rolled back"),
            "Nothing to roll back: the selected sections have no production content",
            format!(
                "Removing the production content of {}",
                count(pending.len())
            ),
        ),
    };
    if pending.is_empty() {
        return Ok(nothing(nothing_text.to_owned()));
    }
    let mut batch = section_batch(
        job_type,
        label,
        &call.caller.source,
        &pending,
        publish_input,
    );
    // Promoting copies preview content: not while a generate still writes it.
    if let Publish::Promote = direction {
        batch.after = active(shared, &[GENERATE_JOB]).await?;
    }
    let mut message = message;
    if !batch.after.is_empty() {
        message.push_str(&format!(" once {} has ended", batch.after.join(" and ")));
    }
    let started = shared.ctx.enqueue_batch(batch, &message).await?;
    Ok(ToolResult::started(started))
}

fn publish_input(route: &Route, section: &Section) -> Value {
    json!(PublishJobInput {
        route: route.id.clone(),
        section: section.id.clone(),
    })
}

fn routes(shared: &Shared) -> Result<ToolResult, ToolError> {
    let site = shared.site()?;
    let site = &*site;
    let root = shared.root();
    let routes: Vec<RouteInfo> = site
        .routes
        .iter()
        .map(|r| RouteInfo {
            id: r.id.clone(),
            path: r.path.clone(),
            title: r.title.clone(),
            url: site.url(&r.path),
            sections: r
                .sections
                .iter()
                .map(|s| SectionInfo {
                    id: s.id.clone(),
                    template: s.template,
                    preview: exists(root, Environment::Preview, r, s),
                    production: exists(root, Environment::Production, r, s),
                })
                .collect(),
        })
        .collect();
    let mut text = format!(
        "{} ({}): {} route{}",
        site.title,
        site.base_url,
        routes.len(),
        if routes.len() == 1 { "" } else { "s" }
    );
    for route in &routes {
        text.push_str(&format!(
            "\n  {} {} \"{}\"",
            route.path, route.id, route.title
        ));
        for s in &route.sections {
            let state = match (s.preview, s.production) {
                (true, true) => "preview, production",
                (true, false) => "preview",
                (false, true) => "production",
                (false, false) => "no content",
            };
            text.push_str(&format!("\n    {} ({}): {state}", s.id, s.template));
        }
    }
    Ok(ToolResult::new(
        RoutesOutput {
            title: site.title.clone(),
            base_url: site.base_url.clone(),
            routes,
        },
        text,
    ))
}

fn templates() -> ToolResult {
    let templates: Vec<TemplateInfo> = Template::ALL
        .into_iter()
        .map(|t| TemplateInfo {
            name: t,
            description: t.description().to_owned(),
            kind: t.generation_kind(),
            schema: t.schema(),
        })
        .collect();
    let mut text = format!("{} section templates:", templates.len());
    for t in &templates {
        text.push_str(&format!("\n  {}: {}", t.name, t.description));
    }
    ToolResult::new(TemplatesOutput { templates }, text)
}
