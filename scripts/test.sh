#!/usr/bin/env bash
# Runs every check CI runs, on a fresh machine: formatting, lints, then all tests.
# External services that later tests need are installed and started from here.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
# The benchmark must keep running; its figures are printed, never asserted.
cargo run --locked --release -p brain-job-queue --example queue-bench -- --quick
