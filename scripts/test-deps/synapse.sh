#!/usr/bin/env bash
# Installs Synapse (the Matrix homeserver the Matrix interface's tests start) from PyPI into a
# venv under target/test-deps/, once: later runs see the marker and return at once. Several
# test processes may call this at the same moment; a flock makes them wait for one install.
# Prints the venv's python on stdout (the tests run `python -m synapse.app.homeserver` and
# `register_new_matrix_user` next to it).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DEPS=${BRAIN_TEST_DEPS:-$ROOT/target/test-deps}
VENV=$DEPS/synapse-venv
# Pinned: a new Synapse release must not change the tests' homeserver under them.
SYNAPSE_VERSION=1.163.2
MARKER=$VENV/.installed-$SYNAPSE_VERSION
mkdir -p "$DEPS"
exec 9>"$DEPS/synapse.lock"
flock 9
if [ ! -f "$MARKER" ]; then
  rm -rf "$VENV"
  PYTHON=${PYTHON:-python3}
  # Debian splits venv/ensurepip (and sometimes Python itself) into packages of their own.
  if ! command -v "$PYTHON" >/dev/null 2>&1 || ! "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
      apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >&2
      PYTHON=python3
    else
      echo "synapse.sh: need $PYTHON with the venv module (Debian: apt-get install python3-venv)" >&2
      exit 1
    fi
  fi
  "$PYTHON" -m venv "$VENV" >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "matrix-synapse==$SYNAPSE_VERSION" >&2
  touch "$MARKER"
fi
echo "$VENV/bin/python"
