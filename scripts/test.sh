#!/usr/bin/env bash
# Runs every check CI runs, on a fresh machine: formatting, lints, then all tests.
# External services that later tests need are installed and started from here.
set -euo pipefail
cd "$(dirname "$0")/.."

# The site test screenshots the built site with Debian's Chromium.
if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
# The benchmark must keep running; its figures are printed, never asserted.
cargo run --locked --release -p brain-job-queue --example queue-bench -- --quick
