#!/usr/bin/env bash
# The main job on the embedded defaults (SQLite, the offline `local` generator): scaffold a
# brain, generate its site's content and build the preview site, with live progress.
# Usage: scripts/demo.sh [DIR]   (default: ./demo-brain; an existing brain is reused)
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-demo-brain}"

cargo build --locked --release -q -p brain
brain="$PWD/target/release/brain"

"$brain" init "$dir"
"$brain" --dir "$dir" site generate
"$brain" --dir "$dir" site build --env preview
echo "The site is in $dir/dist/preview/ (open $dir/dist/preview/index.html in a browser)."
