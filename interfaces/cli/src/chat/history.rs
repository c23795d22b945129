//! The chat's history file, `.brain/chat_history`: one entry a line, oldest first, at most
//! [`HISTORY_LIMIT`] entries. It is rewritten whole (through a temporary file and a rename)
//! after every line, so a crash loses nothing and the file never grows past the bound.

use std::io::Write;
use std::path::Path;

/// The file's name in the brain's data directory.
pub(crate) const HISTORY_FILE: &str = "chat_history";

/// How many entries are kept.
pub(crate) const HISTORY_LIMIT: usize = 500;

/// The entries in `path`, the newest [`HISTORY_LIMIT`]; none when the file is missing or
/// unreadable (a history is a convenience, never a reason not to start).
pub(crate) fn load(path: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let entries: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    let skip = entries.len().saturating_sub(HISTORY_LIMIT);
    entries.into_iter().skip(skip).collect()
}

/// Writes `entries` (the newest [`HISTORY_LIMIT`]) to `path`.
pub(crate) fn save(path: &Path, entries: &[String]) -> std::io::Result<()> {
    let skip = entries.len().saturating_sub(HISTORY_LIMIT);
    let mut text = String::new();
    for entry in &entries[skip..] {
        // An entry is one line by construction (the editor turns line breaks into spaces).
        text.push_str(&entry.replace(['\n', '\r'], " "));
        text.push('\n');
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_bounded_and_skips_blank_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(HISTORY_FILE);
        assert!(load(&path).is_empty(), "missing file: no history");
        let entries: Vec<String> = (0..HISTORY_LIMIT + 20)
            .map(|i| format!("/status {i}"))
            .collect();
        save(&path, &entries).unwrap();
        let loaded = load(&path);
        assert_eq!(loaded.len(), HISTORY_LIMIT);
        assert_eq!(loaded[0], "/status 20");
        assert_eq!(
            loaded.last().unwrap(),
            &format!("/status {}", HISTORY_LIMIT + 19)
        );
        std::fs::write(&path, "a\n\n  \nb\n").unwrap();
        assert_eq!(load(&path), ["a", "b"]);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
    }
}
