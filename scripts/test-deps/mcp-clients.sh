#!/usr/bin/env bash
# Installs the real MCP clients the MCP interface's tests drive, once, under target/test-deps/:
# a Python venv with the PyPI package `mcp` (2.3.x) and an npm folder with
# `@modelcontextprotocol/sdk` (1.32.x) for the machine's Node. Later runs see the markers and
# return at once; a flock makes concurrent test processes wait for one install.
# Prints two lines on stdout: the venv's python, then the npm folder (its node_modules is
# where the TypeScript client's imports resolve).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DEPS=${BRAIN_TEST_DEPS:-$ROOT/target/test-deps}
VENV=$DEPS/mcp-venv
NPM_DIR=$DEPS/mcp-npm
# Pinned minor lines: a new client release must not change the tests under them.
PY_MCP='mcp>=2.3,<2.4'
TS_SDK='@modelcontextprotocol/sdk@~1.32.0'
PY_MARKER=$VENV/.installed-mcp-2.3
NPM_MARKER=$NPM_DIR/.installed-sdk-1.32
mkdir -p "$DEPS"
exec 9>"$DEPS/mcp-clients.lock"
flock 9
if [ ! -f "$PY_MARKER" ]; then
  rm -rf "$VENV"
  PYTHON=${PYTHON:-python3}
  "$PYTHON" -m venv "$VENV" >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$PY_MCP" httpx >&2
  touch "$PY_MARKER"
fi
if [ ! -f "$NPM_MARKER" ]; then
  rm -rf "$NPM_DIR"
  mkdir -p "$NPM_DIR"
  (cd "$NPM_DIR" && echo '{"name":"brain-mcp-test-clients","private":true,"type":"module"}' > package.json \
    && npm install --silent --no-audit --no-fund "$TS_SDK" >&2)
  touch "$NPM_MARKER"
fi
echo "$VENV/bin/python"
echo "$NPM_DIR"
