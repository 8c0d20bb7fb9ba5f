"""Row identity and merge keys: identical records, null keys, keys compared as BigQuery does (emulator)."""

from __future__ import annotations

import io
import json
import math
import re
import subprocess

import pytest
from helpers import BIN, record_line, run_target, table_rows

from target_bigquery_smart import loader
from target_bigquery_smart.errors import RejectedRowsError
from target_bigquery_smart.keys import canonical_key_value

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


VALUE_SCHEMA = {
    "id": {"type": "integer"},
    "at": {"type": ["string", "null"], "format": "date-time"},
    "day": {"type": ["string", "null"], "format": "date"},
    "n": {"type": ["integer", "null"]},
    "x": {"type": ["number", "null"]},
    "ok": {"type": ["boolean", "null"]},
}
#: Values BigQuery stores, as APIs send them, and the row each gives in the flattened layout.
STORABLE = [
    ({"at": "2024-01-02T03:04:05Z"}, {"at": "2024-01-02T03:04:05+00:00"}),
    ({"at": "2024-01-02 03:04:05"}, {"at": "2024-01-02T03:04:05+00:00"}),
    ({"at": "2024-01-02 05:04:05+02:00"}, {"at": "2024-01-02T03:04:05+00:00"}),
    ({"at": "2024-01-02T05:04:05+0200"}, {"at": "2024-01-02T03:04:05+00:00"}),
    ({"at": "2024-01-02 03:04:05 UTC"}, {"at": "2024-01-02T03:04:05+00:00"}),
    ({"at": 1704164645}, {"at": "2024-01-02T03:04:05+00:00"}),
    ({"at": "1704164645"}, {"at": "2024-01-02T03:04:05+00:00"}),
    ({"at": 1704164645123}, {"at": "2024-01-02T03:04:05.123000+00:00"}),
    ({"at": "1704164645123456"}, {"at": "2024-01-02T03:04:05.123456+00:00"}),
    ({"at": "2024-01-02"}, {"at": "2024-01-02T00:00:00+00:00"}),
    ({"day": "2024-01-02T23:00:00Z"}, {"day": "2024-01-02"}),
    ({"day": 1704164645}, {"day": "2024-01-02"}),
    ({"n": "42"}, {"n": 42}),
    ({"n": 42.0}, {"n": 42}),
    ({"x": "1.5"}, {"x": 1.5}),
    ({"ok": "true"}, {"ok": True}),
    ({"ok": "FALSE"}, {"ok": False}),
]


@pytest.mark.parametrize("flatten", [True, False])
def test_values_bigquery_can_store_are_never_refused(target_config, bq_client, flatten):
    config = {**target_config, "flatten": flatten}
    lines = [schema_line(VALUE_SCHEMA)]
    lines += [record_line({"id": i, **given}, "s") for i, (given, _) in enumerate(STORABLE)]
    run_target(config, lines)
    rows = table_rows(bq_client, config["project"], config["dataset"], "s")
    if not flatten:
        # The raw layout keeps each record exactly as sent.
        assert sorted(json.loads(r["raw_data"])["id"] for r in rows) == list(range(len(STORABLE)))
        by_id = {json.loads(r["raw_data"])["id"]: json.loads(r["raw_data"]) for r in rows}
        assert [by_id[i] for i in range(len(STORABLE))] == [{"id": i, **g} for i, (g, _) in enumerate(STORABLE)]
        return
    got = {}
    for row in rows:
        values = {k: row[k] for k in ("at", "day", "n", "x", "ok") if row[k] is not None}
        got[row["id"]] = {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in values.items()}
    assert [got[i] for i in range(len(STORABLE))] == [expected for _, expected in STORABLE]


@pytest.mark.parametrize("flatten", [True, False])
def test_a_value_no_conversion_accepts_is_refused_naming_record_and_field(target_config, flatten):
    lines = [schema_line(VALUE_SCHEMA), record_line({"id": 1, "n": "42"}, "s")]
    lines.append(record_line({"id": 2, "n": "forty-two"}, "s"))
    with pytest.raises(RejectedRowsError) as info:
        # Validation is on by default with flatten; the raw layout validates only when asked.
        run_target({**target_config, "flatten": flatten, **({} if flatten else {"validate_records": True})}, lines)
    assert str(info.value) == (
        "Input line 3 (stream 's'): Stream 's': record 2 does not match its SCHEMA: data.n must be integer or "
        "null. Set dead_letter_table to keep loading and collect such rows, or validate_records: false."
    )


