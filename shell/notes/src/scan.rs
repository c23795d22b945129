//! Finding the notes: every `*.md` file (any case) under the notes folder, recursively,
//! with the `stat` facts the no-change pass compares. Hidden directories and files
//! (`.git`, `.obsidian`, editor lock files like `.#note.md`) are not notes. Symbolic
//! links to files inside the notes folder are followed; links to files outside it are
//! reported and not indexed (public search would serve them); links to directories are
//! not followed (they could loop).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::error::NotesError;

/// One markdown file found.
#[derive(Debug)]
pub(crate) struct FoundFile {
    /// Relative to the notes folder, `/`-separated.
    pub(crate) path: String,
    pub(crate) full: PathBuf,
    pub(crate) mtime_ns: i64,
    pub(crate) size: i64,
}

/// What a scan found: the files, sorted by path, and the entries it could not use.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    pub(crate) files: Vec<FoundFile>,
    /// (path, why): unreadable directories, names that are not UTF-8, links leaving the
    /// folder.
    pub(crate) problems: Vec<(String, String)>,
    /// Links to files outside the notes folder (also in `problems`).
    pub(crate) outside: Vec<String>,
}

/// Walks `root`. Only an unreadable `root` is an error; anything below it is a problem
/// reported beside the files, so one bad folder does not stop indexing.
pub(crate) fn scan(root: &Path) -> Result<Scan, NotesError> {
    let mut scan = Scan::default();
    let top = fs::read_dir(root).map_err(|source| NotesError::Io {
        path: root.to_owned(),
        source,
    })?;
    // (directory entries, its relative path with a trailing `/`, or "" for the root)
    let mut pending = vec![(top, String::new())];
    while let Some((entries, prefix)) = pending.pop() {
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    scan.problems.push((prefix.clone(), e.to_string()));
                    continue;
                }
            };
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                scan.problems.push((
                    format!("{prefix}{}", name.to_string_lossy()),
                    "the file name is not valid UTF-8; rename it to index it".to_owned(),
                ));
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            let path = format!("{prefix}{name}");
            let Ok(file_type) = entry.file_type() else {
                continue;
            };
            if file_type.is_dir() {
                match fs::read_dir(entry.path()) {
                    Ok(entries) => pending.push((entries, format!("{path}/"))),
                    Err(e) => scan.problems.push((path, e.to_string())),
                }
                continue;
            }
            if !is_markdown(name) {
                continue;
            }
            // `metadata` follows a symlink; `DirEntry::metadata` would describe the link. A
            // link to a file outside the notes folder is not indexed: the public search
            // would serve whatever it points at.
            let metadata = if file_type.is_symlink() {
                let inside = match fs::canonicalize(entry.path()) {
                    Ok(target) => fs::canonicalize(root).is_ok_and(|root| target.starts_with(root)),
                    // A dangling link: the metadata below reports it.
                    Err(_) => true,
                };
                if !inside {
                    scan.problems.push((
                        path.clone(),
                        "a link to a file outside the notes folder; not indexed".to_owned(),
                    ));
                    scan.outside.push(path);
                    continue;
                }
                fs::metadata(entry.path())
            } else {
                entry.metadata()
            };
            let metadata = match metadata {
                Ok(metadata) if metadata.is_file() => metadata,
                Ok(_) => continue,
                Err(e) => {
                    scan.problems.push((path, e.to_string()));
                    continue;
                }
            };
            scan.files.push(FoundFile {
                path,
                full: entry.path(),
                mtime_ns: mtime_ns(&metadata),
                size: i64::try_from(metadata.len()).unwrap_or(i64::MAX),
            });
        }
    }
    scan.files.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    Ok(scan)
}

fn is_markdown(name: &str) -> bool {
    name.len() > 3
        && name
            .get(name.len() - 3..)
            .is_some_and(|ext| ext.eq_ignore_ascii_case(".md"))
}

/// Nanoseconds since the epoch (negative before it). 0 where the platform keeps no
/// modification time: only size changes are noticed there (every platform brains runs on
/// has one).
fn mtime_ns(metadata: &fs::Metadata) -> i64 {
    let Ok(modified) = metadata.modified() else {
        return 0;
    };
    match modified.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_nanos()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_nanos()).map_or(i64::MIN, |ns| -ns),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn links_to_files_outside_the_notes_folder_are_not_indexed() {
        let dir = tempfile::tempdir().unwrap();
        let notes = dir.path().join("notes");
        std::fs::create_dir(&notes).unwrap();
        std::fs::write(notes.join("inside.md"), "# Inside").unwrap();
        std::fs::write(dir.path().join("secret.md"), "# Secret").unwrap();
        std::os::unix::fs::symlink(notes.join("inside.md"), notes.join("link-in.md")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.md"), notes.join("link-out.md"))
            .unwrap();
        let found = scan(&notes).unwrap();
        let paths: Vec<&str> = found.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["inside.md", "link-in.md"]);
        assert_eq!(found.problems.len(), 1, "{:?}", found.problems);
        assert_eq!(found.problems[0].0, "link-out.md");
        assert!(found.problems[0].1.contains("outside the notes folder"));
        assert_eq!(found.outside, ["link-out.md"]);
    }

    #[test]
    fn markdown_names() {
        for (name, expected) in [
            ("a.md", true),
            ("A.MD", true),
            ("x.Md", true),
            (".md", false),
            ("md", false),
            ("a.markdown", false),
            ("a.md.txt", false),
            ("é.md", true),
        ] {
            assert_eq!(is_markdown(name), expected, "{name}");
        }
    }
}
