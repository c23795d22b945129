#!/usr/bin/env bash
# Installs what the site's browser tests drive, once, under target/test-deps/browser-npm/:
# playwright-core (to drive Debian's /usr/bin/chromium), axe-core (accessibility rules) and
# vnu-jar (the W3C Nu HTML checker, run with the machine's Java; installed with apt when
# missing). Later runs see the marker and return at once; a flock makes concurrent test
# processes wait for one install. Prints the npm folder on stdout.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DEPS=${BRAIN_TEST_DEPS:-$ROOT/target/test-deps}
NPM_DIR=$DEPS/browser-npm
# Pinned minor lines: a new release must not change the tests under them.
PACKAGES='playwright-core@~1.64.0 axe-core@~4.10.0 vnu-jar@~26.9.27'
MARKER=$NPM_DIR/.installed-pw-1.64-axe-4.10-vnu-26.9
mkdir -p "$DEPS"
exec 9>"$DEPS/browser.lock"
flock 9
if ! command -v java >/dev/null 2>&1; then
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless >&2
fi
if [ ! -f "$MARKER" ]; then
  rm -rf "$NPM_DIR"
  mkdir -p "$NPM_DIR"
  # shellcheck disable=SC2086
  (cd "$NPM_DIR" && echo '{"name":"brain-browser-tests","private":true,"type":"module"}' > package.json \
    && npm install --silent --no-audit --no-fund --ignore-scripts $PACKAGES >&2)
  touch "$MARKER"
fi
echo "$NPM_DIR"