def test_coerce_converts_nested_values_and_leaves_the_record_unchanged():
    from decimal import Decimal

    from target_bigquery_smart.coercion import coerce

    schema = {
        "properties": {
            "a": {"type": "object", "properties": {"n": {"type": "integer"}}},
            "b": {"type": "array", "items": {"type": ["null", "number"]}},
            "c": {"type": "string"},
            "d": {"type": "integer"},
        }
    }
    record = {"a": {"n": "7"}, "b": ["1.5", None, 2], "c": 12, "d": "x", "e": "kept"}
    assert coerce(record, schema) == {"a": {"n": 7}, "b": [Decimal("1.5"), None, 2], "c": "12", "d": "x", "e": "kept"}
    assert record == {"a": {"n": "7"}, "b": ["1.5", None, 2], "c": 12, "d": "x", "e": "kept"}


#: A record as a lax producer writes it: NaN and Infinity tokens, lone surrogates (in a value and
#: a key), an integer beyond 64 bits.
LAX_RECORD = (
    '{"id": 1, "s": "a\\ud800b", "f": NaN, "g": -Infinity, "i": 9223372036854775807, '
    '"big": 123456789012345678901234567890, "k\\udc00": "x\\udfffy"}'
)


@pytest.fixture
def sent_payloads(monkeypatch):
    """Collect the rows of every insertAll request and every load-job upload, as sent."""
    sent: list[bytes] = []
    client = loader.bigquery.Client
    real_insert, real_load = client.insert_rows_json, client.load_table_from_file

    def insert(self, table, rows, row_ids=None, **kwargs):
        # The client writes the request body with json.dumps (ensure_ascii): check what it would send.
        sent.append(json.dumps(rows).encode())
        return real_insert(self, table, rows, row_ids=row_ids, **kwargs)

    def load(self, file, *args, **kwargs):
        data = file.read()
        sent.append(data)
        return real_load(self, io.BytesIO(data), *args, **kwargs)

    monkeypatch.setattr(client, "insert_rows_json", insert)
    monkeypatch.setattr(client, "load_table_from_file", load)
    return sent


def assert_strict_json(payload: bytes) -> None:
    """Fail unless ``payload`` is strict JSON lines: no NaN/Infinity token, no lone surrogate escape."""

    def refuse(token):
        raise AssertionError(f"non-strict token {token}")

    for line in payload.decode("utf-8").splitlines():
        value = json.loads(line, parse_constant=refuse)
        text = json.dumps(value, ensure_ascii=False)
        text.encode("utf-8")  # a lone surrogate cannot be encoded
        assert not re.search("[\ud800-\udfff]", text)


@pytest.mark.parametrize("streaming_threshold", [100, 1])
def test_every_payload_sent_to_bigquery_is_strict_json(target_config, bq_client, sent_payloads, streaming_threshold):
    config = {**target_config, "streaming_threshold": streaming_threshold}
    lines = [schema_line({"id": {"type": "integer"}}), f'{{"type": "RECORD", "stream": "s", "record": {LAX_RECORD}}}']
    run_target(config, lines)
    assert len(sent_payloads) == 1
    assert_strict_json(sent_payloads[0])
    (row,) = table_rows(bq_client, config["project"], config["dataset"], "s")
    assert row["raw_data"] == (
        '{"id":1,"s":"a\ufffdb","f":null,"g":null,"i":9223372036854775807,'
        '"big":123456789012345678901234567890,"k\ufffd":"x\ufffdy"}'
    )


