//! HTML rendering with minijinja. The default templates and stylesheet are compiled in;
//! a file of the same name in `<brain>/templates/` replaces one (`page.html`,
//! `sections/hero.html`, `style.css`, …), and overrides may add files of their own to
//! include or extend. Templates ending in `.html` are auto-escaped, so note and content
//! text is always shown as text: only what the plugin itself marks safe (a section's
//! rendered HTML, Markdown rendered by the `markdown` filter) is inserted as HTML.
//!
//! Undefined variables are errors when printed (minijinja's semi-strict mode), so a typo
//! in an override fails the build with its template and line rather than leaving a hole.

use std::path::{Path, PathBuf};

use minijinja::value::Serde;
use minijinja::{AutoEscape, State, UndefinedBehavior, Value, context};
use serde::Serialize;

use crate::config::{Route, Section, Site, SiteCta};
use crate::content::Environment;
use crate::markdown;
use crate::templates::{SectionContent, Template};

/// The templates a site is rendered with, each overridable by `templates/<name>`.
pub const TEMPLATE_FILES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("page.html", include_str!("../templates/page.html")),
    ("404.html", include_str!("../templates/404.html")),
    ("note.html", include_str!("../templates/note.html")),
    ("list.html", include_str!("../templates/list.html")),
    ("search.html", include_str!("../templates/search.html")),
    (
        "sections/hero.html",
        include_str!("../templates/sections/hero.html"),
    ),
    (
        "sections/features.html",
        include_str!("../templates/sections/features.html"),
    ),
    (
        "sections/products.html",
        include_str!("../templates/sections/products.html"),
    ),
    (
        "sections/cta.html",
        include_str!("../templates/sections/cta.html"),
    ),
    (
        "sections/text.html",
        include_str!("../templates/sections/text.html"),
    ),
    (
        "sections/note-list.html",
        include_str!("../templates/sections/note-list.html"),
    ),
];

/// The default stylesheet, copied to `style.css` unless `templates/style.css` replaces it.
pub const STYLESHEET: &str = include_str!("../templates/style.css");

/// The search page's script, copied to `search.js` unless `templates/search.js` replaces it.
pub const SEARCH_SCRIPT: &str = include_str!("../templates/search.js");

/// The folder of overrides, relative to the brain directory.
pub const TEMPLATES_DIR: &str = "templates";

/// A loaded set of templates.
pub(crate) struct Renderer {
    env: minijinja::Environment<'static>,
    pub(crate) stylesheet: String,
    pub(crate) search_script: String,
    /// A hash of every template, default or overridden, and of the brain's `templates/`
    /// folder: what a page's look depends on.
    pub(crate) fingerprint: String,
}

/// The site's settings as templates see them.
#[derive(Serialize)]
struct SiteView<'a> {
    title: &'a str,
    description: &'a str,
    base_url: &'a str,
    cta: Option<&'a SiteCta>,
}

/// One navigation entry; `href` is relative to the page (or absolute from the server's
/// root on the 404 page, which may be served at any depth).
#[derive(Serialize)]
struct NavItem<'a> {
    id: &'a str,
    title: &'a str,
    path: &'a str,
    href: String,
}

/// A page listed in the navigation: a route, a collection of notes, the search page.
pub(crate) struct NavEntry {
    /// What marks the current page: a route's id, `collection:<id>`, `search`.
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) path: String,
}

/// Values shared by every page of one build, converted to template values once.
pub(crate) struct SiteValues {
    site: Value,
    environment: Value,
    /// Navigation per page depth (hrefs differ only by how many `../` they start with).
    nav_by_depth: Vec<NavAtDepth>,
    /// Published notes' site paths by note path, for the `note_href` filter.
    note_pages: Value,
    /// The site path of the list of tags, when there are tags.
    tags_path: Option<String>,
}

