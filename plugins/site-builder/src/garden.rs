//! Notes as pages: where each published note goes (its collection and slug, so its page is
//! `/blog/first-post`), what links where (wikilinks resolved, backlinks gathered), its tags,
//! and its neighbours in its collection. A pure plan from the site and the published notes;
//! the build renders it. Only published notes ever reach it (the notes index filters them),
//! so nothing here can show a private note: a link to one finds nothing and stays text.

use std::collections::{BTreeMap, HashMap, HashSet};

use brain_plugin_api::NoteText;

use crate::config::{Site, Sort};
use crate::markdown;

/// The plan of every note page, collection page and tag page.
#[derive(Debug)]
pub(crate) struct Garden {
    /// The published notes, by path.
    pub notes: Vec<GardenNote>,
    /// Per collection of the site (same order), its notes in its order; a collection with
    /// no notes has no page.
    pub collections: Vec<Vec<usize>>,
    /// Every tag of a published note, by slug.
    pub tags: Vec<TagPage>,
    /// Slugs that had to change (two notes wanting one page).
    pub warnings: Vec<String>,
    /// What a link target names (a note's path with and without `.md`, its file name, its
    /// title, its slug; lower-cased), to the note.
    keys: HashMap<String, usize>,
}

/// One published note and where it sits.
#[derive(Debug)]
pub(crate) struct GardenNote {
    pub note: NoteText,
    /// The site path of its page: `/blog/first-post`.
    pub path: String,
    pub collection: usize,
    /// The frontmatter's date when it is a `YYYY-MM-DD` day (a time after it is kept).
    pub date: Option<String>,
    /// Its tags, as indexes into [`Garden::tags`].
    pub tags: Vec<usize>,
    /// Published notes it links to, each once.
    pub links: Vec<usize>,
    /// Every link to a note it has, as written, with the published note it found: what its
    /// page shows depends on these (a link, or only text).
    pub targets: Vec<(String, Option<usize>)>,
    /// Published notes that link to it, by title.
    pub backlinks: Vec<usize>,
    /// Its neighbours in its collection's order.
    pub previous: Option<usize>,
    pub next: Option<usize>,
    /// Its first sentence as its page shows it: links to notes that are not published
    /// show no name (the index's summary would show a wikilink's target).
    pub summary: String,
}

/// A tag's page: `/tags/<slug>`.
#[derive(Debug)]
pub(crate) struct TagPage {
    /// The tag as first written.
    pub name: String,
    pub path: String,
    /// Its notes, newest first.
    pub notes: Vec<usize>,
}

impl Garden {
    /// Places `notes` (published, by path) in `site`.
    pub(crate) fn plan(site: &Site, notes: Vec<NoteText>) -> Garden {
        let mut warnings = Vec::new();
        // Pages may not take a route's path, nor each other's.
        let mut taken: HashSet<String> = site.routes.iter().map(|r| r.path.clone()).collect();
        let mut placed = Vec::with_capacity(notes.len());
        for note in notes {
            let collection = site.collection_for(&note.tags);
            let wanted = note
                .frontmatter
                .get("slug")
                .and_then(|slug| slug.as_str())
                .map(slugify)
                .filter(|slug| !slug.is_empty())
                .unwrap_or_else(|| slugify(&note.title));
            let wanted = if wanted.is_empty() {
                "note".to_owned()
            } else {
                wanted
            };
            let base = &site.collections[collection].path;
            let mut path = format!("{base}/{wanted}");
            let mut n = 2;
            while !taken.insert(path.clone()) {
                path = format!("{base}/{wanted}-{n}");
                n += 1;
            }
            if n > 2 {
                warnings.push(format!(
                    "{}: {base}/{wanted} is taken, so its page is {path} (give it a `slug`)",
                    note.path
                ));
            }
            placed.push(GardenNote {
                date: day(note.date.as_deref()),
                note,
                path,
                collection,
                tags: Vec::new(),
                links: Vec::new(),
                targets: Vec::new(),
                backlinks: Vec::new(),
                previous: None,
                next: None,
                summary: String::new(),
            });
        }

        let mut garden = Garden {
            keys: keys(&placed),
            notes: placed,
            collections: vec![Vec::new(); site.collections.len()],
            tags: Vec::new(),
            warnings,
        };
        garden.link();
        garden.tag();
        garden.collect(site);
        for n in 0..garden.notes.len() {
            let summary = markdown::summary(&garden.notes[n].note.body, &garden.resolver(n, ""));
            garden.notes[n].summary = summary;
        }
        garden
    }