@pytest.mark.parametrize("streaming_threshold", [100, 1])
def test_flattened_rows_are_strict_json_and_keep_every_digit(
    target_config, bq_client, sent_payloads, streaming_threshold
):
    config = {**target_config, "streaming_threshold": streaming_threshold, "flatten": True}
    properties = {"id": {"type": "integer"}, "s": {"type": "string"}, "f": {"type": "number"}}
    properties |= {"g": {"type": "number"}, "i": {"type": "integer"}, "j": {"type": "object"}}
    record = '{"id": 1, "s": "a\\ud800b", "f": NaN, "g": -Infinity, "i": 9223372036854775807, "j": {"k\\udc00": 1}}'
    run_target(config, [schema_line(properties), '{"type": "RECORD", "stream": "s", "record": ' + record + "}"])
    assert len(sent_payloads) == 1
    assert_strict_json(sent_payloads[0])
    (row,) = table_rows(bq_client, config["project"], config["dataset"], "s")
    assert (row["s"], math.isnan(row["f"]), row["g"], row["i"]) == ("a\ufffdb", True, -math.inf, 2**63 - 1)
    assert row["j"] in ({"k\ufffd": 1}, '{"k\ufffd":1}')


def test_flattened_arrays_holding_nulls_are_kept_whole_in_sdc_extra(target_config, bq_client):
    properties = {
        "id": {"type": "integer"},
        "tags": {"type": ["array", "null"], "items": {"type": ["string", "null"]}},
        "lines": {
            "type": ["array", "null"],
            "items": {
                "type": ["object", "null"],
                "properties": {"sku": {"type": "string"}, "codes": {"type": "array", "items": {}}},
            },
        },
    }
    records = [
        {"id": 1, "tags": ["a", None, "b"]},
        {"id": 2, "tags": ["a", "b"], "lines": [{"sku": "x", "codes": [1, None]}]},
        {"id": 3, "lines": [{"sku": "y"}, None]},
    ]
    config = {**target_config, "flatten": True}
    run_target(config, [schema_line(properties)] + [record_line(r, "s") for r in records])
    rows = table_rows(bq_client, config["project"], config["dataset"], "s", "ORDER BY id")
    extras = [r["_sdc_extra"] if not isinstance(r["_sdc_extra"], str) else json.loads(r["_sdc_extra"]) for r in rows]
    assert [(r["id"], r["tags"], r["lines"]) for r in rows] == [
        (1, [], []),
        (2, ["a", "b"], [{"sku": "x", "codes": []}]),
        (3, [], []),
    ]
    assert extras == [{"tags": ["a", None, "b"]}, {"lines[0].codes": [1, None]}, {"lines": [{"sku": "y"}, None]}]


def test_a_lax_record_through_the_cli_is_stored_as_strict_json(tmp_path, target_config, bq_client):
    config_path = tmp_path / "target.json"
    config_path.write_text(json.dumps({**target_config, "flatten": False}))
    lines = [schema_line({"id": {"type": "integer"}, "at": {"type": "string", "format": "date-time"}})]
    lines.append(f'{{"type": "RECORD", "stream": "s", "record": {LAX_RECORD[:-1]}, "at": "1704164645"}}}}')
    result = subprocess.run(
        [str(BIN / "target-bigquery-smart"), "--config", str(config_path)],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (row,) = table_rows(bq_client, target_config["project"], target_config["dataset"], "s")
    assert row["raw_data"] == (
        '{"id":1,"s":"a\ufffdb","f":null,"g":null,"i":9223372036854775807,'
        '"big":123456789012345678901234567890,"k\ufffd":"x\ufffdy","at":"1704164645"}'
    )


def test_a_field_name_with_a_lone_surrogate_gives_a_strict_column_description(target_config, bq_client):
    config = {**target_config, "flatten": True}
    schema = '{"type": "SCHEMA", "stream": "s", "schema": {"properties": {"a\\ud800": {"type": "string"}}}, '
    schema += '"key_properties": []}'
    record = '{"type": "RECORD", "stream": "s", "record": {"a\\ud800": "v"}}'
    run_target(config, [schema, record])
    run_target(config, [schema, record.replace('"v"', '"w"')])  # the column is found again by its description
    table = bq_client.get_table(f"{config['project']}.{config['dataset']}.s")
    assert [(f.name, f.description) for f in table.schema if f.name.startswith("a")] == [
        ("a_", "source field: a\ufffd")
    ]
    rows = table_rows(bq_client, config["project"], config["dataset"], "s")
    assert sorted(r["a_"] for r in rows) == ["v", "w"]
