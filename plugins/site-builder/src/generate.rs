//! The `site-builder:generate` job: writes one section's preview content. It collects the
//! notes relevant to the section, asks the configured generator for content of kind
//! `site-section:<template>` (with the template's JSON schema and a prompt a language model
//! can follow), checks the answer against the template's type and writes it to
//! `content/preview/<route>/<section>.md`.
//!
//! The generation context is a contract with the generators (the offline `local` one
//! composes content from it without a language model):
//!
//! ```json
//! { "site":    { "title", "description", "base_url", "cta": {…} | null,
//!                "notes_path": "/notes" | null },  // where the published notes are listed
//!   "route":   { "id", "path", "title" },
//!   "section": { "id", "template" },
//!   "notes":    [NoteHit, …],   // the published notes best matching the route title, the
//!                               // section id and the template (6), or the site's title and
//!                               // description when that finds none
//!   "products": [NoteHit, …] }  // published notes tagged `product` (12)
//! ```
//!
//! Only published notes are drawn on: a section is published, so what a private note says
//! must not reach it. The public notes, `products` and the site-wide fallback are the same
//! for every section of a batch, so they are looked up once per batch (a 1,000-section
//! `site_generate` asked the notes index 1,000 times for the same product list).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use brain_plugin_api::{
    GenerateError, GenerationRequest, JobContext, JobError, JobHandler, JsonSchema, NoteHit,
    PluginContext, SideEffect, ToolError,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::config::{Route, Section, Site};
use crate::content::{Environment, content_file, content_path, content_write};
use crate::garden::Garden;
use crate::sources::{self, Record, State};
use crate::state::{Shared, at};
use crate::templates::{SectionContent, Template};

/// Notes searched for each section.
pub const NOTES_PER_SECTION: usize = 6;
/// Product notes handed to every section (the products section lists them).
pub const PRODUCT_NOTES: usize = 12;

/// How many times more notes a search asks for than it keeps, private ones being left out.
const SEARCH_DEPTH: usize = 8;

/// The generate job's input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "brain_plugin_api::schemars")]
pub struct GenerateJobInput {
    pub route: String,
    pub section: String,
    /// Replace existing preview content, keeping a person's edit beside it as `.orig`.
    /// Without it a file that appeared after the job was enqueued is kept.
    #[serde(default)]
    pub force: bool,
    /// Replace generated content whose sources changed (a person's edit is still kept).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stale: bool,
}

/// What a generate job did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "brain_plugin_api::schemars")]
pub struct GenerateOutput {
    pub route: String,
    pub section: String,
    /// The content file, relative to the brain directory.
    pub file: String,
    /// True when the file already existed and was kept (the job ran without `force`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub kept: bool,
    /// Where a person's edit of the file was kept before it was replaced (`force`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<String>,
}

/// Runs `site-builder:generate` jobs.
pub(crate) struct GenerateJob {
    pub(crate) shared: Arc<Shared>,
}

#[async_trait]
impl JobHandler for GenerateJob {
    type Input = GenerateJobInput;
    type Output = GenerateOutput;

