//! Errors of the notes index. Each message names the file at fault and, for notes, the line.

use std::path::PathBuf;

/// Everything opening, refreshing or querying the index can fail at.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotesError {
    #[error(
        "{path} is not a brains notes index (not an SQLite file); refusing to open it. \
         Point the index at a new file or an existing brains notes index"
    )]
    NotADatabase { path: PathBuf },
    #[error(
        "{path} is an SQLite database of another application or of another part of brains \
         (application_id {application_id:#x}), not a notes index; refusing to touch it. \
         Point the index at a new file or an existing brains notes index"
    )]
    ForeignDatabase { path: PathBuf, application_id: i32 },
    #[error(
        "{path} was written by a newer brains (notes index schema version {found}; this build \
         supports up to {supported}); upgrade brains to open it"
    )]
    NewerSchema {
        path: PathBuf,
        found: i32,
        supported: i32,
    },
    // `cause`, not `source`: the message carries it (see `From<rusqlite::Error>`).
    #[error("{path}: {}", file_problem(cause))]
    File {
        path: PathBuf,
        cause: rusqlite::Error,
    },
    #[error(
        "{path} is read-only and was written by an older brains (it needs an upgrade, which \
         writes to it); make it writable, or remove it to index the notes again"
    )]
    ReadOnlyUpgrade { path: PathBuf },
    #[error(
        "the notes index {path} is read-only (opened from a read-only folder or file); it can be searched but not refreshed"
    )]
    ReadOnly { path: PathBuf },
    #[error("notes index database error: {0}")]
    Sqlite(rusqlite::Error),
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("indexing was cancelled")]
    Cancelled,
    #[error(
        "the search for {query:?} was stopped after {budget:?}; search for fewer or longer words"
    )]
    SearchTooLong {
        query: String,
        budget: std::time::Duration,
    },
}

// Not `#[from]`: the message already carries the SQLite error, and a `source` too would
// print it twice in an error chain.
impl From<rusqlite::Error> for NotesError {
    fn from(error: rusqlite::Error) -> Self {
        NotesError::Sqlite(error)
    }
}

impl From<brain_sqlite_file::FileError> for NotesError {
    fn from(error: brain_sqlite_file::FileError) -> Self {
        use brain_sqlite_file::FileError;
        match error {
            FileError::NotADatabase { path } => NotesError::NotADatabase { path },
            FileError::Foreign {
                path,
                application_id,
            } => NotesError::ForeignDatabase {
                path,
                application_id,
            },
            FileError::Newer {
                path,
                found,
                supported,
            } => NotesError::NewerSchema {
                path,
                found,
                supported,
            },
            FileError::Io { path, source } => NotesError::Io { path, source },
            FileError::Sqlite(cause) => NotesError::Sqlite(cause),
        }
    }
}

/// What is wrong with the index file, in words, for an SQLite error met opening it.
fn file_problem(error: &rusqlite::Error) -> String {
    use rusqlite::ErrorCode;
    match error.sqlite_error_code() {
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => format!(
            "the notes index is damaged ({error}); remove it (and its -wal and -shm files) and \
             it is rebuilt from the notes"
        ),
        Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => {
            format!("cannot open the notes index for writing ({error})")
        }
        Some(ErrorCode::DiskFull) => format!("the disk is full ({error})"),
        _ => format!("notes index error: {error}"),
    }
}

/// Why one note could not be parsed. `message` names the line when one is known (it is
/// also in `line`), so the message alone tells a person where to look.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct NoteError {
    /// The note's path relative to the notes folder.
    pub path: String,
    /// The 1-based line within the file, when known.
    pub line: Option<usize>,
    pub message: String,
}
