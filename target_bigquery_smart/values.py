"""Converting record values into values BigQuery accepts, by column type.

Rules (a value that cannot follow them makes the row invalid, with a reason naming the field;
invalid rows fail the run or go to the dead-letter table, never silently dropped or changed):

* TIMESTAMP: ISO-8601 with ``T`` or a space between date and time and any offset (``Z``,
  ``+02:00``, ``+0200``, ``+02``, `` UTC``; none means UTC), a date (midnight UTC), or epoch
  seconds / milliseconds / microseconds as a number or a numeric string (by magnitude: below
  1e11 seconds, below 1e14 milliseconds, else microseconds). A string of digits (optional sign
  and fraction) is always an epoch number, never the ISO basic form: ``20240101`` is
  1970-08-23T06:15:01Z, write ``2024-01-01``. Sent as UTC ``YYYY-MM-DDTHH:MM:SS.ffffffZ``
  (digits beyond microseconds are cut, as BigQuery keeps microseconds).
* DATE: ``YYYY-MM-DD``, or the date part of a timestamp.
* INT64: integers within -2^63..2^63-1 (integral floats and digit strings too); beyond the
  range the row is invalid. Values beyond +-2^53 travel as strings so JSON keeps every digit.
* FLOAT64: numbers; NaN and +-Infinity are sent as ``"NaN"``, ``"Infinity"``, ``"-Infinity"``,
  which BigQuery stores as such.
* NUMERIC: sent as exact decimal text; more than 9 fractional digits are rounded half-even
  to 9 (NUMERIC's scale), more than 29 integer digits or NaN/Infinity make the row invalid.
* BOOL: booleans, or the strings ``true`` / ``false``.
* STRING: strings as they are (lone surrogates as U+FFFD, see :mod:`target_bigquery_smart.strict`);
  numbers and booleans as their JSON text; objects as JSON text.
* JSON: the value as JSON text.
"""

from __future__ import annotations

import decimal
import math
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from target_bigquery_smart.errors import UnstorableValueError
from target_bigquery_smart.rows import to_json
from target_bigquery_smart.strict import strict_text

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_JSON_SAFE_INT = 2**53
_NUMERIC_MAX_INTEGER_DIGITS = 29
_NUMERIC_QUANTUM = decimal.Decimal("1e-9")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_COMPACT_OFFSET = re.compile(r"([+-]\d{2})(\d{2})$")
#: A string that is an epoch number (see the TIMESTAMP rule above).
_EPOCH_TEXT = re.compile(r"[+-]?\d+(\.\d+)?")


def _timestamp(value: Any) -> str:
    if isinstance(value, str) and _EPOCH_TEXT.fullmatch(value.strip()):
        value = decimal.Decimal(value.strip())
    if isinstance(value, bool):
        msg = f"boolean {value!r} is not a timestamp"
        raise UnstorableValueError(msg)
    if isinstance(value, int | float | decimal.Decimal):
        number = float(value)
        if not math.isfinite(number):
            msg = f"{value!r} is not a timestamp"
            raise UnstorableValueError(msg)
        magnitude = abs(number)
        seconds = number if magnitude < 1e11 else number / 1e3 if magnitude < 1e14 else number / 1e6
        moment = _EPOCH + timedelta(seconds=seconds)
    elif isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    elif isinstance(value, str):
        text = value.strip().replace("z", "Z")
        if text.upper().endswith(" UTC"):
            text = text[:-4].rstrip() + "Z"
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        text = _COMPACT_OFFSET.sub(r"\1:\2", text) if "T" in text or " " in text else text
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            msg = f"{value!r} is not an ISO-8601 timestamp"
            raise UnstorableValueError(msg) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    else:
        msg = f"{type(value).__name__} is not a timestamp"
        raise UnstorableValueError(msg)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _date(value: Any) -> str:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and len(value.strip()) == 10:
        try:
            return date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    return _timestamp(value)[:10]


