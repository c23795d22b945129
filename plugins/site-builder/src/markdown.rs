//! Markdown to HTML for section bodies and note pages. Content comes from notes and
//! generators, so it is treated as untrusted: raw HTML in it is shown as text (a
//! `<script>` appears as the characters `<script>`), and links or images with
//! script-running URL schemes (`javascript:`, `vbscript:`, `data:`) lead nowhere.
//!
//! In notes, `[[wikilinks]]` (`[[Target]]`, `[[Target|shown text]]`, `[[Target#part]]`) and
//! links to other notes' files (`[x](other.md)`) are resolved by the caller: to a page's
//! link, or to nothing, when the target is not published — then only the text the note
//! itself shows remains, so a private note's name or path never reaches a page.

use pulldown_cmark::{CowStr, Event, HeadingLevel, LinkType, Options, Parser, Tag, TagEnd};

fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_SMART_PUNCTUATION
        | Options::ENABLE_WIKILINKS
}

/// Renders `markdown` (CommonMark plus tables, strikethrough and task lists) to HTML.
/// Wikilinks show their text only: a section has no notes to link to.
pub fn to_html(markdown: &str) -> String {
    note_to_html(markdown, &|_| None, false)
}

/// A link's target as the note wrote it, when it names another note: the part of a
/// wikilink before `#`, or a relative link's path ending in `.md`. `None` for any other
/// link (a web address, an image, a site path).
pub(crate) fn note_target(link_type: LinkType, dest: &str) -> Option<&str> {
    let dest = dest.split('#').next().unwrap_or_default().trim();
    match link_type {
        LinkType::WikiLink { .. } => (!dest.is_empty()).then_some(dest),
        _ => {
            let path = dest.split('?').next().unwrap_or_default();
            let local = !path.contains("://") && !path.starts_with('/');
            (local && path.to_ascii_lowercase().ends_with(".md")).then_some(path)
        }
    }
}

/// Every other note `markdown` links to (see [`note_target`]), as written, in order.
pub(crate) fn note_links(markdown: &str) -> Vec<String> {
    Parser::new_ext(markdown, options())
        .filter_map(|event| match event {
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                ..
            }) => note_target(link_type, &dest_url).map(str::to_owned),
            _ => None,
        })
        .collect()
}

/// What a wikilink to a note that is not published shows when it gives no text of its own
/// (`[[Target]]`): its target is the other note's name, which must not reach the site.
pub(crate) const UNPUBLISHED: &str = "(unpublished note)";

/// The events of a note's `markdown` as pages show them: links to other notes go where
/// `resolve` says (an `href`); a link `resolve` finds nothing for keeps only the text the
/// note chose to show (`[[Target|shown]]`, `[shown](x.md)`), or [`UNPUBLISHED`] for a bare
/// `[[Target]]`; raw HTML is text; script URLs lead nowhere. With `skip_title`, a `# `
/// heading that opens the note is left out (the page shows the title already).
fn note_events<'a>(
    markdown: &'a str,
    resolve: &'a dyn Fn(&str) -> Option<String>,
    skip_title: bool,
) -> impl Iterator<Item = Event<'a>> + 'a {
    // Inside a link whose Start was dropped, its End is dropped too (links do not nest);
    // inside a hidden one, everything up to its End.
    let mut unlinked = false;
    let mut hidden = false;
    let mut skipping_title = false;
    let mut first = true;
    Parser::new_ext(markdown, options()).filter_map(move |event| {
        let opens = std::mem::take(&mut first);
        if skipping_title || hidden {
            if matches!(
                event,
                Event::End(TagEnd::Heading(_)) | Event::End(TagEnd::Link)
            ) {
                skipping_title = false;
                hidden = false;
            }
            return None;
        }
        Some(match event {
            Event::Start(Tag::Heading {
                level: HeadingLevel::H1,
                ..
            }) if opens && skip_title => {
                skipping_title = true;
                return None;
            }
            // Text events are escaped by the HTML writer; raw HTML events would be copied.
            Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => match note_target(link_type, &dest_url) {
                Some(target) => match resolve(target) {
                    Some(href) => Event::Start(Tag::Link {
                        link_type: LinkType::Inline,
                        dest_url: CowStr::from(href),
                        title,
                        id,
                    }),
                    None if link_type == (LinkType::WikiLink { has_pothole: false }) => {
                        hidden = true;
                        Event::Text(CowStr::Borrowed(UNPUBLISHED))
                    }
                    None => {
                        unlinked = true;
                        return None;
                    }
                },
                None => Event::Start(Tag::Link {
                    link_type,
                    dest_url: safe_url(dest_url),
                    title,
                    id,
                }),
            },
            Event::End(TagEnd::Link) if unlinked => {
                unlinked = false;
                return None;
            }
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            }) => Event::Start(Tag::Image {
                link_type,
                dest_url: safe_url(dest_url),
                title,
                id,
            }),
            other => other,
        })
    })
}

/// Renders a note's `markdown` (see [`note_events`]).
pub(crate) fn note_to_html(
    markdown: &str,
    resolve: &dyn Fn(&str) -> Option<String>,
    skip_title: bool,
) -> String {
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, note_events(markdown, resolve, skip_title));
    html
}

