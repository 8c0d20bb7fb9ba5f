"""Singer input the target refuses or must handle with care: the error names the line; rows and STATE before it
are kept."""

from __future__ import annotations

import json

import pytest
from helpers import (
    UNREACHABLE_TARGET,
    record_line,
    run_cli,
    run_target,
    run_target_cli,
    schema_line,
    state_line,
    table_rows,
)

from target_bigquery_smart.reader import InputError


@pytest.mark.emulator
def test_schema_change_then_state_then_bad_line_commits_before_the_state(target_config, bq_client, capsys):
    v2 = {"type": "object", "properties": {"id": {"type": "integer"}}}
    lines = [schema_line(), record_line({"id": 1})]
    lines += [json.dumps({"type": "SCHEMA", "stream": "items", "schema": v2, "key_properties": ["id"]})]
    lines += [state_line({"pos": 1}), "{crash"]
    with pytest.raises(InputError, match="Input line 5 is not valid JSON"):
        run_target(target_config, lines)
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items")
    assert [json.loads(r["raw_data"]) for r in rows] == [{"id": 1}]


@pytest.mark.emulator
def test_state_after_schema_change_is_written_at_the_end(target_config):
    v2 = {"type": "object", "properties": {"id": {"type": "integer"}}}
    lines = [schema_line()] + [record_line({"id": i}) for i in range(3)] + [state_line({"pos": 3})]
    lines += [json.dumps({"type": "SCHEMA", "stream": "items", "schema": v2, "key_properties": ["id"]})]
    lines += [record_line({"id": 3})]
    states = run_target({**target_config, "batch_size": 2}, lines)
    assert states == [{"pos": 3}]


@pytest.mark.emulator
def test_nan_in_state_is_written_back(target_config):
    lines = [schema_line(), record_line({"id": 1}), '{"type": "STATE", "value": {"n": NaN}}']
    states = run_target(target_config, lines)
    assert len(states) == 1
    assert states[0]["n"] != states[0]["n"]


@pytest.mark.emulator
def test_record_that_is_not_an_object_names_the_line(target_config):
    lines = [schema_line(), '{"type": "RECORD", "stream": "items", "record": [1, 2]}']
    with pytest.raises(InputError, match=r"Input line 2 \(stream 'items'\): RECORD of stream 'items' has a list"):
        run_target(target_config, lines)


@pytest.mark.emulator
def test_streams_that_would_share_a_table_are_refused(target_config):
    lines = [schema_line(stream="a-b"), schema_line(stream="a.b")]
    with pytest.raises(InputError, match=r"Streams 'a-b' and 'a.b' would both load into table 'a_b'"):
        run_target(target_config, lines)


@pytest.mark.emulator
def test_identical_batches_both_load(target_config, bq_client):
    lines = [schema_line(keys=())] + [record_line({"v": 1}) for _ in range(4)]
    run_target({**target_config, "batch_size": 2, "streaming_threshold": 1}, lines)
    assert len(table_rows(bq_client, target_config["project"], target_config["dataset"], "items")) == 4


@pytest.mark.emulator
def test_same_key_twice_in_a_small_batch_keeps_both_versions(target_config, bq_client):
    lines = [schema_line(), record_line({"id": 1, "v": "old"}), record_line({"id": 1, "v": "new"})]
    run_target(target_config, lines)
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items")
    assert sorted(json.loads(r["raw_data"])["v"] for r in rows) == ["new", "old"]


