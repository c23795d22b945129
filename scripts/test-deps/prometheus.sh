#!/usr/bin/env bash
# Installs the Prometheus project's Python client (its text-format parser reads the
# dashboard's /metrics in the tests), once, in a venv under target/test-deps/. Later runs see
# the marker and return at once; a flock makes concurrent test processes wait for one
# install. Prints the venv's python on stdout.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DEPS=${BRAIN_TEST_DEPS:-$ROOT/target/test-deps}
VENV=$DEPS/prometheus-venv
# A pinned minor line: a new release must not change the tests under it.
PACKAGE='prometheus_client>=0.26,<0.27'
MARKER=$VENV/.installed-prometheus-client-0.26
mkdir -p "$DEPS"
exec 9>"$DEPS/prometheus.lock"
flock 9
if [ ! -f "$MARKER" ]; then
  rm -rf "$VENV"
  "${PYTHON:-python3}" -m venv "$VENV" >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$PACKAGE" >&2
  touch "$MARKER"
fi
echo "$VENV/bin/python"
