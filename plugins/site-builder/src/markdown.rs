//! Markdown to HTML for section bodies. Content comes from notes and generators, so it is
//! treated as untrusted: raw HTML in it is shown as text (a `<script>` appears as the
//! characters `<script>`), and links or images with script-running URL schemes
//! (`javascript:`, `vbscript:`, `data:`) lead nowhere.

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag};

/// Renders `markdown` (CommonMark plus tables, strikethrough and task lists) to HTML.
pub fn to_html(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_SMART_PUNCTUATION;
    let events = Parser::new_ext(markdown, options).map(|event| match event {
        // Text events are escaped by the HTML writer; raw HTML events would be copied.
        Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
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
    });
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events);
    html
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
    fn script_urls_lead_nowhere() {
        let html = to_html("[x](javascript:alert(1)) ![y](JaVaScRiPt:alert(1))");
        assert!(!html.to_lowercase().contains("javascript"), "{html}");
        assert!(is_safe_url("/about") && is_safe_url("mailto:me@x.org"));
        assert!(!is_safe_url(" data:text/html,x"));
    }
}