/// The navigation of pages at one depth: the entries as template values, and each entry's
/// `<li>` markup, plain and marked as the current page.
struct NavAtDepth {
    items: Value,
    /// The route id of each entry, to mark the current page.
    ids: Vec<String>,
    html: Vec<(String, String)>,
}

impl SiteValues {
    /// `nav` is what every page's navigation lists; `max_depth` the deepest page's depth;
    /// `note_pages` (note path, site path) the published notes.
    pub(crate) fn new(
        site: &Site,
        environment: Environment,
        nav: &[NavEntry],
        max_depth: usize,
        note_pages: std::collections::BTreeMap<String, String>,
        tags_path: Option<String>,
    ) -> SiteValues {
        SiteValues {
            site: Value::from(Serde(SiteView {
                title: &site.title,
                description: &site.description,
                base_url: &site.base_url,
                cta: site.cta.as_ref(),
            })),
            environment: Value::from(environment.name()),
            nav_by_depth: (0..=max_depth)
                .map(|depth| NavAtDepth::new(nav, &root_prefix(depth)))
                .collect(),
            note_pages: Value::from(note_pages),
            tags_path,
        }
    }

    fn tags_href(&self, root: &str) -> Option<String> {
        self.tags_path.as_deref().map(|path| link(root, path))
    }

    /// The `<li>` entries of the navigation of `route` (the `current`-th route), that one
    /// marked `aria-current="page"`. Every page links every listed route, so this is assembled
    /// from markup built once per depth: rendering it per page through the template
    /// engine made navigation cost grow with the square of the routes.
    fn nav_html(&self, depth: usize, current: Option<&str>) -> String {
        let Some(nav) = self.nav_by_depth.get(depth) else {
            return String::new();
        };
        let len = nav.html.iter().map(|(plain, _)| plain.len()).sum::<usize>() + 32;
        let mut html = String::with_capacity(len);
        for (id, (plain, marked)) in nav.ids.iter().zip(&nav.html) {
            html.push_str(if Some(id.as_str()) == current {
                marked
            } else {
                plain
            });
        }
        html
    }
}

impl NavAtDepth {
    fn new(entries: &[NavEntry], root: &str) -> NavAtDepth {
        let items: Vec<NavItem<'_>> = entries
            .iter()
            .map(|entry| NavItem {
                id: &entry.id,
                title: &entry.title,
                path: &entry.path,
                href: link(root, &entry.path),
            })
            .collect();
        let html = items
            .iter()
            .map(|item| {
                let mut href = String::new();
                let mut title = String::new();
                // Writing to a String cannot fail.
                let _ = write_html_escaped(&mut href, &item.href);
                let _ = write_html_escaped(&mut title, item.title);
                (
                    format!("<li><a href=\"{href}\">{title}</a></li>"),
                    format!("<li><a href=\"{href}\" aria-current=\"page\">{title}</a></li>"),
                )
            })
            .collect();
        NavAtDepth {
            ids: items.iter().map(|item| item.id.to_owned()).collect(),
            items: Value::from(Serde(items)),
            html,
        }
    }
}

/// How many folders deep the page of site path `path` is (`/` 0, `/blog/x` 2).
pub(crate) fn depth_of(path: &str) -> usize {
    path.split('/').filter(|s| !s.is_empty()).count()
}

/// `./`, `../`, `../../`: from a page `depth` folders down to the site's root.
pub(crate) fn root_prefix(depth: usize) -> String {
    if depth == 0 {
        "./".to_owned()
    } else {
        "../".repeat(depth)
    }
}

/// The link from a page whose root prefix is `root` to the site path `path`: pages are
/// folders, so `/about` is `<root>about/`.
/// Links name `index.html` explicitly: a site opened straight from disk (`file://`) has no
/// server to map a folder to its index page, and people do open `dist/preview/index.html`.
pub(crate) fn link(root: &str, path: &str) -> String {
    let rest = path.trim_start_matches('/');
    if rest.is_empty() {
        format!("{root}index.html")
    } else if rest.contains(['.', '#', '?']) {
        format!("{root}{rest}")
    } else if rest.ends_with('/') {
        format!("{root}{rest}index.html")
    } else {
        format!("{root}{rest}/index.html")
    }
}

