#!/usr/bin/env bash
# The main job on the embedded defaults (SQLite, the offline `local` generator): scaffold a
# brain, start its workers, generate the site's content and build the preview site, then
# stop. Usage: scripts/demo.sh [DIR]   (default: ./demo-brain; an existing brain is reused)
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-demo-brain}"

cargo build --locked --release -q -p brain
brain="$PWD/target/release/brain"

"$brain" init "$dir"
"$brain" --dir "$dir" start 2>"$dir/.brain-start.log" &
start_pid=$!
trap 'kill -INT "$start_pid" 2>/dev/null; wait "$start_pid" 2>/dev/null || true' EXIT

# Runs a tool and waits for the job or batch it started, printing its status as it goes.
run() {
  local tool=$1 args=$2 id status
  id=$("$brain" --dir "$dir" tool "$tool" --args "$args" |
    python3 -c 'import json,sys; print(json.load(sys.stdin).get("jobId", ""))')
  [ -n "$id" ] || { echo "$tool: nothing to do"; return; }
  while :; do
    "$brain" --dir "$dir" jobs status "$id" | head -n 1
    status=$("$brain" --dir "$dir" jobs status "$id" --json |
      python3 -c 'import json,sys; print(next(iter(json.load(sys.stdin).values()))["status"])')
    case "$status" in
      completed) return ;;
      failed | cancelled) "$brain" --dir "$dir" jobs status "$id" >&2; exit 1 ;;
    esac
    sleep 0.5
  done
}

run site_generate '{}'
run site_build '{"environment": "preview"}'
echo "The site is in $dir/dist/preview/ (open $dir/dist/preview/index.html)."
