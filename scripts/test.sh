#!/usr/bin/env bash
# Set everything up, then run the whole test suite. Tests start and stop their own servers
# (BigQuery emulator, Datasette, local HTTP doubles) on 127.0.0.1. Beyond what the demo needs,
# this installs the test tools and the Singer plugins and Meltano the swap and Meltano tests run.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
EXTRAS=dev,storage bash scripts/setup.sh
bash scripts/install_plugins.sh
exec .venv/bin/python -m pytest "$@"
