#!/usr/bin/env bash
# Install the local BigQuery emulator (local-bigquery 0.4.0) into its own virtual
# environment, apart from the project's: it needs Python 3.13, and to run offline it
# needs duckdb 1.5.5 with its extensions installed from PyPI wheels, which conflicts
# with the emulator's declared duckdb>=2.0.0.
#
# Usage: scripts/install_emulator.sh   (idempotent; env LBQ_VENV overrides the location)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${LBQ_VENV:-$ROOT/.emulator/venv}"
LBQ_HOME="${LBQ_HOME:-$ROOT/.emulator/home}"
DUCKDB_VERSION=1.5.5

find_python313() {
  if command -v python3.13 >/dev/null 2>&1 && python3.13 -c 'import sys' >/dev/null 2>&1; then
    command -v python3.13; return
  fi
  for candidate in "$(pyenv root 2>/dev/null)"/versions/3.13*/bin/python3.13 /usr/bin/python3.13 /usr/local/bin/python3.13; do
    if [ -x "$candidate" ]; then echo "$candidate"; return; fi
  done
  echo "error: python3.13 not found; the BigQuery emulator (local-bigquery) needs Python 3.13" >&2
  exit 1
}

if [ -x "$VENV/bin/local-bigquery" ] && [ -f "$VENV/.extensions-installed" ]; then
  echo "emulator already installed in $VENV"
  exit 0
fi

PY="$(find_python313)"
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet local-bigquery==0.4.0
# Pin DuckDB back to the release whose extensions ship as PyPI wheels (offline install).
"$VENV/bin/python" -m pip install --quiet --no-deps "duckdb==$DUCKDB_VERSION"
"$VENV/bin/python" -m pip install --quiet --no-deps \
  "duckdb-extension-icu==$DUCKDB_VERSION" \
  "duckdb-extension-ducklake==$DUCKDB_VERSION" \
  "duckdb-extension-spatial==$DUCKDB_VERSION"

mkdir -p "$LBQ_HOME"
HOME="$LBQ_HOME" "$VENV/bin/python" - <<'PY'
import pathlib
import sys

import duckdb

site = pathlib.Path(duckdb.__file__).resolve().parent.parent
files = sorted(site.glob("duckdb_extension_*/**/*.duckdb_extension"))
names = {f.name.split(".")[0] for f in files}
missing = {"icu", "ducklake", "spatial"} - names
if missing:
    sys.exit(f"error: extension files not found in wheels: {sorted(missing)}")
con = duckdb.connect()
for f in files:
    con.execute(f"INSTALL '{f}'")
    print("installed DuckDB extension", f.name)
PY
touch "$VENV/.extensions-installed"
echo "emulator installed in $VENV"
