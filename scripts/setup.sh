#!/usr/bin/env bash
# One-time set-up on a fresh machine (idempotent): the project's virtual environment with the
# tap, the target and the demo's local API, and the local BigQuery emulator in its own venv.
# EXTRAS=dev adds the test tools (scripts/test.sh sets it); the other Singer plugins and
# Meltano that only the tests use are installed by scripts/install_plugins.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-python3}"
EXTRAS="${EXTRAS:-demo,storage}"
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "error: $PYTHON is older than 3.11" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[$EXTRAS]"
bash scripts/install_emulator.sh
