//! The `site-builder:build` job: renders every route of the site with its sections'
//! content into `dist/<environment>/` (`index.html` for `/`, `about/index.html` for
//! `/about`), a page per published note with its collections, tags and search
//! (`pages.rs`), plus `style.css`, `sitemap.xml`, the feeds, `search.json` and `404.html`.
//!
//! A whole build is atomic: it writes into `dist/.build-<environment>-<random>` and only
//! when everything is written swaps it in (the old folder is renamed away, the new one
//! renamed in, the old one deleted). A failed or cancelled build deletes its folder and
//! leaves the previous site exactly as it was.
//!
//! A build over a site brains built (`.brain/site/built/<environment>.json` lists its
//! files and their hashes) renders every file in memory and compares: when at most
//! [`INCREMENTAL_MAX`] files differ, only those are replaced (each atomically) or removed,
//! with the manifest, as the job's staged effects — one changed note costs a few files,
//! not a thousand. More, and the site is built whole.
//!
//! Content problems do not stop a build: a section without content, or with a content
//! file that does not validate, is left out of its page with a warning naming it
//! (`landing:products has no content`, `content/preview/landing/features.md: items[1].title:
//! …`). Template problems do stop it: they are the site's code.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use brain_plugin_api::{
    JobContext, JobError, JobHandler, JsonSchema, SideEffect, process_tag, tagged_process_gone,
};
use serde::{Deserialize, Serialize};

