//! Every page a build writes — the routes declared in `brain.toml`, and the pages that come
//! from the published notes: one per note, one per collection with notes, one per tag, the
//! list of tags and the search page — with what each needs besides its HTML: the
//! navigation, an Atom feed per collection, the search index and the sitemap.

use std::collections::BTreeMap;

use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::Serialize;

use crate::config::Site;
use crate::garden::Garden;
use crate::markdown;
use crate::render::{NavEntry, Renderer, SiteValues, link, root_prefix};

/// How many notes a feed holds, newest first: readers fetch it often.
const FEED_ENTRIES: usize = 50;

/// One page of the site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Page {
    /// The `n`-th route of `brain.toml`.
    Route(usize),
    /// The `n`-th published note.
    Note(usize),
    /// The `n`-th collection's list of notes.
    Collection(usize),
    /// The `n`-th tag's list of notes.
    Tag(usize),
    /// The list of tags: `/tags`.
    Tags,
    /// `/search`.
    Search,
}

/// Every page, routes first; a collection without notes has none, and without published
/// notes there are no tag or search pages.
pub(crate) fn all(site: &Site, garden: &Garden) -> Vec<Page> {
    let mut pages: Vec<Page> = (0..site.routes.len()).map(Page::Route).collect();
    pages.extend((0..garden.notes.len()).map(Page::Note));
    pages.extend(
        (0..site.collections.len())
            .filter(|&c| !garden.collections[c].is_empty())
            .map(Page::Collection),
    );
    if !garden.tags.is_empty() {
        pages.extend((0..garden.tags.len()).map(Page::Tag));
        pages.push(Page::Tags);
    }
    if !garden.notes.is_empty() {
        pages.push(Page::Search);
    }
    pages
}

impl Page {
    /// Its site path: `/`, `/about`, `/blog/first-post`, `/tags/bread`.
    pub(crate) fn path(self, site: &Site, garden: &Garden) -> String {
        match self {
            Page::Route(r) => site.routes[r].path.clone(),
            Page::Note(n) => garden.notes[n].path.clone(),
            Page::Collection(c) => site.collections[c].path.clone(),
            Page::Tag(t) => garden.tags[t].path.clone(),
            Page::Tags => "/tags".to_owned(),
            Page::Search => "/search".to_owned(),
        }
    }

    /// Its file in the output folder: `index.html`, `blog/first-post/index.html`.
    pub(crate) fn output_file(self, site: &Site, garden: &Garden) -> String {
        output_file(&self.path(site, garden))
    }
}

/// The file of the page at site path `path`, relative to the output folder.
pub(crate) fn output_file(path: &str) -> String {
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() {
        "index.html".to_owned()
    } else {
        format!("{trimmed}/index.html")
    }
}

/// What every page's navigation lists: the routes that ask to be listed, the collections
/// with notes, and search when there is something to search.
pub(crate) fn nav(site: &Site, garden: &Garden) -> Vec<NavEntry> {
    let routes = site.routes.iter().filter(|r| r.nav).map(|r| NavEntry {
        id: r.id.clone(),
        title: r.title.clone(),
        path: r.path.clone(),
    });
    let collections = site
        .collections
        .iter()
        .enumerate()
        .filter(|(c, collection)| collection.nav && !garden.collections[*c].is_empty())
        .map(|(_, collection)| NavEntry {
            id: format!("collection:{}", collection.id),
            title: collection.title.clone(),
            path: collection.path.clone(),
        });
    let search = (!garden.notes.is_empty()).then(|| NavEntry {
        id: "search".to_owned(),
        title: "Search".to_owned(),
        path: "/search".to_owned(),
    });
    routes.chain(collections).chain(search).collect()
}

/// Published notes' pages by note path: what cards and note lists link to.
pub(crate) fn note_pages(garden: &Garden) -> BTreeMap<String, String> {
    garden
        .notes
        .iter()
        .map(|n| (n.note.path.clone(), n.path.clone()))
        .collect()
}

/// A link as templates see it.
#[derive(Serialize)]
struct Link<'a> {
    title: &'a str,
    href: String,
}

/// An entry of a list page.
#[derive(Serialize)]
struct Item<'a> {
    title: String,
    href: String,
    date: Option<&'a str>,
    summary: String,
}

