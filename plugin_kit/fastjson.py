"""Fast, exact JSON for the hot paths (msgspec), with the standard library's leniency as fallback.

* Numbers with a fraction or exponent decode as :class:`decimal.Decimal` and encode back as
  JSON numbers, digit for digit; integers of any size stay integers.
* ``NaN`` / ``Infinity`` and lone surrogate escapes (which some producers write) make msgspec
  refuse the text; such text is decoded by simplejson instead and made strict: non-finite numbers
  become ``null`` (JSON has no such numbers, RFC 8259 section 6) and lone surrogates U+FFFD
  (RFC 7493 section 2.1). On output the same rule holds for any value.
"""

from __future__ import annotations

import decimal
import math
import re
from dataclasses import dataclass, field
from typing import Any

import msgspec
import simplejson

_decoder = msgspec.json.Decoder(float_hook=decimal.Decimal)
_encoder = msgspec.json.Encoder(decimal_format="number")
_sorted_encoder = msgspec.json.Encoder(decimal_format="number", order="sorted")


#: A UTF-16 surrogate code point: in a decoded str, always a lone one (pairs decode to one character).
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass
class Repairs:
    """What :func:`decode_strict` changed to make a document strict JSON (RFC 8259, I-JSON RFC 7493).

    Attributes:
        non_finite: Where ``NaN`` / ``Infinity`` numbers were replaced by null, as JSON paths
            (``$.data[3].price``), in document order.
        surrogates: Strings in which lone UTF-16 surrogates were replaced by U+FFFD.
        invalid_utf8: The text held bytes that are not UTF-8, each replaced by U+FFFD.
    """

    non_finite: list[str] = field(default_factory=list)
    surrogates: int = 0
    invalid_utf8: bool = False


def decode_strict(data: bytes | str) -> tuple[Any, Repairs]:
    r"""Decode JSON text into strict JSON values; fractional numbers become ``Decimal``.

    msgspec refuses ``NaN``, ``Infinity``, lone surrogate escapes (``"\ud800"``) and bytes that
    are not UTF-8; such text is decoded by simplejson, then each non-finite number becomes None
    and each lone surrogate or byte that is not UTF-8 U+FFFD, so nothing written later can hold
    them. Integers of any size stay exact.

    Returns:
        The document and what was repaired (nothing, on the fast path).

    Raises:
        ValueError: The text is not JSON.
        RecursionError: It is nested deeper than the decoders allow.
    """
    try:
        return _decoder.decode(data), Repairs()
    except msgspec.DecodeError:
        pass
    repairs = Repairs()
    if isinstance(data, bytes | bytearray | memoryview):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            data = bytes(data).decode("utf-8", "replace")
            repairs.invalid_utf8 = True
    document = simplejson.loads(data, parse_float=decimal.Decimal, allow_nan=True)
    return _strict(document, "$", repairs), repairs


def loads(data: bytes | str) -> Any:
    """Decode JSON text leniently; fractional numbers become ``Decimal``.

    ``NaN``, ``Infinity`` and lone surrogates are kept as they are (see :func:`decode_strict`
    for the strict form).

    Raises:
        ValueError: The text is not JSON.
    """
    try:
        return _decoder.decode(data)
    except msgspec.DecodeError:
        return simplejson.loads(data, parse_float=decimal.Decimal, allow_nan=True)


def _text(value: str, repairs: Repairs | None) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        if repairs is not None:
            repairs.surrogates += 1
        return _SURROGATE.sub("\ufffd", value)
    return value


def _strict(value: Any, path: str, repairs: Repairs | None) -> Any:
    """Return ``value`` with non-finite numbers as None and lone surrogates as U+FFFD."""
    if isinstance(value, str):
        return _text(value, repairs)
    if isinstance(value, float | decimal.Decimal):
        if value.is_finite() if isinstance(value, decimal.Decimal) else math.isfinite(value):
            return value
        if repairs is not None:
            repairs.non_finite.append(path)
        return None
    if isinstance(value, dict):
        return {_text(str(k), repairs): _strict(v, f"{path}.{k}", repairs) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(v, f"{path}[{i}]", repairs) for i, v in enumerate(value)]
    return value


def _default(value: Any) -> Any:
    """Encode types msgspec does not know as their text."""
    return str(value)


def dumps(value: Any, *, sort_keys: bool = False) -> bytes:
    r"""Encode ``value`` as compact strict JSON bytes.

    Decimals and integers as numbers, digit for digit; non-finite numbers as null; lone
    surrogates as U+FFFD (RFC 7493 section 2.1: I-JSON strings hold no lone surrogate, not even
    as a ``\ud800`` escape).
    """
    encoder = _sorted_encoder if sort_keys else _encoder
    try:
        return encoder.encode(value)
    except (TypeError, ValueError, msgspec.EncodeError):
        return simplejson.dumps(
            _strict(value, "$", None),
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