    async fn run(
        &self,
        input: GenerateJobInput,
        ctx: JobContext,
    ) -> Result<GenerateOutput, JobError> {
        let (site, r, s) = self.shared.section_for_job(&input.route, &input.section)?;
        let (route, section) = at(&site, r, s);
        let label = route.label(section);
        let root = self.shared.root();
        let file = content_file(Environment::Preview, route, section);
        let output = |kept, original| GenerateOutput {
            route: route.id.clone(),
            section: section.id.clone(),
            file: file.clone(),
            kept,
            original,
        };
        let data = self.shared.ctx.dirs().data.clone();
        let path = content_path(root, Environment::Preview, route, section);
        // Decided again here, not only when the batch was planned: a person may have edited
        // the file since.
        let edited = match sources::state(&path, sources::read_record(&data, route, section)) {
            State::Missing => false,
            State::Edited if !input.force => {
                ctx.report_progress(3, 3, &format!("Kept {file}: edited by hand"));
                return Ok(output(true, None));
            }
            State::Edited => true,
            State::Generated(_) if !input.force && !input.stale => {
                ctx.report_progress(3, 3, &format!("Kept {file}"));
                return Ok(output(true, None));
            }
            State::Generated(_) => false,
        };

        check_cancelled(&ctx)?;
        ctx.report_progress(0, 3, &format!("Collecting notes for {label}"));
        let plugin = &*self.shared.ctx;
        let batch = ctx.info().batch_id.as_deref();
        // Only public notes: what a section shows is published.
        let public = per_batch(&self.shared.batch_lookups, batch, Lookup::Public, || {
            public_notes(plugin, &site)
        })
        .await?;
        let mut notes = Arc::new(
            search_public(plugin, &search_query(route, section), &public)
                .await
                .map_err(notes_error)?,
        );
        if notes.is_empty() {
            // Nothing matches the page and section (a young brain, a page titled "Home"):
            // the notes closest to what the whole site is about are the next best source.
            let query = site_query(&site);
            notes = per_batch(&self.shared.batch_lookups, batch, Lookup::SiteNotes, || {
                search_public(plugin, &query, &public)
            })
            .await?;
        }
        let products = if section.template == Template::Products {
            per_batch(&self.shared.batch_lookups, batch, Lookup::Products, || {
                public_products(plugin, &public)
            })
            .await?
        } else {
            // Only the products section is made from the products: another section is not
            // stale when one is added.
            Arc::default()
        };

        check_cancelled(&ctx)?;
        ctx.report_progress(1, 3, &format!("Generating {label}"));
        let request = generation_request(
            &site,
            route,
            section,
            &notes,
            &products,
            site.notes_path(&public),
        );
        let generator = plugin.generator();
        // While the generator waits (a model server that does not answer, retried), its
        // notice is this item's progress message: one line that changes, not silence.
        let notice = |text: &str| ctx.report_progress(1, 3, &format!("{label}: {text}"));
        let answer = generator
            .generate_with_notices(&request, ctx.cancellation(), &notice)
            .await
            .map_err(|e| generate_error(e, generator.name()))?;
        let content = content_from_answer(section.template, answer).map_err(|e| {
            JobError::permanent(format!(
                "the {} generator's content for {label} does not fit the {} template: {e}",
                generator.name(),
                section.template
            ))
        })?;

        check_cancelled(&ctx)?;
        ctx.report_progress(2, 3, &format!("Writing {label}"));
        // Staged: written when this run's completion commits, never by a run whose lease
        // another worker took over.
        let (_, write) = content_write(root, Environment::Preview, route, section, &content)
            .map_err(|e| JobError::permanent(e.to_string()))?;
        let mut original = None;
        if edited {
            // `force` over a person's edit: theirs is kept beside, never lost.
            let bytes = std::fs::read(&path).map_err(|e| {
                JobError::permanent(format!("cannot read {file}: {e}")).or_waiting(&e)
            })?;
            let kept = format!("{file}.orig");
            ctx.stage(SideEffect::WriteFile {
                path: root.join(&kept),
                bytes,
            });
            original = Some(kept);
        }
        if let SideEffect::WriteFile { bytes, .. } = &write {
            let used: Vec<&NoteHit> = notes.iter().chain(products.iter()).collect();
            let record = Record::new(bytes, &request, &used);
            ctx.stage(sources::record_write(&data, route, section, &record));
        }
        ctx.stage(write);
        ctx.report_progress(3, 3, &format!("Wrote {file}"));
        Ok(output(false, original))
    }

    /// The generator's usual time plus gathering notes and writing the file (a few
    /// milliseconds): a type's first estimate, before it has a history.
    fn default_duration(&self) -> Duration {
        self.shared.ctx.generator().typical_duration() + Duration::from_millis(5)
    }
}

/// A lookup that is the same for every section of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// [`public_notes`].
    Public,
    /// [`public_products`].
    Products,
    /// `search_public(site_query(site))`.
    SiteNotes,
}

/// The public notes, as hits whose summary and snippet are the note's first sentence as
/// its page shows it: all that generation may draw on, so that no section shows what a
/// private note says — nor its name, which a public note's wikilink to it would carry.
pub(crate) async fn public_notes(
    ctx: &dyn PluginContext,
    site: &Site,
) -> Result<Vec<NoteHit>, ToolError> {
    let notes = ctx.published_notes(&site.publish_tags).await?;
    let garden = Garden::plan(site, notes);
    Ok(garden
        .notes
        .into_iter()
        .map(|placed| NoteHit {
            path: placed.note.path,
            title: placed.note.title,
            tags: placed.note.tags,
            snippet: placed.summary.clone(),
            summary: placed.summary,
            score: 0.0,
            hash: placed.note.hash,
        })
        .collect())
}

