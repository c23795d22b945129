//! End-to-end tests of `brain mcp` (being written).
