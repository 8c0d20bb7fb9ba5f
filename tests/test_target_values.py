"""Row identity and merge keys: identical records, null keys, keys compared as BigQuery does (emulator)."""

from __future__ import annotations

import json

import pytest
from conftest import table_rows
from test_target_loading import record_line, run_target

from target_bigquery_smart import loader
from target_bigquery_smart.keys import canonical_key_value
from target_bigquery_smart.sinks import RejectedRowsError

pytestmark = pytest.mark.emulator


@pytest.fixture
def insert_ids(monkeypatch):
    """Record the insertIds of every streaming insert, passing it to the real client."""
    ids: list[str] = []
    real = loader.bigquery.Client.insert_rows_json

    def spy(self, table, rows, row_ids=None, **kwargs):
        ids.extend(row_ids or [])
        return real(self, table, rows, row_ids=row_ids, **kwargs)

    monkeypatch.setattr(loader.bigquery.Client, "insert_rows_json", spy)
    return ids


def schema_line(properties, stream="s", keys=("id",)):
    schema = {"type": "object", "properties": properties}
    return json.dumps({"type": "SCHEMA", "stream": stream, "schema": schema, "key_properties": list(keys)})


def raw_records(client, config, table="s"):
    rows = table_rows(client, config["project"], config["dataset"], table)
    return sorted((json.loads(r["raw_data"]) for r in rows), key=json.dumps)


@pytest.mark.parametrize("batch_size", [1, 10])
def test_identical_keyless_records_stay_two_rows_wherever_batches_split(
    target_config, bq_client, insert_ids, batch_size
):
    config = {**target_config, "batch_size": batch_size}
    record = {"name": "same", "n": 1}
    lines = [schema_line({"name": {}, "n": {}}, keys=()), record_line(record, "s"), record_line(record, "s")]
    run_target(config, lines)
    assert raw_records(bq_client, config) == [record, record]
    first_ids = list(insert_ids)
    assert len(set(first_ids)) == 2
    # The same input again (a retried run within BigQuery's de-duplication window): same ids.
    insert_ids.clear()
    run_target(config, lines)
    assert insert_ids == first_ids


def test_identical_records_across_a_schema_change_keep_their_own_insert_ids(target_config, bq_client):
    record = {"id": 1}
    lines = [schema_line({"id": {}}, keys=()), record_line(record, "s")]
    lines += [schema_line({"id": {}, "x": {}}, keys=()), record_line(record, "s")]
    run_target(target_config, lines)
    assert raw_records(bq_client, target_config) == [record, record]


def test_merge_refuses_records_whose_key_is_null_to_the_dead_letter_table(target_config, bq_client):
    config = {**target_config, "write_mode": "merge", "dead_letter_table": "dead"}
    lines = [schema_line({"id": {"type": ["integer", "null"]}, "v": {}})]
    lines += [record_line(r, "s") for r in ({"id": None, "v": "a"}, {"id": None, "v": "b"}, {"id": 1, "v": "c"})]
    run_target(config, lines)
    assert raw_records(bq_client, config) == [{"id": 1, "v": "c"}]
    letters = table_rows(bq_client, config["project"], config["dataset"], "dead", "ORDER BY record_number")
    assert [(r["record_number"], r["errors"], json.loads(r["row_data"])) for r in letters] == [
        (1, "id: key property is null; a MERGE cannot match a row on it", {"id": None, "v": "a"}),
        (2, "id: key property is null; a MERGE cannot match a row on it", {"id": None, "v": "b"}),
    ]


def test_merge_fails_naming_stream_record_and_key_when_a_key_is_null(target_config, bq_client):
    config = {**target_config, "write_mode": "merge", "flatten": True}
    lines = [schema_line({"id": {"type": ["string", "null"]}, "v": {"type": "string"}}), record_line({"v": "x"}, "s")]
    lines[1] = record_line({"id": "k", "v": "x"}, "s")
    lines.append(record_line({"id": None, "v": "y"}, "s"))
    with pytest.raises(RejectedRowsError) as info:
        run_target(config, lines)
    assert str(info.value).startswith(
        "Stream 's': 1 row(s) refused for "
        f"{config['project']}.{config['dataset']}.s: record 2 (input line 3): "
        "id: key property is null; a MERGE cannot match a row on it."
    )


ONE_THREE_WAYS = [(1, "a"), (1.0, "b"), ("1", "c")]


@pytest.mark.parametrize(
    ("key_schema", "flatten", "records", "expected"),
    [
        # integer and number keys: 1, 1.0 and "1" are one key (BigQuery stores one value).
        ({"type": "integer"}, False, ONE_THREE_WAYS, [("1", "c")]),
        ({"type": "integer"}, True, ONE_THREE_WAYS, [(1, "c")]),
        ({"type": "number"}, False, ONE_THREE_WAYS, [("1", "c")]),
        # string keys: 1 and "1" are the text "1"; 1.0 is the text "1.0", another key.
        ({"type": "string"}, True, [(1.0, "a"), (1, "b"), ("1", "c")], [("1.0", "a"), ("1", "c")]),
        # untyped keys: numbers by value, a string is another key.
        ({}, False, ONE_THREE_WAYS, [(1.0, "b"), ("1", "c")]),
    ],
)
def test_merge_keys_1_1_0_and_string_1_compare_as_bigquery_does(
    target_config, bq_client, key_schema, flatten, records, expected
):
    config = {**target_config, "write_mode": "merge", "flatten": flatten, "validate_records": False}
    lines = [schema_line({"id": key_schema, "v": {"type": "string"}})]
    lines += [record_line({"id": key, "v": v}, "s") for key, v in records]
    run_target(config, lines)
    rows = table_rows(bq_client, config["project"], config["dataset"], "s")
    records = [r if flatten else json.loads(r["raw_data"]) for r in rows]
    got = sorted(((r["id"], r["v"]) for r in records), key=lambda pair: pair[1])
    assert got == expected
    assert [type(key) for key, _ in got] == [type(key) for key, _ in expected]


def test_canonical_key_values_follow_the_column_type():
    from decimal import Decimal

    assert [canonical_key_value(v, "INT64") for v in (1, Decimal("1.0"), "1", " 1 ")] == [1, 1, 1, 1]
    assert canonical_key_value(2**70, "INT64") == 2**70
    assert [canonical_key_value(v, "NUMERIC") for v in (1, "1.00", Decimal("1.50"), "1.5")] == [
        1,
        1,
        Decimal("1.5"),
        Decimal("1.5"),
    ]
    assert [canonical_key_value(v, "STRING") for v in (1, Decimal("1.0"), "1", True)] == ["1", "1.0", "1", "true"]
    assert canonical_key_value("2024-01-01T01:00:00+01:00", "TIMESTAMP") == canonical_key_value(
        "2024-01-01 00:00:00Z", "TIMESTAMP"
    )
    assert [canonical_key_value(v, "JSON") for v in (1, Decimal("1.0"), "1")] == [1, 1, "1"]
    assert canonical_key_value("abc", "INT64") == "abc"  # not an integer: kept as sent
