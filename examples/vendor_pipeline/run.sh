#!/usr/bin/env bash
# The Generic API Extractor's Example 4: decrypt the credential, then extract and load.
# The decrypted secret goes to the tap through process substitution, never to disk.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
tap-generic-api --config "$HERE/tap.json" \
    --config <(tap-generic-api-credentials decrypt --config "$HERE/tap.json" \
               --provider VENDOR_API --context-key vendor_api_key) \
  | target-bigquery-smart --config "$HERE/target.json" >> "${STATE_FILE:-$HERE/state.json}"
