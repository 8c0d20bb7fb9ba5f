"""Record values in the form their SCHEMA declares, when the value as sent is one BigQuery can store.

JSON Schema validation alone would refuse values BigQuery stores: ``"42"`` for an ``integer``,
``"true"`` for a ``boolean``, ``"2024-01-01 10:00:00"`` or ``1700000000`` for a ``date-time``
string. The validator checks a record as sent first (the fast path); only when that fails does
it check :func:`coerce`'s copy, in which each value that the conversion for its declared type
(:mod:`target_bigquery_smart.values`) accepts is replaced by the converted value. The record
itself is never changed: ``raw_data`` keeps it exactly as sent, and flattened columns convert it
by the same rules. What still fails is what BigQuery would refuse for the declared type.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from typing import Any

from target_bigquery_smart.errors import UnstorableValueError
from target_bigquery_smart.values import convert

_FORMATS = {"date-time": "TIMESTAMP", "date": "DATE"}


def _types(schema: Mapping[str, Any]) -> list[str]:
    kind = schema.get("type")
    if kind is None:
        return []
    return [kind] if isinstance(kind, str) else [k for k in kind if isinstance(k, str)]


def _as(value: Any, kind: str, schema: Mapping[str, Any]) -> Any:
    """Return ``value`` converted for JSON type ``kind``; raise UnstorableValueError if it cannot be."""
    if kind == "integer":
        return int(convert(value, "INT64"))
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, str | int | float | decimal.Decimal):
            msg = "not a number"
            raise UnstorableValueError(msg)
        try:
            number = decimal.Decimal(value.strip() if isinstance(value, str) else value)
        except (decimal.InvalidOperation, ValueError):
            msg = "not a number"
            raise UnstorableValueError(msg) from None
        if not number.is_finite():
            msg = "not a finite number"
            raise UnstorableValueError(msg)
        return number
    if kind == "boolean":
        return convert(value, "BOOL")
    if kind == "string":
        column = _FORMATS.get(str(schema.get("format")), "STRING")
        if column == "STRING" and isinstance(value, Mapping | list):
            msg = "objects and arrays are not strings"
            raise UnstorableValueError(msg)
        converted = convert(value, column)
        return converted[:10] if column == "DATE" else converted
    if kind == "object" and isinstance(value, Mapping):
        return coerce(value, schema)
    if kind == "array" and isinstance(value, list):
        items = schema.get("items")
        return [coerce_value(v, items) for v in value] if isinstance(items, Mapping) else value
    msg = f"not {kind}"
    raise UnstorableValueError(msg)


def coerce_value(value: Any, schema: Any) -> Any:
    """Return ``value`` in the first declared type its conversion accepts, or ``value`` unchanged."""
    if value is None or not isinstance(schema, Mapping):
        return value
    for kind in _types(schema):
        if kind == "null":
            continue
        try:
            return _as(value, kind, schema)
        except (UnstorableValueError, ValueError, TypeError):
            continue
    return value


def coerce(record: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of ``record`` with each declared property's value converted (see the module).

    Args:
        record: A record (or nested object).
        schema: Its JSON schema (``properties`` are used; other fields are copied as they are).

    Returns:
        A new dict; ``record`` is not changed.
    """
    properties = schema.get("properties") if isinstance(schema.get("properties"), Mapping) else {}
    return {name: coerce_value(value, properties.get(name)) for name, value in record.items()}
