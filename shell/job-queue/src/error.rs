//! Errors of the job queue. Each message names the value at fault and what is allowed.

use std::path::PathBuf;

/// Everything the queue can refuse or fail at.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    #[error(
        "{path} is not a brains job database (not an SQLite file); refusing to open it. \
         Point the queue at a new file or an existing brains database"
    )]
    NotADatabase { path: PathBuf },
    #[error(
        "{path} is an SQLite database of another application or of another part of brains \
         (application_id {application_id:#x}), not a job database; refusing to touch it. Point the queue at a new file or an existing brains database"
    )]
    ForeignDatabase { path: PathBuf, application_id: i32 },
    #[error(
        "{path} was written by a newer brains (schema version {found}; this build supports up to \
         {supported}); upgrade brains to open it"
    )]
    NewerSchema {
        path: PathBuf,
        found: i32,
        supported: i32,
    },
    #[error(
        "invalid job type {value:?}: expected `<plugin-id>:<name>` of a-z, 0-9, '-', '_' (e.g. `site-builder:generate`)"
    )]
    InvalidJobType { value: String },
    #[error("no handler is registered for job type {job_type:?}; registered: {registered}")]
    UnknownJobType {
        job_type: String,
        registered: String,
    },
    #[error("a handler for job type {job_type:?} is already registered")]
    DuplicateJobType { job_type: String },
    #[error("invalid {field}: {reason}")]
    InvalidArgument { field: &'static str, reason: String },
    #[error("no job or batch with id {id:?}")]
    NotFound { id: String },
    #[error(
        "{prefix:?} is the start of more than one id: {} — type more of it",
        candidates.join(", ")
    )]
    Ambiguous {
        prefix: String,
        candidates: Vec<String>,
    },
    #[error(
        "invalid after: no job or batch with id {id:?} to wait for (work can only wait for work that \
         already exists, so dependencies never form a cycle)"
    )]
    UnknownDependency { id: String },
    #[error("the queue has shut down")]
    Closed,
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
    #[error("PostgreSQL error: {}", postgres_problem(.0))]
    Postgres(tokio_postgres::Error),
    #[error("cannot reach the job database at {location}: {reason}")]
    Unreachable { location: String, reason: String },
    #[error(
        "the database at {location} has a `brains` schema that is not a brains job queue; \
         refusing to touch it. Point [queue] url at another database"
    )]
    ForeignSchema { location: String },
    /// An SQLite error about the database file itself (damaged, read-only, disk full).
    // `cause`, not `source`: the message carries it, and a source would print it twice.
    #[error("{path}: {}", file_problem(cause))]
    File {
        path: PathBuf,
        cause: rusqlite::Error,
    },
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

pub type Result<T, E = QueueError> = std::result::Result<T, E>;

// Not `#[from]`: the message carries the SQLite error (see `QueueError::File`).
impl From<rusqlite::Error> for QueueError {
    fn from(error: rusqlite::Error) -> Self {
        QueueError::Sqlite(error)
    }
}

// Not `#[from]`, as for SQLite: the message carries the error.
impl From<tokio_postgres::Error> for QueueError {
    fn from(error: tokio_postgres::Error) -> Self {
        QueueError::Postgres(error)
    }
}

/// A PostgreSQL error with the server's message and detail, not only its kind.
fn postgres_problem(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{} ({detail})", db.message()),
            None => db.message().to_owned(),
        },
        None => error.to_string(),
    }
}

impl From<brain_sqlite_file::FileError> for QueueError {
    fn from(error: brain_sqlite_file::FileError) -> Self {
        use brain_sqlite_file::FileError;
        match error {
            FileError::NotADatabase { path } => QueueError::NotADatabase { path },
            FileError::Foreign {
                path,
                application_id,
            } => QueueError::ForeignDatabase {
                path,
                application_id,
            },
            FileError::Newer {
                path,
                found,
                supported,
            } => QueueError::NewerSchema {
                path,
                found,
                supported,
            },
            FileError::Io { path, source } => QueueError::Io { path, source },
            FileError::Sqlite(cause) => QueueError::Sqlite(cause),
        }
    }
}

impl QueueError {
    /// Whether the database's disk is full (writes can succeed again once space is freed).
    pub fn is_disk_full(&self) -> bool {
        match self {
            QueueError::Sqlite(cause) | QueueError::File { cause, .. } => {
                cause.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull)
            }
            _ => false,
        }
    }

    /// An SQLite error about the file itself as an error naming `path`; others as they are.
    pub(crate) fn naming(self, path: &std::path::Path) -> QueueError {
        use rusqlite::ErrorCode;
        // A database opened read-only because its disk was full refuses writes as
        // read-only; say what the person can fix.
        let self_ = match self {
            QueueError::Sqlite(cause)
                if cause.sqlite_error_code() == Some(ErrorCode::ReadOnly) && disk_is_full(path) =>
            {
                QueueError::Sqlite(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
                    Some("nothing can be written, so it was opened read-only".into()),
                ))
            }
            other => other,
        };
        match self_ {
            QueueError::Sqlite(cause)
                if matches!(
                    cause.sqlite_error_code(),
                    Some(
                        ErrorCode::DatabaseCorrupt
                            | ErrorCode::NotADatabase
                            | ErrorCode::ReadOnly
                            | ErrorCode::CannotOpen
                            | ErrorCode::PermissionDenied
                            | ErrorCode::DiskFull
                            | ErrorCode::SystemIoFailure
                    )
                ) =>
            {
                QueueError::File {
                    path: path.to_owned(),
                    cause,
                }
            }
            other => other,
        }
    }
}

/// Whether the file system holding `path` has no space left for this user.
fn disk_is_full(path: &std::path::Path) -> bool {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    rustix::fs::statvfs(dir.unwrap_or(std::path::Path::new(".")))
        .is_ok_and(|stats| stats.f_bavail == 0)
}

/// What is wrong with the job database, in words.
fn file_problem(error: &rusqlite::Error) -> String {
    use rusqlite::ErrorCode;
    match error.sqlite_error_code() {
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => format!(
            "the job database is damaged ({error}); restore it from a backup, or move it (with \
             its -wal and -shm files) aside to start with an empty queue"
        ),
        Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => {
            format!(
                "the job database cannot be written ({error}); a read-only brain can list and \
                 watch its jobs, not start or change any"
            )
        }
        Some(ErrorCode::DiskFull) => format!("the disk is full ({error})"),
        _ => format!("job database error: {error}"),
    }
}
