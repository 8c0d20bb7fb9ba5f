#!/bin/sh
# One task of a partitioned run: tap-generic-api | target-bigquery-smart, with this task's own state.
#
#   run.sh          extract this task's share (partition: auto in tap.json reads the task index)
#   run.sh combine  after every task succeeded: combine the tasks' states into the next run's state
#
# CONFIG_DIR holds tap.json and target.json; SECRETS_FILE (optional) is a second tap config holding
# only {"secrets": {...}}, mounted from the engine's secret store; STATE_DIR is storage every task sees (a volume, a
# GCS bucket mounted with Cloud Storage FUSE). END_DATE, when set (Airflow's data_interval_end),
# becomes the tap's end_date, so that every task cuts the same date windows.
set -eu
CONFIG_DIR="${CONFIG_DIR:-/config}"
STATE_DIR="${STATE_DIR:-/state}"
SECRETS_FILE="${SECRETS_FILE:-/secrets/tap-secrets.json}"
INDEX="${JOB_COMPLETION_INDEX:-${CLOUD_RUN_TASK_INDEX:-}}"

if [ "${1:-}" = "combine" ]; then
    # Refuses (exit 1) when a task's state is missing or the shares do not tile the range.
    python -m tap_generic_api.partitions.combine "$STATE_DIR"/task-*.jsonl > "$STATE_DIR/state.json.new"
    mv "$STATE_DIR/state.json.new" "$STATE_DIR/state.json"
    rm -f "$STATE_DIR"/task-*.jsonl
    exit 0
fi

: "${INDEX:?JOB_COMPLETION_INDEX or CLOUD_RUN_TASK_INDEX must be set}"
TASK_STATE="$STATE_DIR/task-$INDEX.jsonl"
tap_config="$CONFIG_DIR/tap.json"
if [ -n "${END_DATE:-}" ]; then
    tap_config="/tmp/tap.json"
    python -c 'import json, sys; c = json.load(open(sys.argv[1])); c["end_date"] = sys.argv[2]; json.dump(c, open(sys.argv[3], "w"))' \
        "$CONFIG_DIR/tap.json" "$END_DATE" "$tap_config"
fi
# A rerun of this task resumes from its own last state; a new run starts from the combined state.
state=""
if [ -s "$TASK_STATE" ]; then
    tail -n 1 "$TASK_STATE" > /tmp/state.json
    state="--state /tmp/state.json"
elif [ -s "$STATE_DIR/state.json" ]; then
    state="--state $STATE_DIR/state.json"
fi
secrets=""
if [ -f "$SECRETS_FILE" ]; then
    secrets="--config $SECRETS_FILE"
fi
# shellcheck disable=SC2086
tap-generic-api --config "$tap_config" $secrets $state \
    | target-bigquery-smart --config "$CONFIG_DIR/target.json" >> "$TASK_STATE"