use crate::config::Site;
use crate::content::{Environment, content_path, read_content, unique_suffix};
use crate::garden::Garden;
use crate::links::LinkCheck;
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
    /// Files written or removed: every file when the site was written whole, only those
    /// that changed when the site in place was updated (0: it was up to date).
    #[serde(default)]
    pub written: usize,
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
        let data = self.shared.ctx.dirs().data.clone();
        // Hundreds of file reads and writes: off the async workers.
        tokio::task::spawn_blocking(move || {
            let garden = Garden::plan(&site, notes);
            let target = Target {
                root: &root,
                data: &data,
                environment: input.environment,
            };
            build(&target, &site, &garden, input.strict, &ctx)
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

/// Where a build goes: the brain's folders and the environment.
struct Target<'a> {
    root: &'a Path,
    /// The brain's data folder, where the manifest of each built site is kept.
    data: &'a Path,
    environment: Environment,
}

/// At most this many files changed (written or removed) are applied to the site in place;
/// more, and the whole site is written to a fresh folder and swapped in.
const INCREMENTAL_MAX: usize = 64;

/// Builds `site` with the published notes of `garden` into `<root>/dist/<environment>`.
/// When the site in place was built by brains (its manifest is there), every file is
/// rendered in memory and compared with it, and only the few that changed are replaced;
/// otherwise, or when many changed, the whole site is written to a fresh folder and
/// swapped in.
fn build(
    target: &Target<'_>,
    site: &Site,
    garden: &Garden,
    strict: bool,
    ctx: &JobContext,
) -> Result<BuildOutput, JobError> {
    let (root, environment) = (target.root, target.environment);
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
    // Everything besides the pages: their names first (the link check must know every
    // file), their bytes when they are written.
    let mut extras = vec![Extra::Style, Extra::Sitemap];
    if !garden.notes.is_empty() {
        extras.extend([Extra::SearchScript, Extra::SearchIndex]);
    }
    extras.extend(pages.iter().filter_map(|page| match page {
        Page::Collection(c) => Some(Extra::Feed(*c)),
        _ => None,
    }));
    let links = LinkCheck::new(
        pages
            .iter()
            .map(|page| page.output_file(site, garden))
            .chain(extras.iter().map(|extra| extra.file(site)))
            .chain(["404.html".to_owned()]),
        site.base_path(),
    );
    let global = global_key(&renderer, site, environment, &nav, &pages);
    let output = format!("dist/{environment}");
    let in_place = dist.join(environment.name());
    let manifest_path = manifest_path(target.data, environment);
    let built = |written: usize, warnings: Vec<String>| {
        ctx.report_progress(total, total, &format!("Built {output}"));
        BuildOutput {
            environment,
            pages: pages.len(),
            notes: garden.notes.len(),
            output: output.clone(),
            written,
            warnings,
        }
    };
    let render = |sink: Sink<'_>| -> Result<Rendered, JobError> {
        let out = Output {
            root,
            site,
            garden,
            environment,
            renderer: &renderer,
            values: &values,
            sink: &sink,
            links: &links,
        };
        let (mut warnings, mut broken) = render_pages(&out, &pages, ctx)?;
        warnings.splice(0..0, garden.warnings.iter().cloned());
        ctx.report_progress(
            total,
            total,
            "Writing style.css, sitemap.xml, feeds and 404.html",
        );
        for extra in &extras {
            let bytes = extra.bytes(site, garden, &pages, &renderer);
            sink.put(&extra.file(site), bytes, None, &[])?;
        }
        let not_found = renderer
            .not_found(&values, site, &nav)
            .map_err(JobError::permanent)?;
        let not_found_broken = links.broken("404 page", "404.html", &not_found);
        sink.put("404.html", not_found.into_bytes(), None, &not_found_broken)?;
        broken.extend(not_found_broken);
        if ctx.is_cancelled() {
            return Err(JobError::Cancelled);
        }
        if strict && !broken.is_empty() {
            return Err(JobError::permanent(format!(
                "{} broken link{} (strict): {}",
                broken.len(),
                if broken.len() == 1 { "" } else { "s" },
                broken.join("; ")
            )));
        }
        warnings.extend(broken);
        let (manifest, changed) = sink.finish();
        Ok(Rendered {
            warnings,
            manifest,
            changed,
        })
    };

    if in_place.is_dir()
        && let Some(previous) = read_manifest(&manifest_path)
    {
        let rendered = render(Sink::compare(&previous, &global))?;
        let removed: Vec<&String> = previous
            .files
            .keys()
            .filter(|file| !rendered.manifest.files.contains_key(*file))
            .collect();
        let count = rendered.changed.len() + removed.len();
        if count <= INCREMENTAL_MAX {
            // Staged, like the swap: applied only if this run's completion commits.
            for (file, bytes) in rendered.changed {
                ctx.stage(SideEffect::WriteFile {
                    path: in_place.join(file),
                    bytes,
                });
            }
            for file in removed {
                ctx.stage(SideEffect::RemoveFile {
                    path: in_place.join(file),
                });
                if let Some(folder) = Path::new(file).parent().filter(|f| *f != Path::new("")) {
                    ctx.stage(SideEffect::RemoveEmptyDir {
                        path: in_place.join(folder),
                    });
                }
            }
            if count > 0 {
                ctx.stage(manifest_write(&manifest_path, &rendered.manifest)?);
            }
            return Ok(built(count, rendered.warnings));
        }
    }

    let staging = StagingDir::create(&dist, environment).map_err(|e| {
        JobError::permanent(format!("cannot create a build folder in dist/: {e}")).or_waiting(&e)
    })?;
    let rendered = render(Sink::folder(&staging.path, &global))?;
    let written = rendered.manifest.files.len();
    // Staged: the new site replaces the old one in one step (never neither) when this
    // run's completion commits; a run whose lease was taken over leaves the site alone.
    ctx.stage(SideEffect::ReplaceDir {
        from: staging.keep(),
        to: in_place,
    });
    ctx.stage(manifest_write(&manifest_path, &rendered.manifest)?);
    Ok(built(written, rendered.warnings))
}

/// A file of the site that is not a page.
#[derive(Debug, Clone, Copy)]
enum Extra {
    Style,
    Sitemap,
    SearchScript,
    SearchIndex,
    /// The `n`-th collection's Atom feed.
    Feed(usize),
}

impl Extra {
    /// Its file, relative to the site's folder.
    fn file(self, site: &Site) -> String {
        match self {
            Extra::Style => "style.css".to_owned(),
            Extra::Sitemap => "sitemap.xml".to_owned(),
            Extra::SearchScript => "search.js".to_owned(),
            Extra::SearchIndex => "search.json".to_owned(),
            Extra::Feed(c) => pages::feed_path(&site.collections[c].path)
                .trim_start_matches('/')
                .to_owned(),
        }
    }

    fn bytes(self, site: &Site, garden: &Garden, pages: &[Page], renderer: &Renderer) -> Vec<u8> {
        match self {
            Extra::Style => renderer.stylesheet.as_bytes().to_vec(),
            Extra::Sitemap => pages::sitemap(site, garden, pages).into_bytes(),
            Extra::SearchScript => renderer.search_script.as_bytes().to_vec(),
            Extra::SearchIndex => pages::search_index(garden),
            Extra::Feed(c) => pages::feed(site, garden, c).into_bytes(),
        }
    }
}

