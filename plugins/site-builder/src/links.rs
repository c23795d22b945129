//! The build's link check: every `href` and `src` on a page that points inside the site
//! must name a file the build writes (or a folder whose `index.html` it writes). Checked on
//! each page's HTML as it is rendered, against the list of files the build will write, so
//! no page is read back from disk. Links elsewhere (another scheme, another host, a
//! fragment alone) are not checked.

use std::collections::HashSet;

/// What a build writes, to check its links against.
pub(crate) struct LinkCheck {
    /// Every file of the build, relative to its folder: `index.html`, `blog/x/index.html`.
    files: HashSet<String>,
    /// The site's root on its server (`/` or `/brain/`): what links from the 404 page start
    /// with, as it may be served at any depth.
    base: String,
}

impl LinkCheck {
    pub(crate) fn new(files: impl IntoIterator<Item = String>, base: String) -> LinkCheck {
        LinkCheck {
            files: files.into_iter().collect(),
            base,
        }
    }

    /// The broken links of the page `shown` (its site path), written to `file`:
    /// "broken link on /about: ./docs/index.html", each once.
    pub(crate) fn broken(&self, shown: &str, file: &str, html: &str) -> Vec<String> {
        let mut broken: Vec<String> = Vec::new();
        for link in links(html) {
            if let Some(target) = internal_target(&link)
                && !self.resolves(file, target)
            {
                let line = format!("broken link on {shown}: {link}");
                if !broken.contains(&line) {
                    broken.push(line);
                }
            }
        }
        broken
    }

    /// Whether `target`, relative to the folder of `file` (or to the site's root when it
    /// starts with `/`), names a file of the build, or a folder with its `index.html`.
    fn resolves(&self, file: &str, target: &str) -> bool {
        let mut parts: Vec<&str> = Vec::new();
        let target = match target.strip_prefix(self.base.as_str()) {
            Some(rest) if target.starts_with('/') => rest,
            _ if target.starts_with('/') => target,
            _ => {
                parts.extend(file.split('/'));
                parts.pop();
                target
            }
        };
        for part in target.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    if parts.pop().is_none() {
                        return false;
                    }
                }
                part => parts.push(part),
            }
        }
        let path = parts.join("/");
        let index = if path.is_empty() {
            "index.html".to_owned()
        } else {
            format!("{path}/index.html")
        };
        self.files.contains(&path) || self.files.contains(&index)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_resolve_against_the_files_of_the_build() {
        let check = LinkCheck::new(
            [
                "index.html",
                "about/index.html",
                "style.css",
                "blog/a/index.html",
            ]
            .map(str::to_owned),
            "/brain/".to_owned(),
        );
        let page = r##"<a href="../index.html">h</a> <a href="../blog/a/">a</a>
            <link href="../style.css"> <img src="../logo.png"> <a href="https://x.org/y">x</a>
            <a href="#top">t</a> <a href="../../../etc/passwd">p</a> <a data-href="nope">n</a>
            <a href="/brain/about/index.html">b</a> <a href="../about/index.html?x=1#y">q</a>"##;
        assert_eq!(
            check.broken("/about", "about/index.html", page),
            [
                "broken link on /about: ../../../etc/passwd",
                "broken link on /about: ../logo.png"
            ]
        );
    }
}
