//! The `site-builder:build` job: renders every route of the site with its sections'
//! content into `dist/<environment>/` (`index.html` for `/`, `about/index.html` for
//! `/about`), a page per published note with its collections, tags and search
//! (`pages.rs`), plus `style.css`, `sitemap.xml`, the feeds, `search.json` and `404.html`.
//!
//! A build is atomic: it writes into `dist/.build-<environment>-<random>` and only when
//! everything is written swaps it in (the old folder is renamed away, the new one renamed
//! in, the old one deleted). A failed or cancelled build deletes its folder and leaves the
//! previous site exactly as it was.
//!
//! Content problems do not stop a build: a section without content, or with a content
//! file that does not validate, is left out of its page with a warning naming it
//! (`landing:products has no content`, `content/preview/landing/features.md: items[1].title:
//! …`). Template problems do stop it: they are the site's code.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use brain_plugin_api::{
    JobContext, JobError, JobHandler, JsonSchema, SideEffect, process_tag, tagged_process_gone,
};
use serde::{Deserialize, Serialize};

use crate::config::Site;
use crate::content::{Environment, content_path, read_content, unique_suffix};
use crate::garden::Garden;
use crate::pages::{self, Page};
use crate::render::{Renderer, SiteValues};
use crate::state::Shared;

/// Rendering threads at most: pages are cheap, so more than a few only adds contention on
/// the output folder.
const MAX_THREADS: usize = 4;

/// The build job's input (and `site_build`'s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "brain_plugin_api::schemars")]
#[serde(deny_unknown_fields)]
pub struct BuildInput {
    /// Which content to build with: `preview` (generated, the default) or `production`
    /// (promoted).
    #[serde(default)]
    pub environment: Environment,
    /// Fail the build when a page links to a page or file the site does not have (without
    /// it, each broken link is a warning).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub strict: bool,
}

/// What a build produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "brain_plugin_api::schemars")]
pub struct BuildOutput {
    pub environment: Environment,
    /// Pages rendered: one per route, per published note, per collection and tag with
    /// notes, the list of tags and the search page (`404.html` not counted).
    pub pages: usize,
    /// Published notes among them.
    #[serde(default)]
    pub notes: usize,
    /// The output folder, relative to the brain directory: `dist/preview`.
    pub output: String,
    /// Sections left out, each naming the section or the content file and field.
    pub warnings: Vec<String>,
}

/// Runs `site-builder:build` jobs.
pub(crate) struct BuildJob {
    pub(crate) shared: Arc<Shared>,
}

#[async_trait]
impl JobHandler for BuildJob {
    type Input = BuildInput;
    type Output = BuildOutput;

    async fn run(&self, input: BuildInput, ctx: JobContext) -> Result<BuildOutput, JobError> {
        let site = self.shared.site_for_job()?;
        let root = self.shared.root().to_path_buf();
        let notes = self
            .shared
            .ctx
            .published_notes(&site.publish_tags)
            .await
            .map_err(|e| JobError::retryable(format!("cannot read the notes: {e}")))?;
        // Hundreds of file reads and writes: off the async workers.
        tokio::task::spawn_blocking(move || {
            let garden = Garden::plan(&site, notes);
            build(&root, &site, &garden, input.environment, input.strict, &ctx)
        })
        .await
        .map_err(|e| JobError::permanent(format!("the build stopped unexpectedly: {e}")))?
    }

    /// Rendering takes a few milliseconds a page (measured: 2 pages in 7-12 ms): the first
    /// estimate before the type has a history.
    fn default_duration(&self) -> Duration {
        let pages = self.shared.site().map_or(1, |site| site.routes.len()) as u32;
        Duration::from_millis(5) + Duration::from_millis(3) * pages
    }
}

