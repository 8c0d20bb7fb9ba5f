r"""Strict JSON (RFC 8259, I-JSON RFC 7493) for every payload sent to BigQuery, whoever wrote the input.

Singer input may hold what strict JSON cannot: ``NaN`` / ``Infinity`` tokens (Python's json
writes them) and lone surrogates (``"\ud800"`` escapes, which decode to a code point UTF-8
cannot encode). BigQuery refuses or mangles both. The rule, applied to every string and object
key of a row before it is sent:

* a lone surrogate (any code point U+D800..U+DFFF in a decoded string) becomes U+FFFD, the
  replacement character (I-JSON section 2.1; Unicode's rule for ill-formed text);
* NaN and +-Infinity become ``null`` in JSON text (``raw_data``, JSON columns); a FLOAT64
  column gets ``"NaN"`` / ``"Infinity"``, which BigQuery stores as such;
* integers of any size keep every digit (large ones travel as text for INT64, as numbers in
  JSON text), and decimals keep their digits (``Decimal``).
"""

from __future__ import annotations

import decimal
import math
import re
from collections.abc import Mapping
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")


def strict_text(text: str) -> str:
    """Return ``text`` with each lone surrogate replaced by U+FFFD."""
    return text if text.isascii() else _SURROGATE.sub("\ufffd", text)


def strict_value(value: Any) -> Any:
    """Return ``value`` (a decoded JSON value) with the rule above applied throughout; a new copy.

    Args:
        value: str, number, bool, None, or dicts and lists of them (other types are kept).

    Returns:
        The value with lone surrogates replaced in strings and keys and non-finite numbers as None.
    """
    if isinstance(value, str):
        return strict_text(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return value if value.is_finite() else None
    if isinstance(value, Mapping):
        return {strict_text(k) if isinstance(k, str) else k: strict_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict_value(v) for v in value]
    return value