/// The text of a note's `markdown` as its page shows it, without markup, words separated
/// by single spaces: what the search index holds.
pub(crate) fn plain_text(markdown: &str, resolve: &dyn Fn(&str) -> Option<String>) -> String {
    words(note_events(markdown, resolve, false), usize::MAX)
}

/// The first sentence of a note's first paragraph as its page shows it (its title heading
/// skipped), at most [`SUMMARY_CHARS`] characters: what lists, feeds and the generator
/// read about a published note.
pub(crate) fn summary(markdown: &str, resolve: &dyn Fn(&str) -> Option<String>) -> String {
    let mut in_paragraph = false;
    let paragraph = note_events(markdown, resolve, true)
        .skip_while(|e| !matches!(e, Event::Start(Tag::Paragraph)))
        .take_while(|e| {
            let done = in_paragraph && matches!(e, Event::End(TagEnd::Paragraph));
            in_paragraph = true;
            !done
        });
    let text = words(paragraph, SUMMARY_CHARS * 4);
    let end = text
        .match_indices(['.', '!', '?'])
        .map(|(at, _)| at + 1)
        .find(|&at| text[at..].starts_with(' ') || at == text.len())
        .unwrap_or(text.len());
    let sentence = &text[..end];
    if sentence.chars().count() <= SUMMARY_CHARS {
        return sentence.to_owned();
    }
    let cut: String = sentence.chars().take(SUMMARY_CHARS - 1).collect();
    format!("{}…", cut.trim_end())
}

/// The longest summary, in characters (the closing `…` included).
const SUMMARY_CHARS: usize = 200;

/// The words of `events`' text, single-spaced (blocks and line breaks are spaces), at most
/// about `limit` bytes.
fn words<'a>(events: impl Iterator<Item = Event<'a>>, limit: usize) -> String {
    let mut raw = String::new();
    for event in events {
        if raw.len() >= limit {
            break;
        }
        match event {
            Event::Text(t) | Event::Code(t) => raw.push_str(&t),
            Event::SoftBreak | Event::HardBreak | Event::End(_) => raw.push(' '),
            _ => {}
        }
    }
    raw.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    if is_safe_url(&url) {
        url
    } else {
        CowStr::Borrowed("#")
    }
}

/// Whether following `url` cannot run script: anything but a `javascript:`, `vbscript:` or
/// `data:` URL (checked the way browsers read them: case and inner whitespace ignored).
pub fn is_safe_url(url: &str) -> bool {
    let scheme: String = url
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .take(11)
        .collect::<String>()
        .to_ascii_lowercase();
    !["javascript:", "vbscript:", "data:"]
        .iter()
        .any(|bad| scheme.starts_with(bad))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_html_is_text() {
        let html = to_html("Hi <script>alert(1)</script>\n\n<div onclick=x>block</div>\n");
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(html.contains("&lt;div onclick=x&gt;"), "{html}");
    }

    #[test]
    fn markdown_renders() {
        let html = to_html("# Title\n\n- *one*\n- **two**\n\n[link](https://x.org)");
        assert!(html.contains("<h1>Title</h1>"));
        assert!(html.contains("<em>one</em>"));
        assert!(html.contains(r#"<a href="https://x.org">link</a>"#));
    }

    #[test]
    fn links_to_notes_go_where_the_caller_says() {
        let resolve = |target: &str| (target == "Public").then(|| "../public/".to_owned());
        let html = note_to_html(
            "# Title\n\nSee [[Public]], [[Public#part|this]], [[Secret plans|a friend]], [x](secret.md) and [web](https://x.org).",
            &resolve,
            true,
        );
        assert!(!html.contains("Title"), "{html}");
        assert!(
            html.contains(r#"<a href="../public/">Public</a>"#),
            "{html}"
        );
        assert!(html.contains(r#"<a href="../public/">this</a>"#), "{html}");
        assert!(
            html.contains("a friend") && !html.contains("Secret"),
            "{html}"
        );
        assert!(
            !html.contains("secret.md") && html.contains(" x "),
            "{html}"
        );
        assert!(
            html.contains(r#"<a href="https://x.org">web</a>"#),
            "{html}"
        );
        assert_eq!(
            note_links("[[A]] [[B#c|d]] [e](f.md) [g](https://h.md) ![i](j.md)"),
            ["A", "B", "f.md"]
        );
        let none = |_: &str| None;
        assert_eq!(
            plain_text("# T\n\nSome *very* `code`\n- x", &none),
            "T Some very code x"
        );
        assert_eq!(
            plain_text("[[Secret plans]] and [[Secret plans|a friend]]", &none),
            "(unpublished note) and a friend"
        );
        assert_eq!(
            summary("# Title\n\nSee [[Secret]]. More text.\n", &none),
            "See (unpublished note)."
        );
        let long = "word ".repeat(100);
        assert_eq!(summary(&long, &none).chars().count(), SUMMARY_CHARS);
        let bare = note_to_html("[[Secret plans]] aside", &none, false);
        assert_eq!(bare, "<p>(unpublished note) aside</p>\n");
    }

    #[test]
    fn script_urls_lead_nowhere() {
        let html = to_html("[x](javascript:alert(1)) ![y](JaVaScRiPt:alert(1))");
        assert!(!html.to_lowercase().contains("javascript"), "{html}");
        assert!(is_safe_url("/about") && is_safe_url("mailto:me@x.org"));
        assert!(!is_safe_url(" data:text/html,x"));
    }
}