/// Builds `site` with the published notes of `garden` into `<root>/dist/<environment>`.
fn build(
    root: &Path,
    site: &Site,
    garden: &Garden,
    environment: Environment,
    strict: bool,
    ctx: &JobContext,
) -> Result<BuildOutput, JobError> {
    let pages = pages::all(site, garden);
    let total = pages.len() as u64;
    if let Some(empty) = no_content(root, site, environment) {
        return Err(JobError::permanent(empty));
    }
    ctx.report_progress(0, total, "Loading templates");
    let renderer = Renderer::load(root).map_err(JobError::permanent)?;
    let dist = root.join("dist");
    std::fs::create_dir_all(&dist)
        .map_err(|e| JobError::permanent(format!("cannot create dist/: {e}")).or_waiting(&e))?;
    remove_stale(&dist, environment);

    let staging = StagingDir::create(&dist, environment).map_err(|e| {
        JobError::permanent(format!("cannot create a build folder in dist/: {e}")).or_waiting(&e)
    })?;
    let nav = pages::nav(site, garden);
    let max_depth = pages
        .iter()
        .map(|page| crate::render::depth_of(&page.path(site, garden)))
        .max()
        .unwrap_or(0);
    let values = SiteValues::new(
        site,
        environment,
        &nav,
        max_depth,
        pages::note_pages(garden),
        pages.contains(&Page::Tags).then(|| "/tags".to_owned()),
    );
    let out = Output {
        root,
        site,
        garden,
        environment,
        renderer: &renderer,
        values: &values,
        dir: &staging.path,
    };
    let mut warnings = garden.warnings.clone();
    warnings.extend(render_pages(&out, &pages, ctx)?);
    ctx.report_progress(
        total,
        total,
        "Writing style.css, sitemap.xml, feeds and 404.html",
    );
    write_new(
        &staging.path.join("style.css"),
        renderer.stylesheet.as_bytes(),
    )?;
    write_new(
        &staging.path.join("sitemap.xml"),
        pages::sitemap(site, garden, &pages).as_bytes(),
    )?;
    if !garden.notes.is_empty() {
        write_new(
            &staging.path.join("search.js"),
            renderer.search_script.as_bytes(),
        )?;
        write_new(
            &staging.path.join("search.json"),
            pages::search_index(garden).as_bytes(),
        )?;
    }
    for page in &pages {
        if let Page::Collection(c) = page {
            let file = pages::feed_path(&site.collections[*c].path);
            write_new(
                &staging.path.join(file.trim_start_matches('/')),
                pages::feed(site, garden, *c).as_bytes(),
            )?;
        }
    }
    let not_found = renderer
        .not_found(&values, site, &nav)
        .map_err(JobError::permanent)?;
    write_new(&staging.path.join("404.html"), not_found.as_bytes())?;
    if ctx.is_cancelled() {
        return Err(JobError::Cancelled);
    }
    let broken = broken_links(&staging.path, site, garden, &pages);
    if strict && !broken.is_empty() {
        return Err(JobError::permanent(format!(
            "{} broken link{} (strict): {}",
            broken.len(),
            if broken.len() == 1 { "" } else { "s" },
            broken.join("; ")
        )));
    }
    warnings.extend(broken);

    let output = format!("dist/{environment}");
    // Staged: the new site replaces the old one in one step (never neither) when this
    // run's completion commits; a run whose lease was taken over leaves the site alone.
    ctx.stage(SideEffect::ReplaceDir {
        from: staging.keep(),
        to: dist.join(environment.name()),
    });
    ctx.report_progress(total, total, &format!("Built {output}"));
    Ok(BuildOutput {
        environment,
        pages: pages.len(),
        notes: garden.notes.len(),
        output,
        warnings,
    })
}

/// What rendering a page needs.
struct Output<'a> {
    root: &'a Path,
    site: &'a Site,
    garden: &'a Garden,
    environment: Environment,
    renderer: &'a Renderer,
    values: &'a SiteValues,
    /// The build folder pages are written into.
    dir: &'a Path,
}

/// (route index, that page's warnings), for the pages that have some.
type PageWarnings = Vec<(usize, Vec<String>)>;

/// Renders and writes every page, on as many threads as there are cores (pages are
/// independent); returns the warnings in page order. The first error stops the others.
fn render_pages(
    out: &Output<'_>,
    pages: &[Page],
    ctx: &JobContext,
) -> Result<Vec<String>, JobError> {
    let total = pages.len();
    let next = AtomicUsize::new(0);
    let done = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let worker = || -> Result<PageWarnings, JobError> {
        let mut warnings = Vec::new();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            if index >= total || stop.load(Ordering::Relaxed) {
                return Ok(warnings);
            }
            if ctx.is_cancelled() {
                return Err(JobError::Cancelled);
            }
            let page = pages[index];
            ctx.report_progress(
                done.load(Ordering::Relaxed),
                total as u64,
                &format!("Rendering {}", page.path(out.site, out.garden)),
            );
            let page_warnings =
                render_page(out, page).inspect_err(|_| stop.store(true, Ordering::Relaxed))?;
            if !page_warnings.is_empty() {
                warnings.push((index, page_warnings));
            }
            done.fetch_add(1, Ordering::Relaxed);
        }
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_THREADS)
        .min(total.max(1));
    let results: Vec<Result<PageWarnings, JobError>> = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(worker)).collect();
        let mut results = vec![worker()];
        for helper in helpers {
            results.push(
                helper
                    .join()
                    .unwrap_or_else(|_| Err(JobError::permanent("a rendering thread panicked"))),
            );
        }
        results
    });
    let mut warnings = Vec::new();
    for result in results {
        warnings.extend(result?);
    }
    warnings.sort_by_key(|(index, _)| *index);
    Ok(warnings.into_iter().flat_map(|(_, w)| w).collect())
}