/// The `href` filter: a URL from content made safe to follow. Site paths (`/about`)
/// become relative to the page, so the site works under any base path and from files;
/// script URLs (`javascript:` …) become `#`; other URLs pass unchanged.
fn href_filter(state: &State, url: String) -> String {
    let url = url.trim();
    if !markdown::is_safe_url(url) {
        return "#".to_owned();
    }
    if url.starts_with('/') && !url.starts_with("//") {
        let root = state
            .lookup("root")
            .and_then(|r| r.as_str().map(str::to_owned))
            .unwrap_or_else(|| "/".to_owned());
        return link(&root, url);
    }
    url.to_owned()
}

/// Writes values like minijinja's default formatter, except that strings in HTML
/// templates are escaped without turning `/` into `&#x2f;`: `&`, `<`, `>`, `"` and `'` are
/// what matters in text and quoted attributes, and URLs then stay readable.
fn html_formatter(
    out: &mut minijinja::Output,
    state: &mut State,
    value: &Value,
) -> Result<(), minijinja::Error> {
    if let (AutoEscape::Html, false, Some(text)) =
        (state.auto_escape(), value.is_safe(), value.as_str())
    {
        return write_html_escaped(out, text).map_err(minijinja::Error::from);
    }
    minijinja::escape_formatter(out, state, value)
}

