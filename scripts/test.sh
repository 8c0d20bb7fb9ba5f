#!/usr/bin/env bash
# Set everything up, then run the whole test suite. Tests start and stop their own servers
# (BigQuery emulator, Datasette, local HTTP doubles) on 127.0.0.1.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
