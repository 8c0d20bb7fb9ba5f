"""Fast, exact JSON for the hot paths (msgspec), with the standard library's leniency as fallback.

* Numbers with a fraction or exponent decode as :class:`decimal.Decimal` and encode back as
  JSON numbers, digit for digit; integers of any size stay integers.
* ``NaN`` / ``Infinity`` (which some producers write) make msgspec refuse the text; such text
  is decoded by simplejson instead. On output they become ``null`` (JSON has no such numbers).
"""

from __future__ import annotations

import decimal
import math
from typing import Any

import msgspec
import simplejson

_decoder = msgspec.json.Decoder(float_hook=decimal.Decimal)
_encoder = msgspec.json.Encoder(decimal_format="number")
_sorted_encoder = msgspec.json.Encoder(decimal_format="number", order="sorted")


def loads(data: bytes | str) -> Any:
    """Decode JSON text; fractional numbers become ``Decimal``.

    Raises:
        ValueError: The text is not JSON (``NaN`` and ``Infinity`` are accepted).
    """
    try:
        return _decoder.decode(data)
    except msgspec.DecodeError:
        return simplejson.loads(data, parse_float=decimal.Decimal, allow_nan=True)


def _finite(value: Any) -> Any:
    """Return ``value`` with NaN / Infinity floats and Decimals replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return value if value.is_finite() else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _default(value: Any) -> Any:
    """Encode types msgspec does not know as their text."""
    return str(value)


def dumps(value: Any, *, sort_keys: bool = False) -> bytes:
    """Encode ``value`` as compact JSON bytes (Decimals as numbers, non-finite numbers as null)."""
    encoder = _sorted_encoder if sort_keys else _encoder
    try:
        return encoder.encode(value)
    except (TypeError, ValueError, msgspec.EncodeError):
        return simplejson.dumps(
            _finite(value),
            use_decimal=True,
            separators=(",", ":"),
            sort_keys=sort_keys,
            default=_default,
            ignore_nan=True,
        ).encode()


def dumps_lines(values: list[Any]) -> bytes:
    """Encode each value as one line of JSON (newline-terminated), like :func:`dumps`."""
    try:
        return _encoder.encode_lines(values)
    except (TypeError, ValueError, msgspec.EncodeError):
        return b"".join(dumps(value) + b"\n" for value in values)
