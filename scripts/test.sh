#!/usr/bin/env bash
# Runs every check CI runs, on a fresh machine: formatting, lints, the hermetic tier, the
# CLI-only build, then the end-to-end tier with its real peers, then a quick benchmark.
# External services that the end-to-end tests need are installed from here (Chromium,
# PostgreSQL 15) or by the tests on first use (scripts/test-deps/: the MCP SDKs, Synapse).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

step "format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy -p brain --all-targets --locked --features e2e -- -D warnings
cargo clippy -p brain-example-plugin --all-targets --locked --features e2e -- -D warnings
cargo clippy -p brain --all-targets --locked --no-default-features -- -D warnings

# The job queue's PostgreSQL suite starts throwaway PostgreSQL 15 servers itself (on Unix
# sockets, so inside the hermetic tier too); the server must be installed.
step "PostgreSQL 15"
if [ ! -x /usr/lib/postgresql/15/bin/initdb ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null
fi
# The multi-host test makes network namespaces with `ip` (iproute2) and gives each "host"
# its own hostname with `unshare` (util-linux).
if ! command -v ip >/dev/null || ! command -v unshare >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 util-linux >/dev/null
fi

# Tier 1, hermetic: no network, no installs, no browser. Where we may (root, as in CI), it
# runs in a network namespace of its own with only loopback up: the network unplugged.
step "hermetic tests"
if unshare -n true 2>/dev/null; then
  unshare -n sh -c 'ip link set lo up && exec cargo test --workspace --locked --offline'
elif [ "${CI:-}" = true ]; then
  echo "CI must run the hermetic tier without the network, and unshare -n is refused here" >&2
  exit 1
else
  echo "(unshare -n is not allowed here: the hermetic tier runs with the network on)" >&2
  cargo test --workspace --locked
fi

# A plugin author compiles the brain without the Matrix bot.
if cargo tree -p brain-example-plugin -e normal --locked | grep -q matrix-sdk; then
  echo "brain-example-plugin pulls in matrix-sdk: it must depend on brain without 'matrix'" >&2
  exit 1
fi

# The CLI-only brain (no Matrix, no MCP) builds, and its tests pass.
step "CLI-only build (--no-default-features)"
cargo test -p brain --locked --no-default-features

# Tier 2, end to end: real Synapse, the Python and TypeScript MCP SDKs, headless Chromium.
step "end-to-end tests"
if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
cargo test -p brain --locked --features e2e --test e2e
# A plugin's declared commands through the Matrix bot (the example plugin's `!count`).
cargo test -p brain-example-plugin --locked --features e2e --test e2e

# The benchmark must keep running; its figures are printed, never asserted.
step "queue benchmark (quick)"
cargo run --locked --release -p brain-job-queue --example queue-bench -- --quick
# And on PostgreSQL, beside its peer (graphile-worker, installed from npm on first use).
scripts/bench-postgres.sh -- --quick --runs 1
