"""Merge keys compared as BigQuery compares the key columns.

``write_mode: merge`` matches rows on ``_sdc_key_hash``, the SHA-256 of the key property values.
Before hashing, each value is put in the one form BigQuery would store for the key property's
column type (the flattened column's type, or in the raw layout the type the SCHEMA declares),
so values BigQuery holds equal are one key:

* INT64 (``integer``): ``1``, ``1.0`` and ``"1"`` are the integer 1.
* NUMERIC / FLOAT64 (``number``): numbers and numeric strings by value (``1``, ``1.0``, ``"1"``,
  ``"1.00"`` are one key; ``1.5`` and ``"1.50"`` are one key).
* STRING (``string``): text as sent; a number or boolean as its JSON text, as the column stores it
  (``1`` and ``"1"`` are one key, ``1.0`` is ``"1.0"``, another key).
* TIMESTAMP / DATETIME / DATE: the instant or day (``2024-01-01T01:00:00+01:00`` and
  ``2024-01-01 00:00:00Z`` are one key), by :mod:`target_bigquery_smart.values`.
* BOOL: ``true`` and ``"true"`` are one key.
* Untyped or several types (a JSON column): numbers by value, everything else as sent
  (``1`` and ``1.0`` are one key, ``"1"`` is another).

A value its type cannot hold is kept as sent (in the flattened layout the row is refused anyway).
A null key value is never a key: :func:`null_keys` finds them, and the row is refused.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping, Sequence
from typing import Any

from target_bigquery_smart.errors import UnstorableValueError
from target_bigquery_smart.values import convert

_NUMBER_TYPES = frozenset({"NUMERIC", "BIGNUMERIC", "FLOAT64", "FLOAT"})
_CONVERTED_TYPES = frozenset({"INT64", "INTEGER", "BOOL", "BOOLEAN", "TIMESTAMP", "DATETIME", "DATE", "STRING"})


def _number(value: Any) -> Any:
    """Return an exact number in one form: integral values as int, others as normalised Decimal."""
    if isinstance(value, bool) or not isinstance(value, int | float | decimal.Decimal | str):
        return value
    try:
        number = decimal.Decimal(value.strip() if isinstance(value, str) else str(value))
    except decimal.InvalidOperation:
        return value
    if not number.is_finite():
        return value
    if number == number.to_integral_value():
        return int(number)
    return number.normalize()


def canonical_key_value(value: Any, bigquery_type: str) -> Any:
    """Return ``value`` in the form BigQuery stores it for a key column of ``bigquery_type``.

    Args:
        value: The record's key value (None stays None).
        bigquery_type: The key column's BigQuery type (``JSON`` for untyped keys).

    Returns:
        A JSON-ready value; equal values for values BigQuery compares equal.
    """
    if value is None:
        return None
    kind = bigquery_type.upper()
    if kind in _NUMBER_TYPES:
        return _number(value)
    if kind in _CONVERTED_TYPES and not isinstance(value, Mapping | list):
        try:
            converted = convert(value, kind)
        except UnstorableValueError:
            return value
        # INT64 beyond 2^53 is sent as text; the key is the integer.
        return int(converted) if kind in ("INT64", "INTEGER") else converted
    if isinstance(value, float | decimal.Decimal):
        return _number(value)
    return value


def null_keys(record: Mapping[str, Any], key_fields: Sequence[str]) -> list[str]:
    """Return the key properties whose value in ``record`` is null (or absent)."""
    return [key for key in key_fields if record.get(key) is None]