def _int64(value: Any) -> int | str:
    if isinstance(value, bool):
        msg = f"boolean {value!r} is not an integer"
        raise UnstorableValueError(msg)
    if isinstance(value, decimal.Decimal) and value.is_finite() and value.adjusted() > 19:  # noqa: PLR2004
        msg = f"{value} is outside INT64 (-2^63 .. 2^63-1)"
        raise UnstorableValueError(msg)
    whole = (
        value.is_integer()
        if isinstance(value, float)
        else value.is_finite() and value == value.to_integral_value()
        if isinstance(value, decimal.Decimal)
        else True
    )
    if not whole:
        msg = f"{value!r} is not a whole number"
        raise UnstorableValueError(msg)
    try:
        number = int(value.strip()) if isinstance(value, str) else int(value)
    except (TypeError, ValueError, OverflowError):
        msg = f"{value!r} is not an integer"
        raise UnstorableValueError(msg) from None
    if not INT64_MIN <= number <= INT64_MAX:
        msg = f"integer {number} is outside INT64 (-2^63 .. 2^63-1)"
        raise UnstorableValueError(msg)
    return str(number) if abs(number) > _JSON_SAFE_INT else number


def _float64(value: Any) -> float | str:
    if isinstance(value, bool):
        msg = f"boolean {value!r} is not a number"
        raise UnstorableValueError(msg)
    try:
        number = float(value)
    except (TypeError, ValueError):
        msg = f"{value!r} is not a number"
        raise UnstorableValueError(msg) from None
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    return number


def _numeric(value: Any) -> str:
    if isinstance(value, bool):
        msg = f"boolean {value!r} is not a number"
        raise UnstorableValueError(msg)
    try:
        number = value if isinstance(value, decimal.Decimal) else decimal.Decimal(str(value))
    except decimal.InvalidOperation:
        msg = f"{value!r} is not a number"
        raise UnstorableValueError(msg) from None
    if not number.is_finite():
        msg = f"{value!r} cannot be stored in NUMERIC"
        raise UnstorableValueError(msg)
    if number.adjusted() >= _NUMERIC_MAX_INTEGER_DIGITS:
        msg = f"{value} has more than 29 integer digits (NUMERIC)"
        raise UnstorableValueError(msg)
    if number.as_tuple().exponent < -9:  # type: ignore[operator]
        number = number.quantize(_NUMERIC_QUANTUM, rounding=decimal.ROUND_HALF_EVEN)
    integer_digits = len(str(abs(int(number)))) if int(number) else 0
    if integer_digits > _NUMERIC_MAX_INTEGER_DIGITS:
        msg = f"{value} has more than 29 integer digits (NUMERIC)"
        raise UnstorableValueError(msg)
    return format(number, "f")


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    msg = f"{value!r} is not a boolean"
    raise UnstorableValueError(msg)


def _string(value: Any) -> str:
    if isinstance(value, str):
        return strict_text(value)
    return to_json(value)


CONVERTERS = {
    "TIMESTAMP": _timestamp,
    "DATETIME": lambda v: _timestamp(v)[:-1],
    "DATE": _date,
    "INT64": _int64,
    "INTEGER": _int64,
    "FLOAT64": _float64,
    "FLOAT": _float64,
    "NUMERIC": _numeric,
    "BIGNUMERIC": _numeric,
    "BOOL": _bool,
    "BOOLEAN": _bool,
    "STRING": _string,
    "JSON": to_json,
}


def convert(value: Any, bigquery_type: str) -> Any:
    """Convert one scalar ``value`` for a column of ``bigquery_type``.

    Args:
        value: The record's value (not None).
        bigquery_type: The column's type.

    Returns:
        A JSON-ready value BigQuery accepts for the type.

    Raises:
        UnstorableValueError: The value cannot be stored; the message says why.
    """
    converter = CONVERTERS.get(bigquery_type.upper(), _string)
    if bigquery_type.upper() != "JSON" and isinstance(value, Mapping | list) and converter is not _string:
        msg = f"{type(value).__name__} cannot be stored in a {bigquery_type} column"
        raise UnstorableValueError(msg)
    try:
        return converter(value)
    except (OverflowError, ValueError, decimal.InvalidOperation) as exc:
        if isinstance(exc, UnstorableValueError):
            raise
        msg = f"{str(value)[:60]} cannot be stored in a {bigquery_type} column ({type(exc).__name__})"
        raise UnstorableValueError(msg) from None