fn write_html_escaped(out: &mut impl std::fmt::Write, text: &str) -> std::fmt::Result {
    let mut start = 0;
    for (i, byte) in text.bytes().enumerate() {
        let entity = match byte {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.write_str(&text[start..i])?;
        out.write_str(entity)?;
        start = i + 1;
    }
    out.write_str(&text[start..])
}

/// The `note_href` filter: the link to a published note's page from its path in the notes
/// folder (`ideas/rust.md`), or none — for a private note, or no note — so templates show a
/// card without a link.
fn note_href_filter(state: &State, note: Value) -> Value {
    let Some(path) = note.as_str() else {
        return Value::from(());
    };
    let page = state
        .lookup("note_pages")
        .and_then(|pages| pages.get_item(&Value::from(path)).ok())
        .filter(|page| !page.is_undefined() && !page.is_none());
    let Some(page) = page.and_then(|p| p.as_str().map(str::to_owned)) else {
        return Value::from(());
    };
    let root = state
        .lookup("root")
        .and_then(|r| r.as_str().map(str::to_owned))
        .unwrap_or_else(|| "/".to_owned());
    Value::from(link(&root, &page))
}

fn markdown_filter(text: String) -> Value {
    Value::from_safe_string(markdown::to_html(&text))
}

/// A minijinja error with its causes (an error inside an included template names both),
/// on one line.
pub(crate) fn describe(error: &minijinja::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl Renderer {
    /// The default templates with the overrides in `<root>/templates/`. Every known
    /// template is compiled now, so a syntax error stops the build before it starts.
    pub(crate) fn load(root: &Path) -> Result<Renderer, String> {
        let dir = root.join(TEMPLATES_DIR);
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") || name.ends_with(".htm") || name.ends_with(".xml") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        env.set_formatter(html_formatter);
        env.add_filter("href", href_filter);
        env.add_filter("markdown", markdown_filter);
        env.add_filter("note_href", note_href_filter);
        let loader_dir = dir.clone();
        env.set_loader(move |name| load_template(&loader_dir, name));
        for (name, _) in TEMPLATE_FILES {
            env.get_template(name)
                .map_err(|e| format!("{TEMPLATES_DIR}/{name}: {}", describe(&e)))?;
        }
        Ok(Renderer {
            env,
            stylesheet: asset(&dir, "style.css", STYLESHEET)?,
            search_script: asset(&dir, "search.js", SEARCH_SCRIPT)?,
            fingerprint: fingerprint(&dir),
        })
    }

    /// One section's HTML.
    pub(crate) fn section(
        &self,
        values: &SiteValues,
        route: &Route,
        section: &Section,
        content: &SectionContent,
    ) -> Result<String, String> {
        let name = section_template(section.template);
        let template = self.env.get_template(&name).map_err(|e| describe(&e))?;
        template
            .render(context! {
                site => values.site.clone(),
                environment => values.environment.clone(),
                root => root_prefix(route.depth()),
                route => route_value(route, None),
                note_pages => values.note_pages.clone(),
                section => context! { id => section.id.as_str(), template => section.template.name() },
                content => Value::from(Serde(content)),
            })
            .map_err(|e| format!("{}: {}", route.label(section), describe(&e)))
    }

    /// The page of the `index`-th route: `sections` are (section, its HTML) for the
    /// sections that have content.
    pub(crate) fn page(
        &self,
        values: &SiteValues,
        site: &Site,
        index: usize,
        sections: Vec<(&Section, String)>,
    ) -> Result<String, String> {
        let route = &site.routes[index];
        let depth = route.depth();
        let template = self
            .env
            .get_template("page.html")
            .map_err(|e| describe(&e))?;
        let sections: Vec<Value> = sections
            .into_iter()
            .map(|(section, html)| {
                context! {
                    id => section.id.as_str(),
                    template => section.template.name(),
                    html => Value::from_safe_string(html),
                }
            })
            .collect();
        template
            .render(context! {
                site => values.site.clone(),
                environment => values.environment.clone(),
                root => root_prefix(depth),
                nav => values.nav_by_depth.get(depth).map(|n| n.items.clone()).unwrap_or_default(),
                nav_html => Value::from_safe_string(values.nav_html(depth, Some(route.id.as_str()))),
                route => route_value(route, Some(site)),
                sections => sections,
                tags_href => values.tags_href(&root_prefix(depth)),
            })
            .map_err(|e| format!("{} ({}): {}", route.path, route.id, describe(&e)))
    }

    /// A page of the notes (`note.html`, `list.html`, `search.html`) at site path `path`:
    /// the shared values plus `page` (its own, e.g. `note`).
    pub(crate) fn notes_page(
        &self,
        values: &SiteValues,
        template: &str,
        path: &str,
        current: Option<&str>,
        page: Value,
    ) -> Result<String, String> {
        let depth = depth_of(path);
        let root = root_prefix(depth);
        self.env
            .get_template(template)
            .and_then(|t| {
                t.render(context! {
                    site => values.site.clone(),
                    environment => values.environment.clone(),
                    root => root.as_str(),
                    nav => values.nav_by_depth.get(depth).map(|n| n.items.clone()).unwrap_or_default(),
                    nav_html => Value::from_safe_string(values.nav_html(depth, current)),
                    route => Value::from(()),
                    sections => Vec::<Value>::new(),
                    tags_href => values.tags_href(&root),
                    ..page
                })
            })
            .map_err(|e| format!("{path} ({template}): {}", describe(&e)))
    }

    /// `404.html`, served for any missing path, so its links start at the server's root.
    pub(crate) fn not_found(
        &self,
        values: &SiteValues,
        site: &Site,
        nav: &[NavEntry],
    ) -> Result<String, String> {
        let root = site.base_path();
        let nav = NavAtDepth::new(nav, &root);
        let nav_html: String = nav.html.iter().map(|(plain, _)| plain.as_str()).collect();
        let template = self
            .env
            .get_template("404.html")
            .map_err(|e| describe(&e))?;
        template
            .render(context! {
                site => values.site.clone(),
                environment => values.environment.clone(),
                nav => nav.items,
                nav_html => Value::from_safe_string(nav_html),
                tags_href => values.tags_href(&root),
                root => root,
                route => Value::from(()),
                sections => Vec::<Value>::new(),
            })
            .map_err(|e| format!("404.html: {}", describe(&e)))
    }
}

fn route_value(route: &Route, site: Option<&Site>) -> Value {
    context! {
        id => route.id.as_str(),
        path => route.path.as_str(),
        title => route.title.as_str(),
        url => site.map(|s| s.url(&route.path)),
    }
}

fn section_template(template: Template) -> String {
    format!("sections/{}.html", template.name())
}

/// A hash of the compiled-in templates and of every file under `dir` (names and bytes).
fn fingerprint(dir: &Path) -> String {
    let mut hasher = blake3::Hasher::new();
    for (name, source) in TEMPLATE_FILES {
        hasher.update(name.as_bytes());
        hasher.update(source.as_bytes());
    }
    hasher.update(STYLESHEET.as_bytes());
    hasher.update(SEARCH_SCRIPT.as_bytes());
    for file in files_under(dir) {
        hasher.update(file.to_string_lossy().as_bytes());
        hasher.update(&std::fs::read(&file).unwrap_or_default());
    }
    hasher.finalize().to_hex().to_string()
}

/// The files at or under `path` (itself when it is a file), by name, hidden ones (`.x`)
/// and what is inside hidden folders left out; none when it does not exist.
pub(crate) fn files_under(path: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(path) = stack.pop() {
        match std::fs::read_dir(&path) {
            Ok(entries) => stack.extend(
                entries
                    .flatten()
                    .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                    .map(|e| e.path()),
            ),
            Err(_) if path.is_file() => files.push(path),
            Err(_) => {}
        }
    }
    files.sort();
    files
}

/// `templates/<name>` when the brain has one, else `default`.
fn asset(dir: &Path, name: &str, default: &str) -> Result<String, String> {
    match std::fs::read_to_string(dir.join(name)) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(default.to_owned()),
        Err(e) => Err(format!("{TEMPLATES_DIR}/{name}: cannot read ({e})")),
    }
}

/// An override from `dir`, else the compiled-in default; `None` for unknown names.
fn load_template(dir: &Path, name: &str) -> Result<Option<String>, minijinja::Error> {
    // Only plain relative names: an include of `../../etc/passwd` reads nothing.
    if name
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
        || name.contains('\\')
    {
        return Ok(None);
    }
    match std::fs::read_to_string(dir.join(name)) {
        Ok(source) => return Ok(Some(source)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                format!("cannot read {TEMPLATES_DIR}/{name}: {e}"),
            ));
        }
    }
    Ok(TEMPLATE_FILES
        .iter()
        .find(|(default, _)| *default == name)
        .map(|(_, source)| (*source).to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_relative_index_pages() {
        assert_eq!(link("./", "/"), "./index.html");
        assert_eq!(link("./", "/about"), "./about/index.html");
        assert_eq!(link("../../", "/docs/intro"), "../../docs/intro/index.html");
        assert_eq!(link("/brain/", "/about/"), "/brain/about/index.html");
        assert_eq!(link("../", "/style.css"), "../style.css");
        assert_eq!(root_prefix(0), "./");
        assert_eq!(root_prefix(2), "../../");
    }

    #[test]
    fn html_escaping_keeps_slashes() {
        let mut out = String::new();
        write_html_escaped(&mut out, "a/b <c> & \"d\" 'e' é").unwrap();
        assert_eq!(out, "a/b &lt;c&gt; &amp; &quot;d&quot; &#39;e&#39; é");
    }

    #[test]
    fn template_names_stay_inside_the_folder() {
        let dir = std::path::PathBuf::from("/nonexistent");
        assert!(load_template(&dir, "../x.html").unwrap().is_none());
        assert!(load_template(&dir, "page.html").unwrap().is_some());
        assert!(load_template(&dir, "sections/hero.html").unwrap().is_some());
        assert!(load_template(&dir, "nope.html").unwrap().is_none());
    }
}
