//! End-to-end tests of `brain chat` (being written).
