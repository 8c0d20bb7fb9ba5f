r"""RECORD messages whose record stays JSON text: the raw layout stores the text, so it is not parsed.

In the raw layout (``raw_data``) the record's JSON text is already in the input line. The
reader decodes only the message's ``type`` and ``stream`` and keeps the record as
:class:`msgspec.Raw` (a slice of the line, checked as JSON by msgspec while it skips it); the
sink reads only the key properties from that text, and decodes the whole record only when it
must (validation, ``_sdc_`` metadata to drop, an insertId, a dead-letter row).

The text is stored as it came when it is strict JSON (RFC 8259, I-JSON RFC 7493), which the
fast path guarantees: msgspec refuses ``NaN`` / ``Infinity`` tokens, lone surrogate escapes
(``"\ud800"``), control characters in strings and bytes that are not UTF-8 (the reader keeps
those as lone surrogates in the line, which msgspec cannot encode). Any line it refuses is
decoded whole as before and its record written by :func:`target_bigquery_smart.rows.to_json`,
which makes it strict. Integers of any size and decimals keep their digits, since the text is
not re-encoded. A record's JSON text is not reformatted: whitespace between tokens and
``\u`` escapes stay as the tap wrote them; the value is the same.

msgspec's ``Raw`` is used rather than our own scanner: it is the same decoder that decodes
every other line, so what the fast path accepts is exactly what the full decode accepts.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from plugin_kit import fastjson
from target_bigquery_smart.rows import to_json


class _RecordEnvelope(msgspec.Struct):
    """The fields of a Singer message the raw path reads; every other field is skipped."""

    type: Any = None
    stream: Any = None
    record: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


_envelope = msgspec.json.Decoder(_RecordEnvelope)


class RawRecord:
    """A record kept as its JSON text; decoded (once) only when a caller needs its values.

    Attributes:
        text: The record's JSON text as it was in the input line (an object, strict JSON).
        keys: Key property -> value, for the key properties the record has (set by the sink).
    """

    __slots__ = ("keys", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.keys: Mapping[str, Any] = {}

    def decoded(self) -> dict[str, Any]:
        """Return the record as a new dict (numbers with a fraction as ``Decimal``, as the reader decodes them).

        Not kept: a batch holds the text only, and the few callers that need the values
        (validation, insertIds of a streamed batch, dead letters) decode it once each.
        """
        return fastjson.loads(self.text)

    def __repr__(self) -> str:
        return f"RawRecord({self.text[:80]!r})"


def record_text(line: str) -> tuple[str, str] | None:
    """Return ``(stream, record's JSON text)`` for a RECORD line, else None.

    None means: decode the line whole (another message type, a ``stream`` that is not a
    string, a ``record`` that is not an object, or text msgspec refuses, nesting deeper than
    it allows included: the full decode then reports or repairs it exactly as for any line).
    """
    try:
        envelope = _envelope.decode(line)
    except (msgspec.DecodeError, UnicodeError, RecursionError):
        return None
    if envelope.type != "RECORD" or envelope.record is msgspec.UNSET or type(envelope.stream) is not str:
        return None
    text = bytes(envelope.record).decode()
    return (envelope.stream, text) if text.startswith("{") else None


def as_record(record: Mapping[str, Any] | str) -> Mapping[str, Any]:
    """Return a batch's record as values: JSON text (raw layout) decoded, a dict as it is."""
    return fastjson.loads(record) if isinstance(record, str) else record


def as_text(record: Mapping[str, Any] | str) -> str:
    """Return a batch's record as strict JSON text: its own text (raw layout), or the dict encoded."""
    return record if isinstance(record, str) else to_json(record)


class KeyReader:
    """Reads only the key properties of a record's JSON text (for the MERGE key and missing-key checks).

    Args:
        key_properties: The stream's key properties (SCHEMA ``key_properties``).
    """

    def __init__(self, key_properties: Sequence[str]) -> None:
        self.names = list(dict.fromkeys(key_properties))
        # Field names are generated: a key property need not be a Python identifier.
        fields = [(f"k{i}", Any, msgspec.UNSET) for i in range(len(self.names))]
        rename = {f"k{i}": name for i, name in enumerate(self.names)}
        struct = msgspec.defstruct("Keys", fields, rename=rename)
        self._decoder = msgspec.json.Decoder(struct, float_hook=decimal.Decimal)
        self._fields = [f"k{i}" for i in range(len(self.names))]
        # Required fields of msgspec.Raw: the decode fails on a missing key and builds no value.
        required = msgspec.defstruct("RequiredKeys", [(field, msgspec.Raw) for field in self._fields], rename=rename)
        self._presence = msgspec.json.Decoder(required)

    def has_all(self, text: str) -> bool:
        """Return True when the record's text has every key property (values not decoded)."""
        if not self.names:
            return True
        try:
            self._presence.decode(text)
        except msgspec.ValidationError:
            return False
        return True

    def read(self, text: str) -> dict[str, Any]:
        """Return key property -> value for the keys present in the record's text (absent keys left out)."""
        if not self.names:
            return {}
        keys = self._decoder.decode(text)
        return {
            name: value
            for name, field in zip(self.names, self._fields, strict=True)
            if (value := getattr(keys, field)) is not msgspec.UNSET
        }
