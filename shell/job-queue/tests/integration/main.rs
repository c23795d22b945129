//! Integration tests of the job queue on real SQLite files.