/// The HTML of a page of the notes (not a route: those are rendered from their sections).
pub(crate) fn render(
    page: Page,
    site: &Site,
    garden: &Garden,
    renderer: &Renderer,
    values: &SiteValues,
) -> Result<String, String> {
    let path = page.path(site, garden);
    let root = root_prefix(crate::render::depth_of(&path));
    let href = |target: &str| link(&root, target);
    let note_item = |n: usize| {
        let note = &garden.notes[n];
        Item {
            title: note.note.title.clone(),
            href: href(&note.path),
            date: note.date.as_deref(),
            summary: note.summary.clone(),
        }
    };
    match page {
        Page::Route(_) => Err(format!("{path}: a route is rendered from its sections")),
        Page::Note(n) => {
            let note = &garden.notes[n];
            let collection = &site.collections[note.collection];
            let resolve = |target: &str| {
                garden
                    .resolve(n, target)
                    .map(|to| href(&garden.notes[to].path))
            };
            let html = markdown::note_to_html(&note.note.body, &resolve, true);
            let neighbour = |other: Option<usize>| {
                other.map(|o| Link {
                    title: &garden.notes[o].note.title,
                    href: href(&garden.notes[o].path),
                })
            };
            let tags: Vec<Link<'_>> = note
                .tags
                .iter()
                .map(|&t| Link {
                    title: &garden.tags[t].name,
                    href: href(&garden.tags[t].path),
                })
                .collect();
            let backlinks: Vec<Link<'_>> = note
                .backlinks
                .iter()
                .map(|&b| Link {
                    title: &garden.notes[b].note.title,
                    href: href(&garden.notes[b].path),
                })
                .collect();
            let page = context! {
                note => context! {
                    title => note.note.title.as_str(),
                    path => note.note.path.as_str(),
                    url => site.url(&note.path),
                    date => note.date.as_deref(),
                    tags => Value::from(Serde(&tags)),
                    html => Value::from_safe_string(html),
                    backlinks => Value::from(Serde(&backlinks)),
                    previous => Value::from(Serde(neighbour(note.previous))),
                    next => Value::from(Serde(neighbour(note.next))),
                },
                collection => context! {
                    title => collection.title.as_str(),
                    href => href(&collection.path),
                    feed => href(&feed_path(&collection.path)),
                },
            };
            let current = format!("collection:{}", collection.id);
            renderer.notes_page(values, "note.html", &path, Some(&current), page)
        }
        Page::Collection(c) => {
            let collection = &site.collections[c];
            let items: Vec<Item<'_>> = garden.collections[c]
                .iter()
                .map(|&n| note_item(n))
                .collect();
            let page = context! {
                list => context! {
                    kind => "collection",
                    title => collection.title.as_str(),
                    url => site.url(&collection.path),
                    feed => href(&feed_path(&collection.path)),
                    items => Value::from(Serde(&items)),
                },
            };
            let current = format!("collection:{}", collection.id);
            renderer.notes_page(values, "list.html", &path, Some(&current), page)
        }
        Page::Tag(t) => {
            let tag = &garden.tags[t];
            let items: Vec<Item<'_>> = tag.notes.iter().map(|&n| note_item(n)).collect();
            let page = context! {
                list => context! {
                    kind => "tag",
                    title => format!("#{}", tag.name),
                    url => site.url(&tag.path),
                    feed => Value::from(()),
                    items => Value::from(Serde(&items)),
                },
            };
            renderer.notes_page(values, "list.html", &path, None, page)
        }
        Page::Tags => {
            let items: Vec<Item<'_>> = garden
                .tags
                .iter()
                .map(|tag| Item {
                    title: format!("#{}", tag.name),
                    href: href(&tag.path),
                    date: None,
                    summary: match tag.notes.len() {
                        1 => "1 note".to_owned(),
                        n => format!("{n} notes"),
                    },
                })
                .collect();
            let page = context! {
                list => context! {
                    kind => "tags",
                    title => "Tags",
                    url => site.url("/tags"),
                    feed => Value::from(()),
                    items => Value::from(Serde(&items)),
                },
            };
            renderer.notes_page(values, "list.html", &path, None, page)
        }
        Page::Search => {
            renderer.notes_page(values, "search.html", &path, Some("search"), context! {})
        }
    }
}

/// What the page of `page` is made of besides what every page shares (see
/// `build::global_key`), hashed: the same key, the same page. `None` for a route's page,
/// which is made from content files (few pages, always rendered).
pub(crate) fn key(page: Page, site: &Site, garden: &Garden) -> Option<String> {
    let mut hasher = blake3::Hasher::new();
    let mut add = |part: &str| {
        hasher.update(part.as_bytes());
        hasher.update(&[0]);
    };
    let note_entry = |add: &mut dyn FnMut(&str), n: usize| {
        let note = &garden.notes[n];
        add(&note.note.title);
        add(&note.path);
        add(note.date.as_deref().unwrap_or(""));
        add(&note.summary);
    };
    match page {
        Page::Route(_) => return None,
        Page::Note(n) => {
            let note = &garden.notes[n];
            add(&note.note.hash);
            add(&note.note.path);
            add(&note.note.title);
            add(&note.path);
            add(note.date.as_deref().unwrap_or(""));
            let collection = &site.collections[note.collection];
            add(&collection.title);
            add(&collection.path);
            for &t in &note.tags {
                add(&garden.tags[t].name);
                add(&garden.tags[t].path);
            }
            add("backlinks");
            for &b in &note.backlinks {
                add(&garden.notes[b].note.title);
                add(&garden.notes[b].path);
            }
            add("neighbours");
            for other in [note.previous, note.next] {
                match other {
                    Some(o) => {
                        add(&garden.notes[o].note.title);
                        add(&garden.notes[o].path);
                    }
                    None => add(""),
                }
            }
            add("targets");
            for (target, found) in &note.targets {
                add(target);
                add(found.map_or("", |f| garden.notes[f].path.as_str()));
            }
        }
        Page::Collection(c) => {
            add(&site.collections[c].title);
            add(&site.collections[c].path);
            for &n in &garden.collections[c] {
                note_entry(&mut add, n);
            }
        }
        Page::Tag(t) => {
            add(&garden.tags[t].name);
            add(&garden.tags[t].path);
            for &n in &garden.tags[t].notes {
                note_entry(&mut add, n);
            }
        }
        Page::Tags => {
            for tag in &garden.tags {
                add(&tag.name);
                add(&tag.path);
                add(&tag.notes.len().to_string());
            }
        }
        Page::Search => add("search"),
    }
    Some(hasher.finalize().to_hex().to_string())
}

