#!/usr/bin/env bash
# The PostgreSQL benchmark: a throwaway PostgreSQL 15 server on this machine (durable
# defaults, shared_buffers 1 GB, as in ../shared/research/job-queues.md Recipe A), then, in
# the same run on the same server, `queue-bench --driver postgres` and the peer,
# graphile-worker 0.18 (installed once under target/bench-deps/). Figures are printed,
# never asserted. Options after `--` go to queue-bench (e.g. `-- --quick --runs 1`).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=/usr/lib/postgresql/15/bin
if [ ! -x "$BIN/initdb" ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null
fi
DEPS=${BRAIN_BENCH_DEPS:-$ROOT/target/bench-deps}
GW=$DEPS/graphile-worker
if [ ! -f "$GW/.installed-0.18.0" ]; then
  rm -rf "$GW" && mkdir -p "$GW"
  (cd "$GW" && npm init -y >/dev/null && npm install --silent graphile-worker@0.18.0 >/dev/null)
  touch "$GW/.installed-0.18.0"
fi
cp "$ROOT/scripts/bench/graphile-worker.mjs" "$GW/"

DIR=$(mktemp -d /tmp/brains-bench-pg.XXXX)
PORT=${BRAIN_BENCH_PG_PORT:-55433}
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres: "$DIR"
as_pg "$BIN/initdb" -D "$DIR/data" -A trust -U postgres >/dev/null
as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w start -o \
  "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$DIR -c max_connections=200 -c shared_buffers=1GB" >/dev/null
trap 'as_pg "$BIN/pg_ctl" -D "$DIR/data" -m fast stop >/dev/null 2>&1 || true; rm -rf "$DIR"' EXIT
URL="postgres://postgres@127.0.0.1:$PORT/postgres"

cd "$ROOT"
[ "${1:-}" = "--" ] && shift
cargo run --locked --release -q -p brain-job-queue --example queue-bench -- --driver postgres --url "$URL" "$@"
echo
echo "peer: graphile-worker 0.18.0, one process, concurrency 24, batching on (localQueue 500, completeJobBatchDelay 0)"
N=100000 RUNS=3 NEXT=
for arg in "$@"; do
  case $NEXT$arg in
    --quick) N=5000 ;;
    --runs=*) RUNS=${arg#--runs=} ;;
    --runs) NEXT=runs: ;;
    runs:*) RUNS=$arg; NEXT= ;;
  esac
done
node "$GW/graphile-worker.mjs" "$URL" "$N" "$RUNS" 24
