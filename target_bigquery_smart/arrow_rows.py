"""Shaped rows -> Apache Arrow record batches for the BigQuery Storage Write API.

The Arrow types follow BigQuery's table of Arrow conversions for the Storage Write API
("Stream data using the Storage Write API: supported Arrow data types",
https://cloud.google.com/bigquery/docs/write-api#data_type_conversions):

==================  =====================================
BigQuery            Arrow
==================  =====================================
STRING, JSON,       string (a JSON column takes the JSON text)
GEOGRAPHY
INT64               int64
FLOAT64             float64 (``"NaN"``, ``"Infinity"`` as the float)
NUMERIC             decimal128(38, 9)
BIGNUMERIC          decimal256(76, 38)
BOOL                bool
BYTES               binary (the row holds base64 text)
TIMESTAMP           timestamp[us, UTC]
DATETIME            timestamp[us]
DATE                date32
TIME                time64[us]
RECORD              struct of its fields
REPEATED            list of the element type
==================  =====================================

The rows come from :mod:`.shaping` with values already converted by :mod:`.values` (JSON-ready:
timestamps as UTC text, NUMERIC as exact decimal text, big integers as text), so each column is
built in one call where Arrow can take the values as they are, and value by value otherwise.
"""

from __future__ import annotations

import base64
import decimal
from collections.abc import Callable, Sequence
from datetime import date, datetime, time
from typing import Any

import pyarrow as pa
from google.cloud import bigquery

_SCALARS: dict[str, pa.DataType] = {
    "STRING": pa.string(),
    "JSON": pa.string(),
    "GEOGRAPHY": pa.string(),
    "INT64": pa.int64(),
    "INTEGER": pa.int64(),
    "FLOAT64": pa.float64(),
    "FLOAT": pa.float64(),
    "NUMERIC": pa.decimal128(38, 9),
    "BIGNUMERIC": pa.decimal256(76, 38),
    "BOOL": pa.bool_(),
    "BOOLEAN": pa.bool_(),
    "BYTES": pa.binary(),
    "TIMESTAMP": pa.timestamp("us", tz="UTC"),
    "DATETIME": pa.timestamp("us"),
    "DATE": pa.date32(),
    "TIME": pa.time64("us"),
}
#: Types whose JSON-ready text Arrow parses itself by a cast from string (ISO-8601, decimal text).
_CAST_FROM_TEXT = frozenset({"TIMESTAMP", "DATETIME", "DATE", "NUMERIC", "BIGNUMERIC"})
#: Value-by-value conversions, for what one Arrow call cannot take.
_PYTHON: dict[str, Callable[[Any], Any]] = {
    "INT64": int,
    "INTEGER": int,
    "FLOAT64": float,
    "FLOAT": float,
    "NUMERIC": decimal.Decimal,
    "BIGNUMERIC": decimal.Decimal,
    "BYTES": lambda v: v if isinstance(v, bytes) else base64.b64decode(v),
    "TIMESTAMP": lambda v: v if isinstance(v, datetime) else datetime.fromisoformat(v),
    "DATETIME": lambda v: v if isinstance(v, datetime) else datetime.fromisoformat(v),
    "DATE": lambda v: v if isinstance(v, date) else date.fromisoformat(v),
    "TIME": lambda v: v if isinstance(v, time) else time.fromisoformat(v),
}


def arrow_type(field: bigquery.SchemaField) -> pa.DataType:
    """Return the Arrow type of a BigQuery column (see the module's table); REPEATED is a list."""
    kind = field.field_type.upper()
    if kind in ("RECORD", "STRUCT"):
        base: pa.DataType = pa.struct([arrow_field(child) for child in field.fields])
    else:
        base = _SCALARS.get(kind, pa.string())
    return pa.list_(base) if field.mode == "REPEATED" else base


def arrow_field(field: bigquery.SchemaField) -> pa.Field:
    """Return the Arrow field of a BigQuery column (always nullable: a REPEATED column's null is [])."""
    return pa.field(field.name, arrow_type(field), nullable=field.mode != "REQUIRED")


def arrow_schema(fields: Sequence[bigquery.SchemaField]) -> pa.Schema:
    """Return the Arrow schema of a table's columns, in the table's order."""
    return pa.schema([arrow_field(f) for f in fields])


def _python(field: bigquery.SchemaField, value: Any) -> Any:
    """Convert one JSON-ready value (any nesting) into what Arrow takes for the column's type."""
    if value is None:
        return None
    if field.mode == "REPEATED":
        element = bigquery.SchemaField(field.name, field.field_type, fields=field.fields)
        return [_python(element, item) for item in value]
    kind = field.field_type.upper()
    if kind in ("RECORD", "STRUCT"):
        return {child.name: _python(child, value.get(child.name)) for child in field.fields}
    convert = _PYTHON.get(kind)
    return convert(value) if convert is not None else value


def column_array(field: bigquery.SchemaField, values: list[Any]) -> pa.Array:
    """Build one column's Arrow array from its JSON-ready values (None for null).

    Raises:
        pyarrow.ArrowInvalid, ValueError: A value does not fit the column's type (the rows come
            from :mod:`.values`, which refuses such values first).
    """
    kind = field.field_type.upper()
    target = arrow_type(field)
    if field.mode != "REPEATED" and kind not in ("RECORD", "STRUCT"):
        try:
            if kind in _CAST_FROM_TEXT:
                return pa.array(values, pa.string()).cast(target)
            return pa.array(values, target)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            pass  # a big integer as text, "NaN" for a float, an offset Arrow does not parse: value by value
    return pa.array([_python(field, v) for v in values], target)


def record_batch(
    fields: Sequence[bigquery.SchemaField], schema: pa.Schema, rows: Sequence[dict[str, Any]]
) -> pa.RecordBatch:
    """Return the rows as one Arrow record batch of ``schema`` (built by :func:`arrow_schema` from ``fields``).

    A column a row lacks is null; a REPEATED column's null is stored by BigQuery as ``[]``.
    """
    arrays = [column_array(f, [row.get(f.name) for row in rows]) for f in fields]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
