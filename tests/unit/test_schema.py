"""Singer JSON Schema to BigQuery columns, and the column-name rule: target_bigquery_smart/schema.py."""

from __future__ import annotations

import pytest
from google.cloud import bigquery

from target_bigquery_smart.schema import assign_names, clean_name, columns_for, merge_schema


def test_column_name_rule():
    assert clean_name("first-name") == "first_name"
    assert clean_name("2fa") == "_2fa"
    assert clean_name("a.b c") == "a_b_c"
    assert clean_name("x" * 400) == "x" * 300
    names = assign_names(["id", "ID", "first-name", "first_name"])
    assert names["ID"] == "ID"  # both valid: the first in sorted order keeps the name
    assert names["first_name"] == "first_name"
    assert names["id"].startswith("id_")
    assert len(names["id"]) == 11
    assert names["first-name"].startswith("first_name_")
    assert assign_names(["first_name", "first-name", "ID", "id"]) == names  # order does not matter


@pytest.mark.parametrize(
    ("name", "column"),
    [("", "_"), ("_PARTITIONTIME", "f_PARTITIONTIME"), ("_table_suffix", "f_table_suffix"), ("zoë", "zo_")],
)
def test_empty_reserved_and_non_ascii_names(name, column):
    assert clean_name(name) == column


def test_colliding_names_get_the_hash_of_their_source_name():
    # sha256("id")[:8] == "a5614527", sha256("first-name")[:8] == "2362fd78"
    assert assign_names(["id", "ID", "first-name", "first_name"]) == {
        "ID": "ID",
        "first_name": "first_name",
        "id": "id_a5614527",
        "first-name": "first_name_2362fd78",
    }


def test_existing_and_reserved_names_are_kept_out_of_the_way():
    assert assign_names(["org_slug", "id"], existing={"id": "ID"}, reserved=["org_slug"]) == {
        "id": "ID",
        "org_slug": "org_slug_1c1dcdb2",  # sha256("org_slug")[:8]
    }


def _fields(properties, existing=()):
    return [c.to_schema_field() for c in columns_for(properties, existing)]


def _shape(fields):
    return [(f.name, f.field_type, f.mode, f.description, _shape(f.fields)) for f in fields]


def test_json_schema_types_map_to_bigquery_columns():
    properties = {
        "name": {"type": ["null", "string"]},
        "at": {"type": "string", "format": "date-time"},
        "day": {"type": "string", "format": "date"},
        "n": {"type": "integer"},
        "x": {"type": "number"},
        "price": {"type": "number", "multipleOf": 0.01},
        "exact": {"type": "number", "format": "decimal"},
        "geo": {"type": "string", "x-bigquery-type": "geography"},
        "ok": {"type": "boolean"},
        "free": {"type": "object"},
        "either": {"type": ["integer", "string"]},
        "any": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
        "untyped": {},
        "tags": {"type": "array", "items": {"type": "string"}},
        "grid": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}},
        "bag": {"type": "array", "items": {}},
    }
    assert [(f.name, f.field_type, f.mode) for f in _fields(properties)] == [
        ("name", "STRING", "NULLABLE"),
        ("at", "TIMESTAMP", "NULLABLE"),
        ("day", "DATE", "NULLABLE"),
        ("n", "INT64", "NULLABLE"),
        ("x", "FLOAT64", "NULLABLE"),
        ("price", "NUMERIC", "NULLABLE"),
        ("exact", "NUMERIC", "NULLABLE"),
        ("geo", "GEOGRAPHY", "NULLABLE"),
        ("ok", "BOOL", "NULLABLE"),
        ("free", "JSON", "NULLABLE"),
        ("either", "JSON", "NULLABLE"),
        ("any", "JSON", "NULLABLE"),
        ("untyped", "JSON", "NULLABLE"),
        ("tags", "STRING", "REPEATED"),
        ("grid", "JSON", "REPEATED"),
        ("bag", "JSON", "REPEATED"),
    ]


def test_objects_with_properties_become_records_whose_columns_name_their_source():
    properties = {
        "first-name": {"type": "string"},
        "address": {"properties": {"zip code": {"type": "string"}}},
        "items": {"type": "array", "items": {"type": "object", "properties": {"sku": {"type": "integer"}}}},
    }
    assert _shape(_fields(properties)) == [
        ("first_name", "STRING", "NULLABLE", "source field: first-name", []),
        (
            "address",
            "RECORD",
            "NULLABLE",
            "source field: address",
            [
                ("zip_code", "STRING", "NULLABLE", "source field: zip code", []),
            ],
        ),
        (
            "items",
            "RECORD",
            "REPEATED",
            "source field: items",
            [
                ("sku", "INT64", "NULLABLE", "source field: sku", []),
            ],
        ),
    ]


def test_an_existing_column_keeps_its_name_and_type_and_its_record_grows():
    existing = [
        bigquery.SchemaField("First_Name_x", "STRING", description="source field: first-name"),
        bigquery.SchemaField("n", "FLOAT64", description="source field: n"),
        bigquery.SchemaField(
            "address",
            "RECORD",
            description="source field: address",
            fields=[bigquery.SchemaField("city", "STRING", description="source field: city")],
        ),
    ]
    properties = {
        "first-name": {"type": "string"},
        "n": {"type": "integer"},  # declared integer now: the column stays FLOAT64
        "address": {"type": "object", "properties": {"zip": {"type": "string"}}},
    }
    assert _shape(_fields(properties, existing)) == [
        ("First_Name_x", "STRING", "NULLABLE", "source field: first-name", []),
        ("n", "FLOAT64", "NULLABLE", "source field: n", []),
        (
            "address",
            "RECORD",
            "NULLABLE",
            "source field: address",
            [
                ("zip", "STRING", "NULLABLE", "source field: zip", []),
                ("city", "STRING", "NULLABLE", "source field: city", []),
            ],
        ),
    ]


def test_merge_schema_adds_missing_fields_and_never_changes_existing_ones():
    current = [
        bigquery.SchemaField("id", "INT64"),
        bigquery.SchemaField("a", "RECORD", fields=[bigquery.SchemaField("x", "STRING")]),
    ]
    wanted = [
        bigquery.SchemaField("ID", "STRING"),  # same column (case-insensitive): kept as it is
        bigquery.SchemaField("a", "RECORD", fields=[bigquery.SchemaField("y", "BOOL")]),
        bigquery.SchemaField("new", "DATE"),
    ]
    merged = merge_schema(current, wanted)
    assert [(f.name, f.field_type, [(s.name, s.field_type) for s in f.fields]) for f in merged] == [
        ("id", "INT64", []),
        ("a", "RECORD", [("x", "STRING"), ("y", "BOOL")]),
        ("new", "DATE", []),
    ]
    assert merge_schema(merged, wanted) is None  # nothing missing any more