@pytest.mark.emulator
def test_new_versions_of_a_key_across_small_batches_are_all_kept(target_config, bq_client):
    values = [(1, "a"), (2, "a"), (1, "b"), (3, "b"), (1, "c")]
    lines = [schema_line()] + [record_line({"id": i, "v": v}) for i, v in values]
    run_target({**target_config, "batch_size": 2}, lines)
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items")
    assert sorted((json.loads(r["raw_data"])["id"], json.loads(r["raw_data"])["v"]) for r in rows) == sorted(values)


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (
            {"stream": None, "schema": {"properties": {}}},
            "Input line 1: SCHEMA message: 'stream' must be a non-empty string, got null.",
        ),
        (
            {"stream": 5, "schema": {"properties": {}}},
            "Input line 1 (stream '5'): SCHEMA message: 'stream' must be a non-empty string, got 5.",
        ),
        (
            {"stream": "s", "schema": "abc"},
            "Input line 1 (stream 's'): SCHEMA message: 'schema' must be a JSON schema object, got str.",
        ),
        (
            {"stream": "s", "schema": {"properties": [1]}},
            "Input line 1 (stream 's'): SCHEMA message: 'schema.properties' must be an object of name -> schema, "
            "got list.",
        ),
        (
            {"stream": "s", "schema": {"properties": {}}, "key_properties": "id"},
            "Input line 1 (stream 's'): SCHEMA message: 'key_properties' must be a list of property names, got \"id\".",
        ),
        (
            {"stream": "s", "schema": {"properties": {}}, "bookmark_properties": [1]},
            "Input line 1 (stream 's'): SCHEMA message: 'bookmark_properties' must be a list of property names, "
            "got [1].",
        ),
        (
            {"stream": "s", "schema": {"type": "object", "properties": {"a": {"type": "wat"}}}},
            "Input line 1 (stream 's'): SCHEMA message: 'schema' is not a valid JSON schema: Schema Validation "
            "Error: 'wat' is not valid under any of the given schemas",
        ),
        (
            {"stream": "s", "schema": {"type": "object", "properties": {"o": {"type": "object", "properties": []}}}},
            "Input line 1 (stream 's'): SCHEMA message: 'schema' is not a valid JSON schema: Schema Validation "
            "Error: [] is not of type 'object'",
        ),
        (
            {"stream": "s", "schema": {"type": "object", "properties": {"id": {"type": []}}}},
            "Input line 1 (stream 's'): SCHEMA message: 'schema' is not a valid JSON schema: Schema Validation "
            "Error: [] is not valid under any of the given schemas",
        ),
        (
            {"stream": "s", "schema": {"type": "object"}},
            "Input line 1 (stream 's'): SCHEMA message: 'schema' has no 'properties' (give {} for a stream "
            "without declared fields).",
        ),
    ],
)
def test_a_malformed_schema_message_is_one_error_naming_the_line_and_field(message, error):
    with pytest.raises(InputError) as info:
        run_target(UNREACHABLE_TARGET, [json.dumps({"type": "SCHEMA", **message})])
    assert str(info.value) == error


def test_reserved_column_prefixes_are_renamed():
    from target_bigquery_smart.schema import clean_name

    assert clean_name("_PARTITIONTIME") == "f_PARTITIONTIME"
    assert clean_name("_table_suffix") == "f_table_suffix"


@pytest.mark.emulator
def test_record_not_matching_its_schema_commits_the_rows_before_it(target_config, bq_client, tmp_path):
    schema = {"type": "object", "properties": {"id": {"type": "integer"}}}
    lines = [json.dumps({"type": "SCHEMA", "stream": "items", "schema": schema, "key_properties": ["id"]})]
    lines += [record_line({"id": 1}), record_line({"id": 2}), state_line({"a": 1})]
    lines += [record_line({"id": "not-an-integer"})]
    # The raw layout validates only when asked (its raw_data column stores any record).
    config = {**target_config, "validate_records": True}
    result = run_target_cli(config, tmp_path, ("\n".join(lines) + "\n").encode())
    assert result.returncode != 0
    assert b"Input line 5 (stream 'items'): Stream 'items': record 3 does not match its SCHEMA" in result.stderr
    assert result.stdout.decode().splitlines() == [json.dumps({"a": 1})]
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items")
    assert sorted(json.loads(r["raw_data"])["id"] for r in rows) == [1, 2]


@pytest.mark.emulator
def test_bytes_that_are_not_utf8_under_a_strict_locale_name_the_line(target_config, bq_client, tmp_path):
    lines = [schema_line(), record_line({"id": 1}), state_line({"a": 1})]
    data = ("\n".join(lines) + "\n").encode() + b'{"type":"RECORD","stream":"items","record":{"id":2,"n":"\xff"}}\n'
    env = {"PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8:strict", "LC_ALL": "C.UTF-8"}
    result = run_target_cli(target_config, tmp_path, data, env)
    assert result.returncode != 0
    assert b"Input line 4 is not valid JSON (it holds bytes that are not UTF-8): " in result.stderr
    assert b"Traceback" not in result.stderr
    assert result.stdout.decode().splitlines() == [json.dumps({"a": 1})]
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items")
    assert [json.loads(r["raw_data"]) for r in rows] == [{"id": 1}]


def test_an_unknown_message_type_is_one_clear_error(tmp_path):
    lines = '{"type":"STATE","value":{}}\n{"type":"WHATEVER"}\n'
    result = run_cli(tmp_path, "target-bigquery-smart", UNREACHABLE_TARGET, stdin=None, input=lines)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: Input line 2: unknown message type 'WHATEVER' (expected SCHEMA, RECORD, STATE or ACTIVATE_VERSION)."
    )
    assert "Traceback" not in result.stderr