/// Of `hits`, the public ones (as [`public_notes`] has them), in order, at most `limit`.
fn only_public(hits: Vec<NoteHit>, public: &[NoteHit], limit: usize) -> Vec<NoteHit> {
    let by_path: HashMap<&str, &NoteHit> = public.iter().map(|n| (n.path.as_str(), n)).collect();
    hits.into_iter()
        .filter_map(|hit| {
            by_path.get(hit.path.as_str()).map(|public| NoteHit {
                score: hit.score,
                ..(*public).clone()
            })
        })
        .take(limit)
        .collect()
}

/// The public notes best matching `query`, at most [`NOTES_PER_SECTION`]: a search deep
/// enough that private matches ahead of them do not crowd them out.
pub(crate) async fn search_public(
    ctx: &dyn PluginContext,
    query: &str,
    public: &[NoteHit],
) -> Result<Vec<NoteHit>, ToolError> {
    if public.is_empty() {
        return Ok(Vec::new());
    }
    let hits = ctx
        .search_notes(query, NOTES_PER_SECTION * SEARCH_DEPTH)
        .await?;
    Ok(only_public(hits, public, NOTES_PER_SECTION))
}

/// The public notes tagged `product`, newest first, at most [`PRODUCT_NOTES`].
pub(crate) async fn public_products(
    ctx: &dyn PluginContext,
    public: &[NoteHit],
) -> Result<Vec<NoteHit>, ToolError> {
    let tagged = ctx
        .notes_tagged("product", PRODUCT_NOTES * SEARCH_DEPTH)
        .await?;
    Ok(only_public(tagged, public, PRODUCT_NOTES))
}

/// A per-batch lookup's answer: (batch id, lookup, notes).
pub(crate) type Remembered = (String, Lookup, Arc<Vec<NoteHit>>);

/// Answers remembered: two lookups of the last eight batches (a few run at once at most).
const LOOKUPS_REMEMBERED: usize = 16;

/// `fetch`'s answer, looked up once per batch: every section of one `site_generate` sees
/// the same product notes (and the same notes about the whole site), and a 1,000-section
/// batch asks the notes index once for them instead of 1,000 times. A job outside a batch
/// looks up for itself.
async fn per_batch<F>(
    remembered_lookups: &Mutex<Vec<Remembered>>,
    batch: Option<&str>,
    lookup: Lookup,
    fetch: impl FnOnce() -> F,
) -> Result<Arc<Vec<NoteHit>>, JobError>
where
    F: Future<Output = Result<Vec<NoteHit>, ToolError>>,
{
    let remembered = |lookups: &[Remembered], batch: &str| {
        lookups
            .iter()
            .find(|(b, l, _)| b == batch && *l == lookup)
            .map(|(_, _, notes)| notes.clone())
    };
    if let Some(batch) = batch {
        let lookups = remembered_lookups.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(notes) = remembered(&lookups, batch) {
            return Ok(notes);
        }
    }
    let notes = Arc::new(fetch().await.map_err(notes_error)?);
    let Some(batch) = batch else {
        return Ok(notes);
    };
    let mut lookups = remembered_lookups.lock().unwrap_or_else(|e| e.into_inner());
    // Jobs that started together may each have fetched: the first answer stays, so that
    // all sections see the same one.
    if let Some(first) = remembered(&lookups, batch) {
        return Ok(first);
    }
    if lookups.len() >= LOOKUPS_REMEMBERED {
        lookups.remove(0);
    }
    lookups.push((batch.to_owned(), lookup, notes.clone()));
    Ok(notes)
}

fn check_cancelled(ctx: &JobContext) -> Result<(), JobError> {
    if ctx.is_cancelled() {
        Err(JobError::Cancelled)
    } else {
        Ok(())
    }
}

fn notes_error(error: ToolError) -> JobError {
    // The notes index is local: a failure is most likely a busy or rebuilding index.
    JobError::retryable(format!("cannot search the notes: {error}"))
}

fn generate_error(error: GenerateError, provider: &str) -> JobError {
    match error {
        GenerateError::Cancelled => JobError::Cancelled,
        GenerateError::Unavailable { message, retryable } => {
            // Shown after the item's label ("about:text: the openai generator …").
            let message = format!("the {provider} generator is unavailable: {message}");
            if retryable {
                JobError::retryable(message)
            } else {
                JobError::permanent(message)
            }
        }
        other => JobError::permanent(other.to_string()),
    }
}