    /// Resolves the links of note `from` to the link to a page: `root` followed by the
    /// page's path without its leading `/`.
    pub(crate) fn resolver<'a>(
        &'a self,
        from: usize,
        root: &'a str,
    ) -> impl Fn(&str) -> Option<String> + 'a {
        move |target: &str| {
            self.resolve(from, target)
                .map(|to| crate::render::link(root, &self.notes[to].path))
        }
    }

    /// The published note `target` names, as `from` wrote it: a wikilink's title, file
    /// name or path, or a relative `.md` path (from `from`'s folder).
    pub(crate) fn resolve(&self, from: usize, target: &str) -> Option<usize> {
        let target = target.trim();
        if target.to_ascii_lowercase().ends_with(".md") {
            let folder = self.notes[from]
                .note
                .path
                .rsplit_once('/')
                .map_or("", |(folder, _)| folder);
            if let Some(path) = join(folder, target) {
                return self.keys.get(&path.to_lowercase()).copied();
            }
        }
        self.keys.get(&target.to_lowercase()).copied()
    }

    /// Outgoing links and backlinks.
    fn link(&mut self) {
        for from in 0..self.notes.len() {
            let mut links = Vec::new();
            let mut targets = Vec::new();
            for target in markdown::note_links(&self.notes[from].note.body) {
                let found = self.resolve(from, &target);
                if let Some(to) = found
                    && to != from
                    && !links.contains(&to)
                {
                    links.push(to);
                }
                targets.push((target, found));
            }
            for &to in &links {
                self.notes[to].backlinks.push(from);
            }
            self.notes[from].links = links;
            self.notes[from].targets = targets;
        }
        let titles: Vec<String> = self
            .notes
            .iter()
            .map(|n| n.note.title.to_lowercase())
            .collect();
        for note in &mut self.notes {
            note.backlinks.sort_by(|a, b| titles[*a].cmp(&titles[*b]));
        }
    }

    /// Tag pages, one per tag slug.
    fn tag(&mut self) {
        let mut by_slug: BTreeMap<String, (String, Vec<usize>)> = BTreeMap::new();
        for (index, note) in self.notes.iter().enumerate() {
            for tag in &note.note.tags {
                let slug = slugify(tag.trim_start_matches('#'));
                if slug.is_empty() {
                    continue;
                }
                let entry = by_slug
                    .entry(slug)
                    .or_insert_with(|| (tag.trim_start_matches('#').to_owned(), Vec::new()));
                if !entry.1.contains(&index) {
                    entry.1.push(index);
                }
            }
        }
        for (slug, (name, mut notes)) in by_slug {
            sort(&self.notes, &mut notes, Sort::Date);
            let tag = self.tags.len();
            for &note in &notes {
                self.notes[note].tags.push(tag);
            }
            self.tags.push(TagPage {
                name,
                path: format!("/tags/{slug}"),
                notes,
            });
        }
    }

    /// Each collection's notes in its order, and each note's neighbours there.
    fn collect(&mut self, site: &Site) {
        for (index, note) in self.notes.iter().enumerate() {
            self.collections[note.collection].push(index);
        }
        for (c, collection) in site.collections.iter().enumerate() {
            let mut notes = std::mem::take(&mut self.collections[c]);
            sort(&self.notes, &mut notes, collection.sort);
            for pair in notes.windows(2) {
                self.notes[pair[0]].next = Some(pair[1]);
                self.notes[pair[1]].previous = Some(pair[0]);
            }
            self.collections[c] = notes;
        }
    }
}

/// Orders notes: by date, newest first, undated last; or by title. Ties by title, then path.
fn sort(notes: &[GardenNote], order: &mut [usize], sort: Sort) {
    order.sort_by(|&a, &b| {
        let (a, b) = (&notes[a], &notes[b]);
        let by_title = a
            .note
            .title
            .to_lowercase()
            .cmp(&b.note.title.to_lowercase())
            .then_with(|| a.note.path.cmp(&b.note.path));
        match sort {
            Sort::Title => by_title,
            Sort::Date => match (&a.date, &b.date) {
                (Some(x), Some(y)) => y.cmp(x).then(by_title),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => by_title,
            },
        }
    });
}

/// Lower-cased names of each note for links, earlier kinds first: paths, then file names,
/// then titles, then slugs (the first note of a name keeps it).
fn keys(notes: &[GardenNote]) -> HashMap<String, usize> {
    let mut keys = HashMap::with_capacity(notes.len() * 4);
    let kinds: [fn(&GardenNote) -> String; 5] = [
        |n| n.note.path.to_lowercase(),
        |n| strip_md(&n.note.path).to_lowercase(),
        |n| {
            let path = strip_md(&n.note.path);
            path.rsplit('/').next().unwrap_or(path).to_lowercase()
        },
        |n| n.note.title.trim().to_lowercase(),
        |n| n.path.rsplit('/').next().unwrap_or_default().to_owned(),
    ];
    for kind in kinds {
        for (index, note) in notes.iter().enumerate() {
            keys.entry(kind(note)).or_insert(index);
        }
    }
    keys
}

fn strip_md(path: &str) -> &str {
    if path.to_ascii_lowercase().ends_with(".md") {
        &path[..path.len() - 3]
    } else {
        path
    }
}

