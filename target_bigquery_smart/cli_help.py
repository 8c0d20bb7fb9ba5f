"""The target's ``--help`` text."""

from __future__ import annotations

from plugin_kit.help_text import help_text

TARGET_HELP = help_text(
    "Singer target for BigQuery: reads SCHEMA, RECORD and STATE messages on stdin, loads each stream "
    "in batches of batch_size rows (streaming insert with insertIds for small batches, load jobs for "
    "large ones), raw or flattened, append or merge, and writes each STATE to stdout only once the "
    "rows before it are committed.",
    [
        (
            "tap-generic-api --config tap.json | target-bigquery-smart --config target.json > state.json",
            "load what the tap extracts; the last line of state.json is the next run's --state",
        ),
        ("target-bigquery-smart --config target.json --input messages.jsonl", "load a saved run"),
        ("target-bigquery-smart --about", "every setting, its type and default"),
    ],
    docs="README.md and docs/TARGET_CONFIG.md in the repository",
)
