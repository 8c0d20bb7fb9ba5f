#!/usr/bin/env bash
# Your API in five minutes, on the local list APIs (scripts/paged_apis.py, one per pagination style):
# probe one endpoint, write its config, run it; then write a config for all of them from their
# OpenAPI description. The token comes from an environment variable, never the command line.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BIN="$ROOT/.venv/bin"
OUT="${OUT:-$ROOT/.demo/probe}"
PORT="${PORT:-8000}"
mkdir -p "$OUT"
export PAGED_API_TOKEN="demo-token-$RANDOM"

"$BIN/python" "$ROOT/scripts/paged_apis.py" --port "$PORT" --token "$PAGED_API_TOKEN" &
SERVER=$!
trap 'kill $SERVER' EXIT
until "$BIN/python" -c "import socket; socket.create_connection(('127.0.0.1', $PORT))" 2>/dev/null; do sleep 0.1; done

# 1. Probe: the config on stdout (here --write), the evidence and the verdict on stderr.
"$BIN/tap-generic-api" probe "http://127.0.0.1:$PORT/cursor/items" --bearer-env PAGED_API_TOKEN \
  --write "$OUT/tap.json" --force   # --force: replace the file of an earlier run

# 2. Run it: the secret goes in a second config, from the environment, never to disk.
"$BIN/tap-generic-api" --config "$OUT/tap.json" \
  --config <(printf '{"secrets": {"paged_api_token": "%s"}}' "$PAGED_API_TOKEN") 2> "$OUT/tap.log" \
  | grep -c '"type":"RECORD"' | xargs printf 'records extracted: %s\n'

# 3. From the OpenAPI description: one stream per list operation, why each key was chosen, what is left TODO.
"$BIN/tap-generic-api" from-openapi "$ROOT/examples/openapi/paged_apis.yaml" \
  --server "http://127.0.0.1:$PORT" --explain --write "$OUT/openapi-tap.json" --force
