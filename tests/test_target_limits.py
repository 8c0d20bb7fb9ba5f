"""Sizes BigQuery limits: rows too large for a streaming insert or for BigQuery, the byte budget per batch."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import test_target_loading
from conftest import BIN, table_rows
from test_target_loading import record_line, run_target, schema_line, state_line

from target_bigquery_smart import loader

pytestmark = pytest.mark.emulator
CAPTURE_DEBUG_LOGS = False
batch_spy = test_target_loading.batch_spy
insert_spy = test_target_loading.insert_spy


def test_a_batch_commits_early_when_its_input_reaches_batch_max_bytes(target_config, bq_client, batch_spy):
    records = [{"id": i, "pad": "x" * 1000} for i in range(7)]
    line = len(record_line(records[0])) + 1  # each line as read, with its newline
    config = {**target_config, "batch_max_bytes": 3 * line}
    run_target(config, [schema_line(), *[record_line(r) for r in records]])
    assert batch_spy == [{"rows": 3, "method": "streaming"}] * 2 + [{"rows": 1, "method": "streaming"}]
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items")
    assert sorted((json.loads(r["raw_data"]) for r in rows), key=lambda r: r["id"]) == records


def test_a_row_too_large_for_a_streaming_insert_goes_by_load_job(target_config, bq_client, insert_spy, batch_spy):
    big = {"id": 1, "pad": "y" * 10_500_000}  # over insertAll's 10 MB per request and per row
    run_target(target_config, [schema_line(), record_line(big), record_line({"id": 2})])
    assert batch_spy == [{"rows": 2, "method": "load_job"}]
    assert insert_spy == []
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items")
    assert sorted((json.loads(r["raw_data"]) for r in rows), key=lambda r: r["id"]) == [big, {"id": 2}]


def test_a_row_over_bigquerys_row_size_limit_is_refused_naming_stream_and_record(target_config, bq_client):
    pad = loader.MAX_LOAD_ROW_BYTES
    lines = [schema_line(), record_line({"id": 1}), record_line({"id": 2, "pad": "z" * pad})]
    with pytest.raises(loader.LoadError) as info:
        run_target({**target_config, "batch_size": 1}, lines)
    table_id = f"{target_config['project']}.{target_config['dataset']}.items"
    assert re.fullmatch(
        rf"Stream 'items': 1 row\(s\) too large for {re.escape(table_id)}: record 2 \(input line 3\): "
        r"row_too_large: the row is 100,000,\d{3} bytes as JSON; BigQuery stores rows of at most 100,000,000 bytes "
        r"\(100 MB\)\. Nothing of records 2 to 2 was loaded and no STATE after them was written; such a record "
        r"cannot be stored in one BigQuery row \(trim or split it before the target\)\.",
        str(info.value),
    )
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items")
    assert [json.loads(r["raw_data"]) for r in rows] == [{"id": 1}]


def test_a_line_nested_deeper_than_the_decoder_allows_names_the_line_after_committing_before_it(
    target_config, bq_client, tmp_path
):
    deep = '{"type":"RECORD","stream":"items","record":{"id":3,"x":' + "[" * 100_000 + "]" * 100_000 + "}}"
    lines = [schema_line(), record_line({"id": 1}), record_line({"id": 2}), state_line({"upto": 2}), deep]
    path = tmp_path / "target.json"
    path.write_text(json.dumps(target_config))
    result = subprocess.run(
        [str(BIN / "target-bigquery-smart"), "--config", str(path)],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].endswith(
        f"Input line 5 is nested deeper than the JSON decoder allows (about {sys.getrecursionlimit():,} levels "
        "of arrays and objects): " + repr(deep[:120])
    )
    assert [json.loads(line) for line in result.stdout.splitlines()] == [{"upto": 2}]
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items")
    assert sorted(json.loads(r["raw_data"])["id"] for r in rows) == [1, 2]
