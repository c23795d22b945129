//! A brain on a temporary folder: a notes directory to write files into and an index
//! database beside it.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use brain_notes::{IndexReport, NotesIndex};

pub(crate) struct Brain {
    // Kept for its Drop: the folder lives as long as the test's brain.
    _dir: tempfile::TempDir,
    pub(crate) notes: PathBuf,
    pub(crate) db: PathBuf,
    pub(crate) index: NotesIndex,
}

impl Brain {
    pub(crate) fn new() -> Brain {
        let dir = tempfile::tempdir().unwrap();
        let notes = dir.path().join("notes");
        fs::create_dir(&notes).unwrap();
        let db = dir.path().join("notes.db");
        let index = NotesIndex::open(&db, &notes).unwrap();
        Brain {
            _dir: dir,
            notes,
            db,
            index,
        }
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.notes.join(rel)
    }

    /// Writes a note, creating its folders.
    pub(crate) fn write(&self, rel: &str, text: &str) {
        let path = self.path(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    pub(crate) fn remove(&self, rel: &str) {
        fs::remove_file(self.path(rel)).unwrap();
    }

    /// Sets a file's modification time `secs` seconds after an arbitrary fixed instant.
    pub(crate) fn set_mtime(&self, rel: &str, secs: u64) {
        let file = fs::File::options()
            .write(true)
            .open(self.path(rel))
            .unwrap();
        file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs))
            .unwrap();
    }

    /// Refreshes the index, ignoring progress.
    pub(crate) fn reindex(&self) -> IndexReport {
        self.index.reindex(&mut |_, _, _| {}, &|| false).unwrap()
    }
}

/// A note with a title, tags and a body.
pub(crate) fn note(title: &str, tags: &[&str], body: &str) -> String {
    format!(
        "---\ntitle: {title}\ntags: [{}]\n---\n{body}\n",
        tags.join(", ")
    )
}

/// The file's bytes, to check it was left untouched.
pub(crate) fn bytes(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap()
}
