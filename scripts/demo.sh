#!/usr/bin/env bash
# Set everything up, then run the demo: a local API (Datasette) -> tap-generic-api |
# target-bigquery-smart -> the local BigQuery emulator, and show what landed.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
exec .venv/bin/python scripts/demo.py "$@"
