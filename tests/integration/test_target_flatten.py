"""Flattened mode, column names, value rules, add_fields, merge, table options (emulator)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import simplejson
from helpers import record_line, run_target, spoil_row, state_line, table_rows

from target_bigquery_smart.errors import RejectedRowsError

pytestmark = pytest.mark.emulator
CAPTURE_DEBUG_LOGS = False

SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "ID": {"type": ["string", "null"]},
        "first-name": {"type": ["string", "null"]},
        "2fa": {"type": ["boolean", "null"]},
        "amount": {"type": ["number", "null"], "format": "decimal"},
        "score": {"type": ["number", "null"]},
        "created_at": {"type": ["string", "null"], "format": "date-time"},
        "birthday": {"type": ["string", "null"], "format": "date"},
        "address": {
            "type": ["object", "null"],
            "properties": {"city": {"type": ["string", "null"]}, "zip": {"type": ["string", "null"]}},
        },
        "tags": {"type": ["array", "null"], "items": {"type": "string"}},
        "lines": {
            "type": ["array", "null"],
            "items": {"type": "object", "properties": {"sku": {"type": "string"}, "qty": {"type": "integer"}}},
        },
        "meta": {"type": ["object", "null"]},
    },
}


def schema_line(schema=SCHEMA, stream="people", keys=("id",)):
    return json.dumps({"type": "SCHEMA", "stream": stream, "schema": schema, "key_properties": list(keys)})


RECORDS = [
    {
        "id": 1,
        "ID": "upper",
        "first-name": "Ada",
        "2fa": True,
        "amount": Decimal("12345678901234567890.123456789"),
        "score": 0.5,
        "created_at": "2026-03-01T10:00:00+02:00",
        "birthday": "1990-12-10",
        "address": {"city": "Paris", "zip": "75001"},
        "tags": ["a", "b"],
        "lines": [{"sku": "x", "qty": 2}, {"sku": "y", "qty": 3}],
        "meta": {"k": [1, 2]},
        "undeclared": "kept",
    },
    {
        "id": 2,
        "first-name": None,
        "created_at": "2026-03-01T08:00:00+0000",
        "score": float("nan"),
        "tags": [],
        "address": {"city": "Oslo", "country": "NO"},
    },
]


def test_flattened_rows_match_records_field_by_field(target_config, bq_client):
    config = {**target_config, "flatten": True, "add_fields": {"source": "vendor_api", "org": "{org_slug}"}}
    lines = [schema_line()] + [
        simplejson.dumps({"type": "RECORD", "stream": "people", "record": r}, use_decimal=True, allow_nan=True)
        for r in RECORDS
    ]
    run_target(config, lines)

    table = bq_client.get_table(f"{config['project']}.{config['dataset']}.people")
    columns = {f.name: (f.field_type, f.mode) for f in table.schema}
    id_upper = next(f.name for f in table.schema if f.description == "source field: ID")
    id_lower = next(f.name for f in table.schema if f.description == "source field: id")
    assert id_upper == "ID"
    assert id_lower.startswith("id_")
    assert columns["org_slug"] == ("STRING", "NULLABLE")
    assert columns["extracted_at"] == ("TIMESTAMP", "NULLABLE")
    assert columns[id_lower] == ("INTEGER", "NULLABLE")
    assert columns[id_upper] == ("STRING", "NULLABLE")
    assert columns["first_name"] == ("STRING", "NULLABLE")
    assert columns["_2fa"] == ("BOOLEAN", "NULLABLE")
    assert columns["amount"] == ("NUMERIC", "NULLABLE")
    assert columns["score"] == ("FLOAT", "NULLABLE")
    assert columns["created_at"] == ("TIMESTAMP", "NULLABLE")
    assert columns["birthday"] == ("DATE", "NULLABLE")
    assert columns["address"] == ("RECORD", "NULLABLE")
    assert columns["tags"] == ("STRING", "REPEATED")
    assert columns["lines"] == ("RECORD", "REPEATED")
    assert columns["meta"] == ("JSON", "NULLABLE")
    assert columns["_sdc_extra"] == ("JSON", "NULLABLE")
    assert columns["source"] == ("STRING", "NULLABLE")

    rows = {r[id_lower]: r for r in table_rows(bq_client, config["project"], config["dataset"], "people")}
    first = rows[1]
    assert first["org_slug"] == "acme"
    assert first[id_upper] == "upper"
    assert first["first_name"] == "Ada"
    assert first["_2fa"] is True
    assert first["amount"] == Decimal("12345678901234567890.123456789")
    assert first["score"] == 0.5
    assert first["created_at"].isoformat() == "2026-03-01T08:00:00+00:00"
    assert first["birthday"].isoformat() == "1990-12-10"
    assert first["address"] == {"city": "Paris", "zip": "75001"}
    assert first["tags"] == ["a", "b"]
    assert first["lines"] == [{"sku": "x", "qty": 2}, {"sku": "y", "qty": 3}]
    assert _json(first["meta"]) == {"k": [1, 2]}
    assert _json(first["_sdc_extra"]) == {"undeclared": "kept"}
    assert first["source"] == "vendor_api"
    assert first["org"] == "acme"
    second = rows[2]
    assert second["first_name"] is None
    assert second["created_at"].isoformat() == "2026-03-01T08:00:00+00:00"
    assert second["score"] != second["score"]  # NaN kept as NaN
    assert second["tags"] == []
    assert second["address"]["city"] == "Oslo"
    assert _json(second["_sdc_extra"]) == {"address.country": "NO"}


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def test_schema_change_mid_stream_adds_a_column(target_config, bq_client):
    v1 = {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}
    v2 = {"type": "object", "properties": {**v1["properties"], "email": {"type": "string"}}}
    lines = [schema_line(v1, stream="users"), record_line({"id": 1, "name": "a"}, stream="users")]
    lines += [schema_line(v2, stream="users"), record_line({"id": 2, "name": "b", "email": "b@x"}, stream="users")]
    run_target({**target_config, "flatten": True}, lines)
    rows = sorted(
        table_rows(bq_client, target_config["project"], target_config["dataset"], "users"), key=lambda r: r["id"]
    )
    assert [(r["id"], r["name"], r["email"]) for r in rows] == [(1, "a", None), (2, "b", "b@x")]

    # A later run with the first schema again keeps the column and its mapping.
    run_target(
        {**target_config, "flatten": True},
        [schema_line(v1, stream="users"), record_line({"id": 3, "name": "c"}, stream="users")],
    )
    assert len(table_rows(bq_client, target_config["project"], target_config["dataset"], "users")) == 3


def test_values_beyond_int64_fail_with_the_record_and_reason(target_config, bq_client):
    schema = {"type": "object", "properties": {"id": {"type": "integer"}, "n": {"type": "integer"}}}
    lines = [schema_line(schema, stream="nums"), record_line({"id": 1, "n": 2**53 + 1}, stream="nums")]
    lines += [record_line({"id": 2, "n": 2**64}, stream="nums")]
    with pytest.raises(
        RejectedRowsError, match=r"record 2 \(input line 3\): n: integer 18446744073709551616 is outside INT64"
    ):
        run_target({**target_config, "flatten": True}, lines)


def test_dead_letter_table_collects_refused_rows(target_config, bq_client):
    schema = {"type": "object", "properties": {"id": {"type": "integer"}, "n": {"type": "integer"}}}
    lines = [schema_line(schema, stream="nums")]
    lines += [record_line({"id": i, "n": 2**64 if i == 3 else i}, stream="nums") for i in range(1, 6)]
    run_target({**target_config, "flatten": True, "dead_letter_table": "rejected"}, lines)
    project, dataset = target_config["project"], target_config["dataset"]
    rows = table_rows(bq_client, project, dataset, "nums")
    assert sorted((r["id"], r["n"]) for r in rows) == [(1, 1), (2, 2), (4, 4), (5, 5)]
    letters = table_rows(bq_client, project, dataset, "rejected")
    assert len(letters) == 1
    assert letters[0]["stream"] == "nums"
    assert letters[0]["record_number"] == 3
    assert "outside INT64" in letters[0]["errors"]
    # The record as received (not the shaped row), so it can be fixed and replayed.
    assert json.loads(letters[0]["row_data"]) == {"id": 3, "n": 2**64}


def test_bigquery_per_row_errors_are_reported_and_stopped_rows_resent(target_config, bq_client, monkeypatch):
    """A row BigQuery refuses (here: a column the table lacks) goes to the dead-letter table;
    the other rows of the request, marked 'stopped', are sent again and land."""
    spoil_row(monkeypatch, 2, "no_such_column", 1)
    schema = {"type": "object", "properties": {"id": {"type": "integer"}}}
    lines = [schema_line(schema, stream="s")] + [record_line({"id": i}, stream="s") for i in range(1, 4)]
    run_target({**target_config, "flatten": True, "dead_letter_table": "dlq"}, lines)
    project, dataset = target_config["project"], target_config["dataset"]
    assert sorted(r["id"] for r in table_rows(bq_client, project, dataset, "s")) == [1, 3]
    letters = table_rows(bq_client, project, dataset, "dlq")
    assert [(r["record_number"], "no such field" in r["errors"]) for r in letters] == [(2, True)]


def test_merge_mode_upserts_latest_per_key(target_config, bq_client):
    config = {**target_config, "write_mode": "merge", "batch_size": 3}
    lines = [schema_line({"type": "object", "properties": {"id": {"type": "integer"}}}, stream="m")]
    lines += [record_line({"id": 1, "v": "a"}, stream="m"), record_line({"id": 2, "v": "a"}, stream="m")]
    lines += [record_line({"id": 1, "v": "b"}, stream="m"), record_line({"id": 3, "v": "a"}, stream="m")]
    run_target(config, lines)
    run_target(config, [lines[0], record_line({"id": 2, "v": "c"}, stream="m")])
    rows = table_rows(bq_client, config["project"], config["dataset"], "m")
    latest = {json.loads(r["raw_data"])["id"]: json.loads(r["raw_data"])["v"] for r in rows}
    assert latest == {1: "b", 2: "c", 3: "a"}
    assert len(rows) == 3
    tables = [t.table_id for t in bq_client.list_tables(f"{config['project']}.{config['dataset']}")]
    assert tables == ["m"]  # staging tables are dropped


def test_merge_mode_without_key_properties_is_a_clear_error(target_config):
    lines = [schema_line({"type": "object", "properties": {"id": {}}}, stream="m", keys=())]
    with pytest.raises(Exception, match="write_mode 'merge' needs key properties"):
        run_target({**target_config, "write_mode": "merge"}, lines)


def test_cluster_on_key_fields_skips_a_float_key_with_a_warning(target_config, bq_client, caplog):
    config = {**target_config, "cluster_on_key_fields": True, "flatten": True}
    schema = {"type": "object", "properties": {"id": {"type": "integer"}, "score": {"type": "number"}}}
    lines = [schema_line(schema, stream="f", keys=("id", "score")), record_line({"id": 1, "score": 0.5}, stream="f")]
    run_target(config, lines)
    table = bq_client.get_table(f"{config['project']}.{config['dataset']}.f")
    assert table.clustering_fields == ["id"]
    assert "key column(s) ['score'] cannot cluster a table" in caplog.text


def test_add_fields_in_raw_mode_and_table_options(target_config, bq_client):
    config = {
        **target_config,
        "transform": {"add_fields": {"source": "vendor_api", "org_slug": "{org_slug}", "loaded": "{now}"}},
        "partition_by_extracted_at": True,
        "cluster_on_key_fields": True,
        "flatten": True,
    }
    schema = {"type": "object", "properties": {"id": {"type": "integer"}}}
    run_target(config, [schema_line(schema, stream="o"), record_line({"id": 1}, stream="o"), state_line({"x": 1})])
    table = bq_client.get_table(f"{config['project']}.{config['dataset']}.o")
    assert table.time_partitioning.field == "extracted_at"
    assert table.clustering_fields == ["id"]
    row = table_rows(bq_client, config["project"], config["dataset"], "o")[0]
    assert row["source"] == "vendor_api"
    assert row["org_slug"] == "acme"
    assert row["loaded"].startswith(str(row["extracted_at"].year))


def test_bad_target_config_names_the_key(target_config):
    from singer_sdk.exceptions import ConfigValidationError

    with pytest.raises(ConfigValidationError) as info:
        run_target({**target_config, "write_mode": "upsert"}, [])
    assert info.value.errors == ["config.write_mode: invalid value 'upsert'. Valid values: append, merge."]
    with pytest.raises(ConfigValidationError, match="'dead_letter_table': 'bad-name' is not a table name"):
        run_target({**target_config, "dead_letter_table": "bad-name"}, [])


def test_existing_table_of_another_layout_or_mode_is_refused(target_config, bq_client):
    from target_bigquery_smart.loader import LoadError

    schema = {"type": "object", "properties": {"id": {"type": "integer"}}}
    lines = [schema_line(schema, stream="lay"), record_line({"id": 1}, stream="lay")]
    run_target(target_config, lines)  # raw layout, append
    with pytest.raises(LoadError, match="has the raw layout .* flatten is true"):
        run_target({**target_config, "flatten": True}, lines)
    with pytest.raises(LoadError, match="was loaded in append mode .* write_mode merge would never match"):
        run_target({**target_config, "write_mode": "merge"}, lines)
    assert len(table_rows(bq_client, target_config["project"], target_config["dataset"], "lay")) == 1