/// What every page of a build depends on, hashed: the templates, the site's settings,
/// the environment and the navigation (which lists the collections that have notes).
fn global_key(
    renderer: &Renderer,
    site: &Site,
    environment: Environment,
    nav: &[crate::render::NavEntry],
    pages: &[Page],
) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(renderer.fingerprint.as_bytes());
    hasher.update(serde_json::to_string(site).unwrap_or_default().as_bytes());
    hasher.update(environment.name().as_bytes());
    for entry in nav {
        for part in [&entry.id, &entry.title, &entry.path] {
            hasher.update(part.as_bytes());
            hasher.update(&[0]);
        }
    }
    hasher.update(&[u8::from(pages.contains(&Page::Tags))]);
    hasher.finalize().to_hex().to_string()
}

/// What a build rendered: its warnings, every file's hash, and the files that differ from
/// the site in place (when compared with it).
struct Rendered {
    warnings: Vec<String>,
    manifest: Manifest,
    changed: Vec<(String, Vec<u8>)>,
}

/// What a build wrote, kept beside the site so that the next build can reuse it.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Manifest {
    /// What every page depends on (templates, `[site]`, navigation), hashed: when it
    /// changes, every page is rendered again.
    global: String,
    /// Each file (relative to the site's folder) and the BLAKE3 hash of its bytes.
    files: BTreeMap<String, String>,
    /// The key (`pages::key`) each note, list and search page was rendered from.
    keys: BTreeMap<String, String>,
    /// The broken links of each page that has some, said again when it is not rendered.
    broken: BTreeMap<String, Vec<String>>,
}

/// `.brain/site/built/<environment>.json`: the manifest of the site in `dist/<environment>`.
fn manifest_path(data: &Path, environment: Environment) -> PathBuf {
    data.join("site")
        .join("built")
        .join(format!("{}.json", environment.name()))
}

/// The manifest at `path`, or `None` when there is none (or it cannot be read: the site is
/// then built whole).
fn read_manifest(path: &Path) -> Option<Manifest> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn manifest_write(path: &Path, manifest: &Manifest) -> Result<SideEffect, JobError> {
    let bytes = serde_json::to_vec(manifest)
        .map_err(|e| JobError::permanent(format!("cannot write the site's manifest: {e}")))?;
    Ok(SideEffect::WriteFile {
        path: path.to_path_buf(),
        bytes,
    })
}

/// Where rendered files go, and what is learnt of them for the next build.
struct Sink<'a> {
    into: Destination<'a>,
    manifest: Mutex<Manifest>,
    changed: Mutex<Vec<(String, Vec<u8>)>>,
}

