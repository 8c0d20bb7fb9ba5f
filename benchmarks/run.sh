#!/usr/bin/env bash
# Set up (project, emulator, competitor plugins in .bench/), then run the benchmarks.
# Usage: benchmarks/run.sh [--write] [--rounds N] [--records N] [--only tap-fast|tap-slow|tap-windows|target|memory]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
PYTHON="${PYTHON:-python3}"
bench_venv() {  # name, requirements...
  local name="$1"; shift
  if [ ! -f ".bench/$name/.installed" ]; then
    rm -rf ".bench/$name"
    "$PYTHON" -m venv ".bench/$name"
    ".bench/$name/bin/python" -m pip install --quiet --upgrade pip
    ".bench/$name/bin/python" -m pip install --quiet "$@"
    touch ".bench/$name/.installed"
  fi
}
bench_venv tap-rest-api-msdk "tap-rest-api-msdk==1.4.2"
# z3 needs pkg_resources (setuptools < 81) through its fs dependency.
bench_venv z3-target-bigquery "z3-target-bigquery==0.7.2" "setuptools<81"
# z3's storage_write_api calls protobuf's MessageFactory.GetPrototype, removed in protobuf 5;
# its own install resolves protobuf 7, so the Storage Write scenario runs z3 beside protobuf 4.
bench_venv z3-target-bigquery-protobuf4 "z3-target-bigquery==0.7.2" "setuptools<81" "protobuf<5"
bench_venv dlt "dlt[duckdb]==1.31.0"
bench_venv matplotlib "matplotlib==3.9.2"
exec .venv/bin/python benchmarks/run.py "$@"