/// `/blog` → `/blog/feed.xml`.
pub(crate) fn feed_path(collection_path: &str) -> String {
    format!("{collection_path}/feed.xml")
}

/// The Atom feed of the `c`-th collection: its newest notes, each with its summary.
pub(crate) fn feed(site: &Site, garden: &Garden, c: usize) -> String {
    let collection = &site.collections[c];
    let notes = &garden.collections[c];
    let updated = notes
        .iter()
        .filter_map(|&n| garden.notes[n].date.as_deref())
        .max()
        .unwrap_or("1970-01-01");
    let page = format!("{}/", site.url(&collection.path));
    let mut xml = String::with_capacity(512 + notes.len().min(FEED_ENTRIES) * 512);
    xml.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    xml.push_str(&format!(
        "  <title>{}</title>\n  <link href=\"{}\"/>\n  <link rel=\"self\" href=\"{}\"/>\n  <id>{}</id>\n  <updated>{updated}T00:00:00Z</updated>\n",
        escape_xml(&format!("{} · {}", collection.title, site.title)),
        escape_xml(&page),
        escape_xml(&site.url(&feed_path(&collection.path))),
        escape_xml(&page),
    ));
    for &n in notes.iter().take(FEED_ENTRIES) {
        let note = &garden.notes[n];
        let url = format!("{}/", site.url(&note.path));
        xml.push_str(&format!(
            "  <entry>\n    <title>{}</title>\n    <link href=\"{}\"/>\n    <id>{}</id>\n    <updated>{}T00:00:00Z</updated>\n    <summary>{}</summary>\n  </entry>\n",
            escape_xml(&note.note.title),
            escape_xml(&url),
            escape_xml(&url),
            note.date.as_deref().unwrap_or(updated),
            escape_xml(&note.summary),
        ));
    }
    xml.push_str("</feed>\n");
    xml
}

/// One note in `search.json`; short keys, since the browser downloads the whole index.
#[derive(Serialize)]
struct Indexed<'a> {
    /// Title.
    t: &'a str,
    /// The page, relative to the site's root.
    u: String,
    /// Tags.
    g: &'a [String],
    /// Date, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    d: Option<&'a str>,
    /// The text, without markup.
    x: String,
}

/// `search.json`: every published note's title, page, tags, date and text. Written entry
/// by entry: with 10,000 notes the index is megabytes, and is not held twice.
pub(crate) fn search_index(garden: &Garden) -> Vec<u8> {
    let mut json = Vec::with_capacity(garden.notes.len() * 512 + 2);
    json.push(b'[');
    for (i, n) in garden.notes.iter().enumerate() {
        if i > 0 {
            json.push(b',');
        }
        let entry = Indexed {
            t: &n.note.title,
            u: link("", &n.path),
            g: &n.note.tags,
            d: n.date.as_deref(),
            x: markdown::plain_text(&n.note.body, &garden.resolver(i, "")),
        };
        // Writing to a Vec cannot fail, and these fields are all strings.
        let _ = serde_json::to_writer(&mut json, &entry);
    }
    json.push(b']');
    json
}

/// `sitemap.xml`: every page's absolute URL.
pub(crate) fn sitemap(site: &Site, garden: &Garden, pages: &[Page]) -> String {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    for page in pages {
        xml.push_str("  <url><loc>");
        xml.push_str(&escape_xml(&site.url(&page.path(site, garden))));
        xml.push_str("</loc></url>\n");
    }
    xml.push_str("</urlset>\n");
    xml
}

pub(crate) fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_is_escaped() {
        assert_eq!(escape_xml("a&b<'\">"), "a&amp;b&lt;&apos;&quot;&gt;");
        assert_eq!(output_file("/"), "index.html");
        assert_eq!(output_file("/blog/x"), "blog/x/index.html");
    }
}