/// Why there is nothing to build, when no section of `environment` has content: a site of
/// "Nothing here yet." pages is a mistake to say, not a build to report as done. A site
/// that declares no sections (its notes only) always builds.
fn no_content(root: &Path, site: &Site, environment: Environment) -> Option<String> {
    if site.routes.iter().all(|route| route.sections.is_empty()) {
        return None;
    }
    let any = site.routes.iter().any(|route| {
        route
            .sections
            .iter()
            .any(|section| content_path(root, environment, route, section).is_file())
    });
    if any {
        return None;
    }
    Some(match environment {
        Environment::Production => "nothing to build: no section has production content; \
             promote preview content to production first (the promote command), or build preview"
            .to_owned(),
        Environment::Preview => "nothing to build: no section has preview content; \
             generate it first (the generate command)"
            .to_owned(),
    })
}

/// Every link and asset on the built pages (`href`, `src`) that points inside the site but
/// at nothing there: "broken link on /about: ./docs/index.html". Links elsewhere (another
/// scheme, another host, a fragment) are not checked.
fn broken_links(out: &Path, site: &Site, garden: &Garden, pages: &[Page]) -> Vec<String> {
    let mut broken = Vec::new();
    let pages = pages
        .iter()
        .map(|page| (page.path(site, garden), page.output_file(site, garden)))
        .chain([("404 page".to_owned(), "404.html".to_owned())]);
    for (shown, file) in pages {
        let page = out.join(&file);
        let Ok(html) = std::fs::read_to_string(&page) else {
            continue;
        };
        let dir = page.parent().unwrap_or(out);
        for link in links(&html) {
            if let Some(target) = internal_target(&link)
                && !resolves(out, dir, target)
            {
                broken.push(format!("broken link on {shown}: {link}"));
            }
        }
    }
    broken.dedup();
    broken
}

/// The values of the `href` and `src` attributes in `html`, unescaped.
fn links(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attribute in ["href=\"", "src=\""] {
        let mut rest = html;
        while let Some(at) = rest.find(attribute) {
            let after = &rest[at + attribute.len()..];
            let Some(end) = after.find('"') else { break };
            // Only whole attribute names: not `data-href="`.
            let before = rest[..at].chars().next_back();
            if before.is_none_or(|c| c.is_whitespace()) {
                found.push(after[..end].replace("&amp;", "&").replace("&#x2f;", "/"));
            }
            rest = &after[end..];
        }
    }
    found
}

/// The path part of a link into the site, or `None` for one that leaves it (a scheme such
/// as `https:` or `mailto:`, `//host`, a fragment alone).
fn internal_target(link: &str) -> Option<&str> {
    let path = link.split(['#', '?']).next().unwrap_or_default();
    let scheme = path
        .split_once(':')
        .is_some_and(|(s, _)| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric()));
    (!path.is_empty() && !scheme && !path.starts_with("//")).then_some(path)
}

/// Whether `target`, relative to the page's folder `dir` (or to the site's root `out` when
/// it starts with `/`), names a file, or a folder with an `index.html`, inside the site.
fn resolves(out: &Path, dir: &Path, target: &str) -> bool {
    let mut path = if target.starts_with('/') {
        out.to_path_buf()
    } else {
        dir.to_path_buf()
    };
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if path == out || !path.pop() {
                    return false;
                }
            }
            part => path.push(part),
        }
    }
    path.starts_with(out) && (path.is_file() || path.join("index.html").is_file())
}

/// Renders `page` into the build folder; returns its warnings.
fn render_page(out: &Output<'_>, page: Page) -> Result<Vec<String>, JobError> {
    let file = out.dir.join(page.output_file(out.site, out.garden));
    let Page::Route(index) = page else {
        let html = pages::render(page, out.site, out.garden, out.renderer, out.values)
            .map_err(JobError::permanent)?;
        write_new(&file, html.as_bytes())?;
        return Ok(Vec::new());
    };
    let route = &out.site.routes[index];
    let mut warnings = Vec::new();
    let mut sections = Vec::with_capacity(route.sections.len());
    for section in &route.sections {
        match read_content(out.root, out.environment, route, section) {
            Ok(Some(content)) => {
                let html = out
                    .renderer
                    .section(out.values, route, section, &content)
                    .map_err(JobError::permanent)?;
                sections.push((section, html));
            }
            Ok(None) => warnings.push(format!("{} has no content", route.label(section))),
            Err(e) => warnings.push(e.to_string()),
        }
    }
    let html = out
        .renderer
        .page(out.values, out.site, index, sections)
        .map_err(JobError::permanent)?;
    write_new(&file, html.as_bytes())?;
    Ok(warnings)
}

