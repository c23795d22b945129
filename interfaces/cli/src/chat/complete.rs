//! Tab completion, pure: given the text before the cursor and a [`Catalog`] of what exists
//! (routes and their sections from `site_routes`, the ids of active jobs), the word being
//! typed and the words it could become. [`needs`] says which half of the catalog a line
//! needs, so a Tab only asks the shell for what it will use.

use super::command::COMMANDS;

/// What completion can offer beyond the command names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Catalog {
    pub(crate) routes: Vec<Route>,
    /// Active jobs and batches.
    pub(crate) ids: Vec<String>,
}

/// A route as completion sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    pub(crate) id: String,
    pub(crate) path: String,
    pub(crate) sections: Vec<String>,
}

/// The catalog data a completion of this line would look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Needs {
    Nothing,
    Routes,
    Ids,
}

/// The word under completion and what it may become.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Completion {
    /// Where the word starts in the text before the cursor (a byte offset).
    pub(crate) start: usize,
    /// The candidates, sorted, without duplicates; all start with the word.
    pub(crate) candidates: Vec<String>,
}

/// The command word and the argument index of the word being typed (0 = the command).
fn position(before: &str) -> (Option<&str>, usize, usize) {
    let start = before
        .rfind(char::is_whitespace)
        .map(|i| i + before[i..].chars().next().map_or(1, char::len_utf8))
        .unwrap_or(0);
    let done: Vec<&str> = before[..start].split_whitespace().collect();
    let index = done.iter().filter(|w| !w.starts_with("--")).count();
    (done.first().copied(), index, start)
}

pub(crate) fn needs(before: &str) -> Needs {
    match position(before) {
        (Some("/generate" | "/promote" | "/rollback"), 1 | 2, _) => Needs::Routes,
        (Some("/status" | "/cancel"), 1, _) => Needs::Ids,
        _ => Needs::Nothing,
    }
}

pub(crate) fn complete(before: &str, catalog: &Catalog) -> Completion {
    let (command, index, start) = position(before);
    let word = &before[start..];
    let words: Vec<&str> = before[..start]
        .split_whitespace()
        .filter(|w| !w.starts_with("--"))
        .collect();
    let mut pool: Vec<String> = match (command, index) {
        (None, _) if word.starts_with('/') => COMMANDS.iter().map(|(n, _)| (*n).into()).collect(),
        (Some("/generate"), _) if word.starts_with('-') => vec!["--force".into()],
        (Some("/generate" | "/promote" | "/rollback"), 1) => {
            let mut names: Vec<String> = catalog.routes.iter().map(|r| r.id.clone()).collect();
            if word.starts_with('/') {
                names = catalog.routes.iter().map(|r| r.path.clone()).collect();
            }
            names
        }
        (Some("/generate" | "/promote" | "/rollback"), 2) => catalog
            .routes
            .iter()
            .filter(|r| words.get(1).is_some_and(|w| *w == r.id || *w == r.path))
            .flat_map(|r| r.sections.clone())
            .collect(),
        (Some("/build"), 1) => vec!["preview".into(), "production".into()],
        (Some("/status" | "/cancel"), 1) => catalog.ids.clone(),
        _ => Vec::new(),
    };
    pool.retain(|c| c.starts_with(word));
    pool.sort();
    pool.dedup();
    Completion {
        start,
        candidates: pool,
    }
}

/// The longest prefix all `words` share (whole characters).
pub(crate) fn common_prefix(words: &[String]) -> String {
    let Some(first) = words.first() else {
        return String::new();
    };
    let mut end = first.len();
    for word in &words[1..] {
        end = first
            .char_indices()
            .zip(word.chars())
            .find(|((_, a), b)| a != b)
            .map_or(end.min(word.len()), |((i, _), _)| i.min(end));
    }
    first[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog {
            routes: vec![
                Route {
                    id: "landing".into(),
                    path: "/".into(),
                    sections: vec!["hero".into(), "features".into(), "cta".into()],
                },
                Route {
                    id: "about".into(),
                    path: "/about".into(),
                    sections: vec!["text".into()],
                },
            ],
            ids: vec!["batch_01a".into(), "batch_01b".into(), "job_07".into()],
        }
    }

    #[test]
    fn completion_table() {
        let cases: [(&str, usize, &[&str]); 16] = [
            ("/gen", 0, &["/generate"]),
            (
                "/",
                0,
                &[
                    "/build",
                    "/cancel",
                    "/generate",
                    "/help",
                    "/jobs",
                    "/promote",
                    "/quit",
                    "/rollback",
                    "/status",
                ],
            ),
            ("/x", 0, &[]),
            ("hello wor", 6, &[]),
            ("/generate ", 10, &["about", "landing"]),
            ("/generate la", 10, &["landing"]),
            ("/promote /a", 9, &["/about"]),
            ("/generate landing ", 18, &["cta", "features", "hero"]),
            ("/rollback /about t", 17, &["text"]),
            ("/generate landing --force f", 26, &["features"]),
            ("/generate --f", 10, &["--force"]),
            ("/generate nowhere ", 18, &[]),
            ("/build p", 7, &["preview", "production"]),
            ("/build production ", 18, &[]),
            ("/cancel batch", 8, &["batch_01a", "batch_01b"]),
            ("/status j", 8, &["job_07"]),
        ];
        for (before, start, expected) in cases {
            let got = complete(before, &catalog());
            assert_eq!(got.start, start, "{before:?}");
            assert_eq!(got.candidates, expected, "{before:?}");
        }
    }

    #[test]
    fn needs_table() {
        for (before, expected) in [
            ("/gen", Needs::Nothing),
            ("/generate ", Needs::Routes),
            ("/promote landing h", Needs::Routes),
            ("/rollback a b ", Needs::Nothing),
            ("/cancel ", Needs::Ids),
            ("/status b", Needs::Ids),
            ("/build ", Needs::Nothing),
            ("hello", Needs::Nothing),
        ] {
            assert_eq!(needs(before), expected, "{before:?}");
        }
    }

    #[test]
    fn common_prefix_table() {
        let words = |w: &[&str]| w.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        for (input, expected) in [
            (&[][..], ""),
            (&["batch_01a", "batch_01b"][..], "batch_01"),
            (&["preview", "production"], "pr"),
            (&["héro", "hérisson"], "hér"),
            (&["same"], "same"),
            (&["abc", "ab"], "ab"),
        ] {
            assert_eq!(common_prefix(&words(input)), expected, "{input:?}");
        }
    }
}