/// `folder` joined with the relative `path` (`..` climbs), `None` when it climbs out.
fn join(folder: &str, path: &str) -> Option<String> {
    let mut parts: Vec<&str> = folder.split('/').filter(|p| !p.is_empty()).collect();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    Some(parts.join("/"))
}

/// A frontmatter date as a day, `YYYY-MM-DD`, when it starts with one.
fn day(date: Option<&str>) -> Option<String> {
    let date = date?.trim();
    let day = date.get(..10)?;
    let shape = day.bytes().enumerate().all(|(i, b)| match i {
        4 | 7 => b == b'-',
        _ => b.is_ascii_digit(),
    });
    shape.then(|| day.to_owned())
}

/// A URL segment from a title or tag: lower case letters and digits (any script), other
/// runs turned into one `-`: "Sourdough, step 2!" → `sourdough-step-2`.
pub(crate) fn slugify(text: &str) -> String {
    let mut slug = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.truncate(slug.trim_end_matches('-').len());
    slug
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn note(path: &str, title: &str, tags: &[&str], date: Option<&str>, body: &str) -> NoteText {
        NoteText {
            path: path.into(),
            title: title.into(),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            date: date.map(str::to_owned),
            summary: String::new(),
            body: body.into(),
            frontmatter: json!({ "publish": true }),
            hash: String::new(),
        }
    }

    fn site() -> Site {
        let config = json!({
            "title": "t", "base_url": "https://x.org",
            "routes": [{ "id": "landing", "path": "/", "title": "Home" }],
            "collections": [{ "id": "blog", "tags": ["blog"] }],
        });
        Site::from_config(&config, std::path::Path::new("/"))
            .unwrap()
            .unwrap()
    }

    #[test]
    fn slugs() {
        assert_eq!(slugify("Sourdough, step 2!"), "sourdough-step-2");
        assert_eq!(slugify("  Café — déjà vu "), "café-déjà-vu");
        assert_eq!(slugify("!!!"), "");
        assert_eq!(day(Some("2026-12-07T10:00")), Some("2026-12-07".into()));
        assert_eq!(day(Some("yesterday")), None);
        assert_eq!(join("a/b", "../c.md"), Some("a/c.md".into()));
        assert_eq!(join("", "../c.md"), None);
    }

    #[test]
    fn notes_are_placed_linked_and_ordered() {
        let mut custom = note("x/custom.md", "Custom", &[], None, "");
        custom.frontmatter = json!({ "publish": true, "slug": "My Page" });
        let notes = vec![
            note(
                "a.md",
                "Alpha",
                &["Blog"],
                Some("2026-01-02"),
                "See [[Beta]] and [[gamma|g]].",
            ),
            note(
                "b.md",
                "Beta",
                &["blog", "bread"],
                Some("2026-03-04"),
                "Back to [x](a.md).",
            ),
            note("c.md", "Beta", &[], None, "[[Missing]] [[c]]"),
            note("gamma.md", "Gamma", &["#bread"], None, ""),
            custom,
        ];
        let garden = Garden::plan(&site(), notes);
        let paths: Vec<&str> = garden.notes.iter().map(|n| n.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/blog/alpha",
                "/blog/beta",
                "/notes/beta",
                "/notes/gamma",
                "/notes/my-page"
            ]
        );
        // Newest first in the blog; prev/next follow that order.
        assert_eq!(garden.collections[0], [1, 0]);
        assert_eq!(garden.notes[1].next, Some(0));
        assert_eq!(garden.notes[0].previous, Some(1));
        // "Beta" is b.md's title (first by path); `c` is c.md's own name, not a link.
        assert_eq!(garden.notes[0].links, [1, 3]);
        assert_eq!(garden.notes[1].links, [0]);
        assert!(garden.notes[2].links.is_empty());
        assert_eq!(garden.notes[0].backlinks, [1]);
        assert_eq!(garden.notes[3].backlinks, [0]);
        let tags: Vec<(&str, &str)> = garden
            .tags
            .iter()
            .map(|t| (t.name.as_str(), t.path.as_str()))
            .collect();
        assert_eq!(tags, [("Blog", "/tags/blog"), ("bread", "/tags/bread")]);
        assert_eq!(garden.tags[1].notes, [1, 3]);
        assert!(garden.warnings.is_empty(), "{:?}", garden.warnings);
    }

    #[test]
    fn two_notes_wanting_one_page_both_get_one() {
        let notes = vec![
            note("a.md", "Same", &[], None, ""),
            note("b.md", "Same", &[], None, ""),
        ];
        let garden = Garden::plan(&site(), notes);
        assert_eq!(garden.notes[1].path, "/notes/same-2");
        assert_eq!(garden.warnings.len(), 1);
        assert!(garden.warnings[0].starts_with("b.md: /notes/same is taken"));
    }
}