/// What a sink does with a file.
enum Destination<'a> {
    /// Writes it into this fresh build folder.
    Folder(&'a Path),
    /// Compares it with the site in place (this manifest) and keeps it only when it
    /// differs; `reuse` when the site in place was built with the same global key, so a
    /// page whose own key matches need not be rendered at all.
    Compare { previous: &'a Manifest, reuse: bool },
}

impl<'a> Sink<'a> {
    fn folder(dir: &'a Path, global: &str) -> Sink<'a> {
        Sink::new(Destination::Folder(dir), global)
    }

    fn compare(previous: &'a Manifest, global: &str) -> Sink<'a> {
        let reuse = previous.global == global;
        Sink::new(Destination::Compare { previous, reuse }, global)
    }

    fn new(into: Destination<'a>, global: &str) -> Sink<'a> {
        Sink {
            into,
            manifest: Mutex::new(Manifest {
                global: global.to_owned(),
                ..Manifest::default()
            }),
            changed: Mutex::default(),
        }
    }

    /// The broken links the site in place's `file` had, when it was rendered from the same
    /// `key` with the same global key: the file is then the same, and need not be rendered.
    fn unchanged(&self, file: &str, key: &str) -> Option<Vec<String>> {
        let Destination::Compare {
            previous,
            reuse: true,
        } = self.into
        else {
            return None;
        };
        let hash = previous.files.get(file)?;
        if previous.keys.get(file).is_none_or(|k| k != key) {
            return None;
        }
        let broken = previous.broken.get(file).cloned().unwrap_or_default();
        self.record(file, hash.clone(), Some(key), &broken);
        Some(broken)
    }

    /// Takes the file `file` (relative to the site's folder), rendered from `key`, with
    /// its broken links.
    fn put(
        &self,
        file: &str,
        bytes: Vec<u8>,
        key: Option<&str>,
        broken: &[String],
    ) -> Result<(), JobError> {
        let hash = blake3::hash(&bytes).to_hex().to_string();
        match self.into {
            Destination::Folder(dir) => write_new(&dir.join(file), &bytes)?,
            Destination::Compare { previous, .. } => {
                if previous.files.get(file) != Some(&hash) {
                    lock(&self.changed).push((file.to_owned(), bytes));
                }
            }
        }
        self.record(file, hash, key, broken);
        Ok(())
    }

    fn record(&self, file: &str, hash: String, key: Option<&str>, broken: &[String]) {
        let mut manifest = lock(&self.manifest);
        manifest.files.insert(file.to_owned(), hash);
        if let Some(key) = key {
            manifest.keys.insert(file.to_owned(), key.to_owned());
        }
        if !broken.is_empty() {
            manifest.broken.insert(file.to_owned(), broken.to_vec());
        }
    }

    /// What was learnt, and the files that changed (in file order).
    fn finish(self) -> (Manifest, Vec<(String, Vec<u8>)>) {
        let mut changed = into_inner(self.changed);
        changed.sort_by(|a, b| a.0.cmp(&b.0));
        (into_inner(self.manifest), changed)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn into_inner<T>(mutex: Mutex<T>) -> T {
    mutex.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// What rendering a page needs.
struct Output<'a> {
    root: &'a Path,
    site: &'a Site,
    garden: &'a Garden,
    environment: Environment,
    renderer: &'a Renderer,
    values: &'a SiteValues,
    /// Where pages go.
    sink: &'a Sink<'a>,
    links: &'a LinkCheck,
}

/// (page index, that page's warnings, its broken links), for the pages that have some.
type PageWarnings = Vec<(usize, Vec<String>, Vec<String>)>;

/// Renders and writes every page, on as many threads as there are cores (pages are
/// independent); returns the warnings and the broken links, in page order. The first error
/// stops the others.
fn render_pages(
    out: &Output<'_>,
    pages: &[Page],
    ctx: &JobContext,
) -> Result<(Vec<String>, Vec<String>), JobError> {
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
            let (page_warnings, broken) =
                render_page(out, page).inspect_err(|_| stop.store(true, Ordering::Relaxed))?;
            if !page_warnings.is_empty() || !broken.is_empty() {
                warnings.push((index, page_warnings, broken));
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
    let mut found = Vec::new();
    for result in results {
        found.extend(result?);
    }
    found.sort_by_key(|(index, _, _)| *index);
    let (mut warnings, mut broken) = (Vec::new(), Vec::new());
    for (_, page_warnings, page_broken) in found {
        warnings.extend(page_warnings);
        broken.extend(page_broken);
    }
    Ok((warnings, broken))
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
             promote preview content to production first (`site_promote`), or build preview"
            .to_owned(),
        Environment::Preview => "nothing to build: no section has preview content; \
             generate it first (`site_generate`)"
            .to_owned(),
    })
}

/// Renders `page` into the sink; returns its warnings and its broken links.
fn render_page(out: &Output<'_>, page: Page) -> Result<(Vec<String>, Vec<String>), JobError> {
    let relative = page.output_file(out.site, out.garden);
    let shown = page.path(out.site, out.garden);
    let Page::Route(index) = page else {
        let key = pages::key(page, out.site, out.garden);
        if let Some(key) = &key
            && let Some(broken) = out.sink.unchanged(&relative, key)
        {
            return Ok((Vec::new(), broken));
        }
        let html = pages::render(page, out.site, out.garden, out.renderer, out.values)
            .map_err(JobError::permanent)?;
        let broken = out.links.broken(&shown, &relative, &html);
        out.sink
            .put(&relative, html.into_bytes(), key.as_deref(), &broken)?;
        return Ok((Vec::new(), broken));
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
    let broken = out.links.broken(&shown, &relative, &html);
    out.sink.put(&relative, html.into_bytes(), None, &broken)?;
    Ok((warnings, broken))
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
