//! End-to-end tests of `brain matrix` (being written).
