#!/usr/bin/env bash
# Install the other Singer plugins and Meltano used by the swap and Meltano tests, each in its
# own virtual environment under .plugins/ (their requirements clash with each other's and
# with singer-sdk's). Idempotent.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PLUGINS="${PLUGINS_DIR:-$ROOT/.plugins}"
PYTHON="${PYTHON:-python3}"

install() {  # name, pip requirement
  local name="$1" requirement="$2"
  if [ -x "$PLUGINS/$name/bin/$name" ] && [ -f "$PLUGINS/$name/.installed-$requirement" ]; then
    return
  fi
  rm -rf "${PLUGINS:?}/$name"
  "$PYTHON" -m venv "$PLUGINS/$name"
  "$PLUGINS/$name/bin/python" -m pip install --quiet --upgrade pip
  "$PLUGINS/$name/bin/python" -m pip install --quiet "$requirement"
  touch "$PLUGINS/$name/.installed-$requirement"
  echo "installed $requirement in $PLUGINS/$name"
}

install target-jsonl "target-jsonl==0.1.4"
install tap-jsonl "tap-jsonl==0.3.1"
install meltano "meltano==4.4.1"

# Prism (@stoplight/prism-cli), the OpenAPI mock server the from-openapi tests run generated
# configs against; a project-local npm install. Skipped with a note when npm is missing.
PRISM_VERSION="5.14.2"
if [ -x "$PLUGINS/prism/node_modules/.bin/prism" ] && [ -f "$PLUGINS/prism/.installed-$PRISM_VERSION" ]; then
  :
elif command -v npm >/dev/null 2>&1; then
  rm -rf "${PLUGINS:?}/prism"
  npm install --silent --no-audit --no-fund --prefix "$PLUGINS/prism" "@stoplight/prism-cli@$PRISM_VERSION"
  touch "$PLUGINS/prism/.installed-$PRISM_VERSION"
  echo "installed @stoplight/prism-cli@$PRISM_VERSION in $PLUGINS/prism"
else
  echo "npm not found: Prism not installed; the from-openapi tests against Prism will fail" >&2
fi
