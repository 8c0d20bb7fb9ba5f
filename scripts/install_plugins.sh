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
