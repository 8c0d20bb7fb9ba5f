"""Shaped rows -> Arrow record batches for the Storage Write API: types and values."""

from __future__ import annotations

import decimal
from datetime import UTC, date, datetime

import pyarrow as pa
from google.cloud import bigquery

from target_bigquery_smart.arrow_rows import arrow_schema, record_batch

FIELDS = [
    bigquery.SchemaField("id", "INT64"),
    bigquery.SchemaField("ts", "TIMESTAMP"),
    bigquery.SchemaField("day", "DATE"),
    bigquery.SchemaField("amount", "NUMERIC"),
    bigquery.SchemaField("ratio", "FLOAT64"),
    bigquery.SchemaField("doc", "JSON"),
    bigquery.SchemaField("tags", "STRING", mode="REPEATED"),
    bigquery.SchemaField(
        "owner",
        "RECORD",
        fields=[
            bigquery.SchemaField("name", "STRING"),
            bigquery.SchemaField("seen", "TIMESTAMP", mode="REPEATED"),
        ],
    ),
]


def test_schema_maps_every_type_as_bigquery_documents():
    schema = arrow_schema(FIELDS)
    assert schema.types == [
        pa.int64(),
        pa.timestamp("us", tz="UTC"),
        pa.date32(),
        pa.decimal128(38, 9),
        pa.float64(),
        pa.string(),
        pa.list_(pa.string()),
        pa.struct([("name", pa.string()), ("seen", pa.list_(pa.timestamp("us", tz="UTC")))]),
    ]


def test_values_as_shaped_become_exact_arrow_values():
    rows = [
        {
            "id": "9007199254740993",  # beyond 2^53: shaped as text
            "ts": "2024-02-29T23:59:59.999999Z",
            "day": "2024-02-29",
            "amount": "12345678901234567890.123456789",
            "ratio": "NaN",
            "doc": '{"a":[1,null]}',
            "tags": ["a", "b"],
            "owner": {"name": "x", "seen": ["1970-01-01T00:00:00.000001Z"]},
        },
        {"id": 2, "ratio": 0.5},
    ]
    got = record_batch(FIELDS, arrow_schema(FIELDS), rows).to_pylist()
    assert got[0]["id"] == 9007199254740993
    assert got[0]["ts"] == datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC)
    assert got[0]["day"] == date(2024, 2, 29)
    assert got[0]["amount"] == decimal.Decimal("12345678901234567890.123456789")
    assert str(got[0]["ratio"]) == "nan"
    assert got[0]["doc"] == '{"a":[1,null]}'
    assert got[0]["tags"] == ["a", "b"]
    assert got[0]["owner"] == {"name": "x", "seen": [datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC)]}
    assert got[1] == {
        "id": 2,
        "ts": None,
        "day": None,
        "amount": None,
        "ratio": 0.5,
        "doc": None,
        "tags": None,
        "owner": None,
    }