/// The generator's answer as typed content. A `template` key (some models echo it) is
/// dropped; anything else that does not fit is an error naming the field.
pub fn content_from_answer(
    template: Template,
    mut answer: Value,
) -> Result<SectionContent, String> {
    if let Value::Object(fields) = &mut answer
        && fields.get("template").and_then(Value::as_str) == Some(template.name())
    {
        fields.remove("template");
    }
    SectionContent::from_value(template, answer).map_err(|e| e.to_string())
}

/// The words the notes are searched with: the page's title, the section's id and the
/// template's name, each word once.
pub fn search_query(route: &Route, section: &Section) -> String {
    let mut words: Vec<String> = Vec::new();
    let text = format!("{} {} {}", route.title, section.id, section.template.name());
    for word in text.split(|c: char| c.is_whitespace() || c == '-') {
        let word = word.to_lowercase();
        if !word.is_empty() && !words.contains(&word) {
            words.push(word);
        }
    }
    words.join(" ")
}

/// The fallback search: the site's title and description.
pub fn site_query(site: &Site) -> String {
    format!("{} {}", site.title, site.description)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() > 2)
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The request for one section: kind, prompt, schema and context (see the module docs).
pub fn generation_request(
    site: &Site,
    route: &Route,
    section: &Section,
    notes: &[NoteHit],
    products: &[NoteHit],
    notes_path: Option<&str>,
) -> GenerationRequest {
    let template = section.template;
    GenerationRequest {
        kind: template.generation_kind(),
        prompt: prompt(site, route, section),
        schema: template.schema(),
        context: json!({
            "site": {
                "title": site.title,
                "description": site.description,
                "base_url": site.base_url,
                "cta": site.cta,
                "notes_path": notes_path,
            },
            "route": { "id": route.id, "path": route.path, "title": route.title },
            "section": { "id": section.id, "template": template.name() },
            "notes": notes,
            "products": products,
        }),
    }
}

fn prompt(site: &Site, route: &Route, section: &Section) -> String {
    let template = section.template;
    let about = if site.description.trim().is_empty() {
        String::new()
    } else {
        format!(" ({})", site.description.trim())
    };
    let task = match template {
        Template::Hero => {
            "Write the hero: a headline of at most eight words saying what this site offers, \
             one sentence of subheadline, and a call to action (`cta_text`, `cta_url`). Use the \
             site's call to action (`site.cta`) for the button when there is one; otherwise \
             link a page of this site such as `/about`."
        }
        Template::Features => {
            "List three to six things the site's author does, knows or offers, one item per \
             relevant note: a title of two to five words, one or two sentences of description, \
             and the note's `path` in `note`."
        }
        Template::Products => {
            "List the products or services, one item per note in `products` (the notes tagged \
             product): its name, one or two sentences on what it is and who it is for, and the \
             note's `path` in `note`. When `products` is empty, answer with an empty `items` \
             list; never invent a product."
        }
        Template::Cta => {
            "Write a call to action: a short, direct headline, one or two sentences on why to \
             act, a button label and its URL. Use the site's call to action (`site.cta`) when \
             there is one."
        }
        Template::Text => {
            "Write a titled block of prose for this page: a title, and a body of two to four \
             short paragraphs in Markdown (no HTML, no top-level heading), in the first person \
             where the notes are."
        }
        Template::NoteList => {
            "List the most relevant notes: for each, its title, its `path`, and a one-sentence \
             summary."
        }
    };
    format!(
        "You write the \"{section}\" section of the page \"{page}\" ({path}) of the website \
         \"{title}\"{about}. The section is a {template} section: {purpose}\n\n{task}\n\n\
         Draw only on the notes in the context (`notes`: the notes most relevant to this \
         section; `products`: the notes tagged product); do not invent facts, names or \
         numbers. Write in the language of the notes, plainly and concretely, for visitors \
         of the site. Answer with a single JSON object matching the schema, nothing else.",
        section = section.id,
        page = route.title,
        path = route.path,
        title = site.title,
        purpose = template.description(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_words_are_unique() {
        let route = Route {
            id: "landing".into(),
            path: "/".into(),
            title: "Home Features".into(),
            nav: true,
            sections: Vec::new(),
        };
        let section = Section {
            id: "features".into(),
            template: Template::Features,
        };
        assert_eq!(search_query(&route, &section), "home features");
        let section = Section {
            id: "list".into(),
            template: Template::NoteList,
        };
        assert_eq!(search_query(&route, &section), "home features list note");
    }
}