/// Writes a file of the fresh build folder. Nothing reads it before the swap, so no
/// temporary-and-rename dance per file.
fn write_new(path: &Path, bytes: &[u8]) -> Result<(), JobError> {
    let write = || -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, bytes)
    };
    // A full disk is waited out (the job runs again once space is freed).
    write().map_err(|e| {
        JobError::permanent(format!("cannot write {}: {e}", path.display())).or_waiting(&e)
    })
}

/// A build folder, deleted when dropped unless it was kept for the swap: every early return
/// (an error, a cancellation, a panic unwinding) cleans up after itself.
struct StagingDir {
    path: PathBuf,
    done: bool,
}

impl StagingDir {
    fn create(dist: &Path, environment: Environment) -> std::io::Result<StagingDir> {
        // Tagged with this process, so the next build can tell a folder left by a process
        // that died mid-build (removed) from one still being built (kept).
        let path = dist.join(format!(
            ".build-{environment}-{}-{}",
            process_tag(),
            unique_suffix()
        ));
        std::fs::create_dir(&path)?;
        Ok(StagingDir { path, done: false })
    }

    /// The folder, left in place for the staged replacement to move.
    fn keep(mut self) -> PathBuf {
        self.done = true;
        self.path.clone()
    }
}

impl Drop for StagingDir {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Folders left behind. Build folders of a process that died (a kill mid-build) are
/// removed at once; those of a live process, or of one this process cannot see (another
/// pid namespace), only once older than an hour — a run whose completion was refused
/// leaves one. An old site whose deletion did not finish is removed, unless the site
/// itself is missing (a kill between the two renames of a swap, where the system cannot
/// exchange folders): then it is put back.
fn remove_stale(dist: &Path, environment: Environment) {
    let Ok(entries) = std::fs::read_dir(dist) else {
        return;
    };
    let old_site = format!(".{environment}.old-");
    let build = format!(".build-{environment}-");
    let site = dist.join(environment.name());
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(&old_site) {
            if !site.exists() && std::fs::rename(entry.path(), &site).is_ok() {
                continue;
            }
            let _ = std::fs::remove_dir_all(entry.path());
            continue;
        }
        let Some(rest) = name.strip_prefix(&build) else {
            continue;
        };
        let gone = rest
            .split('-')
            .next()
            .and_then(tagged_process_gone)
            .unwrap_or(false);
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| SystemTime::now().duration_since(modified).ok())
            .is_some_and(|age| age > Duration::from_secs(3600));
        if gone || old {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brain_plugin_api::process_tag_for;

    #[test]
    fn folders_of_gone_builds_go_and_a_missing_site_comes_back() {
        let dist = tempfile::tempdir().unwrap();
        let folder = |name: &str| {
            let path = dist.path().join(name);
            std::fs::create_dir_all(&path).unwrap();
            std::fs::write(path.join("index.html"), name).unwrap();
            path
        };
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let gone = folder(&format!(".build-preview-{}-1", process_tag_for(dead)));
        let live = folder(&format!(".build-preview-{}-2", process_tag()));
        let unknown = folder(".build-preview-p1n9b0-3");
        let other_environment = folder(&format!(".build-production-{}-4", process_tag_for(dead)));
        // A swap killed between its two renames: the old site aside, none in place.
        let old = folder(".preview.old-5");

        remove_stale(dist.path(), Environment::Preview);
        assert!(!gone.exists(), "its process is gone");
        assert!(live.exists() && unknown.exists() && other_environment.exists());
        assert!(!old.exists());
        assert_eq!(
            std::fs::read_to_string(dist.path().join("preview/index.html")).unwrap(),
            ".preview.old-5",
            "the old site is back in place"
        );

        // With a site in place, an old one aside is only removed.
        let old = folder(".preview.old-6");
        remove_stale(dist.path(), Environment::Preview);
        assert!(!old.exists());
        assert_eq!(
            std::fs::read_to_string(dist.path().join("preview/index.html")).unwrap(),
            ".preview.old-5"
        );
    }
}
