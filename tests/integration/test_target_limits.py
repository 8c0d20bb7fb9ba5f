"""Sizes BigQuery limits: rows too large for a streaming insert or for BigQuery, the byte budget per batch."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from helpers import BIN, BigQueryProxy, record_line, run_target, schema_line, state_line, table_rows

from target_bigquery_smart import loader
from target_bigquery_smart.reader import InputError

pytestmark = pytest.mark.emulator
CAPTURE_DEBUG_LOGS = False


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
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .endswith(
            f"Input line 5 is nested deeper than the JSON decoder allows (about {sys.getrecursionlimit():,} levels "
            "of arrays and objects): " + repr(deep[:120])
        )
    )
    assert [json.loads(line) for line in result.stdout.splitlines()] == [{"upto": 2}]
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items")
    assert sorted(json.loads(r["raw_data"])["id"] for r in rows) == [1, 2]


def test_a_bigquery_error_for_a_long_table_name_gives_bigquerys_reason_before_the_request(target_config):
    stream = "s" * 1000
    body = {
        "error": {
            "code": 400,
            "message": "Invalid table schema: column x",
            "errors": [{"reason": "invalid", "message": "Invalid table schema: column x"}],
            "status": "INVALID_ARGUMENT",
        }
    }

    def refuse_insert(method, path, status, content):
        return (400, json.dumps(body).encode()) if path.split("?")[0].endswith("/insertAll") else (status, content)

    with BigQueryProxy(target_config["api_endpoint"], refuse_insert) as proxy:
        config = {**target_config, "api_endpoint": proxy.endpoint}
        with pytest.raises(loader.LoadError) as info:
            run_target(config, [schema_line(stream=stream), record_line({"id": 1}, stream=stream)])
    [path] = [p for m, p in proxy.requests if p.split("?")[0].endswith("/insertAll")]
    url = proxy.endpoint + path
    assert str(info.value) == (
        f"Stream '{stream}': records 1 to 1 were not stored; BigQuery did not accept or answer the request "
        f"(BadRequest: 400 Invalid table schema: column x [invalid] (request: POST {url[:120]}… "
        f"({len(url):,} characters))). No STATE after them was written: the next run sends them again."
    )


def test_a_stream_whose_table_name_is_over_1024_characters_is_refused_before_any_request(target_config):
    stream = "t" * 1025
    with BigQueryProxy(target_config["api_endpoint"]) as proxy:
        config = {**target_config, "api_endpoint": proxy.endpoint}
        with pytest.raises(InputError) as info:
            run_target(config, [schema_line(stream=stream), record_line({"id": 1}, stream=stream)])
    assert str(info.value) == (
        f"Input line 1 (stream '{'t' * 100}… (1,025 characters)'): Stream name '{'t' * 100}… (1,025 characters)' "
        "gives a table name of 1,025 characters; BigQuery accepts at most 1,024. Rename the stream (for example "
        "with a stream map alias)."
    )
    assert proxy.requests == []


def test_a_refused_value_of_ten_megabytes_is_cut_in_the_error(target_config):
    properties = {"id": {"type": "integer"}, "ts": {"type": "string", "format": "date-time"}}
    schema = {"type": "object", "properties": properties}
    value = "x" * 10_000_000
    lines = [json.dumps({"type": "SCHEMA", "stream": "items", "schema": schema, "key_properties": ["id"]})]
    lines += [record_line({"id": 1, "ts": value})]
    with pytest.raises(loader.LoadError) as info:
        run_target({**target_config, "flatten": True, "validate_records": False}, lines)
    message = str(info.value)
    assert message.startswith("Stream 'items': 1 row(s) refused for ")
    assert "xxxxxxxxxx… (" in message
    assert len(message) < 1000
