#!/usr/bin/env bash
# MCP benchmarks (printed, not asserted), with the real Python client:
#  1. latency from a job's report_progress to the notification reaching the Python client
#     over stdio (p50/p99);
#  2. 50 concurrent HTTP sessions, each starting a job and polling the status tool:
#     errors, round-trip p50/p99 at the client, and the status tool's own time in the
#     server (from its debug log).
# usage: interfaces/mcp/tests/clients/bench.sh [release|debug]   (default release)
# Builds (unless BRAIN_BENCH_BIN names one) tests/example-plugin's brain-mcp-bench (the brain plus a timestamped-progress tool)
# and installs the clients with scripts/test-deps/mcp-clients.sh.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../../.." && pwd)
PROFILE=${1:-release}
cd "$ROOT"
# BRAIN_BENCH_BIN: a brain-mcp-bench built already (skips the build).
BIN=${BRAIN_BENCH_BIN:-}
if [ -z "$BIN" ]; then
  if [ "$PROFILE" = release ]; then
    cargo build --release -p brain-example-plugin --bin brain-mcp-bench >&2
  else
    cargo build -p brain-example-plugin --bin brain-mcp-bench >&2
  fi
  BIN=${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE/brain-mcp-bench
fi
PYTHON=$(scripts/test-deps/mcp-clients.sh | head -1)
WORK=$(mktemp -d)
trap 'kill "$SERVER" 2>/dev/null || true; rm -rf "$WORK"' EXIT
SERVER=
cd "$WORK"
"$BIN" init bench >/dev/null
sed -i 's/^concurrency = 4/concurrency = 8/' bench/brain.toml
echo "brain-mcp-bench ($PROFILE build), $(nproc) CPUs"
"$PYTHON" "$ROOT/interfaces/mcp/tests/clients/bench.py" latency "$BIN" bench
"$BIN" --dir bench --log-level debug mcp --http 127.0.0.1:0 2> server.log &
SERVER=$!
for _ in $(seq 100); do grep -q "brain MCP server at" server.log && break; sleep 0.1; done
URL=$(grep -o 'http://[0-9.:]*/mcp' server.log | head -1)
"$PYTHON" "$ROOT/interfaces/mcp/tests/clients/bench.py" sessions "$URL" 50
grep 'tool="status"' server.log | grep 'tool call ok' | grep -o 'elapsed_ms=[0-9]*' | cut -d= -f2 \
  | sort -n | awk '{a[NR]=$1} END {if (NR) printf "status tool in the server: %d calls, p50 %d ms, p99 %d ms (ms resolution)\n", NR, a[int((NR-1)*0.5)+1], a[int((NR-1)*0.99)+1]}'
kill -TERM "$SERVER"; wait "$SERVER" || true; SERVER=
