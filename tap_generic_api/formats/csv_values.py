"""CSV values converted to the types the stream's ``schema`` declares; the rest stay strings.

CSV has no types: every field is text. A column the schema types as integer, number, boolean,
object or array is converted; one it does not type, or types as string, stays as sent. An empty
field is null where the schema allows null and the column is not a string (CSV writes a missing
value so); elsewhere a field that does not convert is an error naming the stream, the row and the
column, never a silent null.
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Callable, Mapping
from typing import Any

from plugin_kit import fastjson
from tap_generic_api.errors import ResponseShapeError

# ASCII digits only: int() and Decimal() also read other Unicode digits and "1_000", which no export
# means as a number (a value that is not one is an error naming it, never a guess).
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})


def _integer(text: str) -> int:
    if not _INTEGER.fullmatch(text.strip()):
        raise ValueError
    return int(text)


def _number(text: str) -> int | decimal.Decimal:
    stripped = text.strip()
    if _INTEGER.fullmatch(stripped):
        return int(stripped)
    if not _DECIMAL.fullmatch(stripped):
        raise ValueError  # NaN and Infinity too: JSON cannot carry them
    return decimal.Decimal(stripped)  # every digit kept, as JSON numbers are read


def _boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError


def _json(kind: type) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        value = fastjson.loads(text)
        if value is not None and not isinstance(value, kind):  # JSON null: null where the schema allows it
            raise ValueError  # noqa: TRY004 - reported as "does not convert" with the column
        return value

    return convert


#: JSON-schema type -> converter, in the order tried for a column of several types.
_CONVERTERS: dict[str, Callable[[str], Any]] = {
    "integer": _integer,
    "number": _number,
    "boolean": _boolean,
    "object": _json(dict),
    "array": _json(list),
}


class CsvTypes:
    """Converts a CSV record's strings per a JSON schema (callable: ``(record, row) -> record``).

    Args:
        schema: The stream's ``schema`` (None: every value stays a string).
        describe: Who reads what, for messages (the stream).

    Raises (when called):
        ResponseShapeError: A value does not convert to its column's type; names the row, the column,
            the value and the type.
    """

    def __init__(self, schema: Mapping[str, Any] | None, describe: str, replication_key: str | None = None) -> None:
        self.describe = describe
        self.columns: dict[str, tuple[tuple[str, ...], bool, bool]] = {}
        properties = (schema or {}).get("properties") or {}
        for name, spec in properties.items():
            types = _types(spec)
            typed = tuple(t for t in types if t in _CONVERTERS)
            if typed:
                self.columns[name] = (typed, "null" in types, "string" in types)
        # A replication key the schema does not declare is checked on its first value (see _check_key).
        self._unchecked_key = replication_key if replication_key and replication_key not in properties else None

    def __call__(self, record: dict[str, Any], row: int) -> dict[str, Any]:
        """Return ``record`` with its typed columns converted (changed in place)."""
        if self._unchecked_key is not None:
            self._check_key(record, row)
        for name, (types, nullable, stringy) in self.columns.items():
            text = record.get(name)
            if text is None:
                continue
            if text == "" and nullable and not stringy:
                record[name] = None
                continue
            for kind in types:
                try:
                    value = _CONVERTERS[kind](text)
                except (ValueError, TypeError, RecursionError):
                    continue
                if value is not None or nullable:
                    record[name] = value
                    break
            else:
                if stringy:
                    continue  # the schema allows a string too
                shown = text if len(text) <= 60 else text[:60] + "..."  # noqa: PLR2004
                msg = (
                    f"{self.describe}: row {row}, column {name!r}: {shown!r} is not "
                    f"{' or '.join(types)}, as the stream's schema types it. Fix the schema or the export."
                )
                raise ResponseShapeError(msg)
        return record

    def _check_key(self, record: Mapping[str, Any], row: int) -> None:
        """Refuse a replication key column holding numbers as text that the schema does not type.

        Compared as text, ``"10"`` sorts before ``"9"``: the bookmark would stop at ``"9"`` and the next
        run would drop every record from ``"10"`` on as older than it. Text such as ISO 8601 dates
        sorts as its values do and passes; declaring the column (``{"type": "string"}`` included) is
        taken as the user's decision.

        Raises:
            ResponseShapeError: The first value of the key looks like a number; names the key and value.
        """
        key = self._unchecked_key or ""
        value = record.get(key)
        if value is None or value == "":
            return
        self._unchecked_key = None
        if _DECIMAL.fullmatch(value.strip()):
            msg = (
                f"{self.describe}: row {row}: replication_key '{key}' holds {value!r}, a number written as text "
                "(CSV has no types). Compared as text, '10' sorts before '9', so the bookmark would skip records. "
                f'Type the column in the stream\'s schema: "{key}": {{"type": "integer"}} (or "number"; '
                '{"type": "string"} keeps it text).'
            )
            raise ResponseShapeError(msg)


def _types(spec: Any) -> tuple[str, ...]:
    if not isinstance(spec, Mapping):
        return ()
    declared = spec.get("type")
    if isinstance(declared, str):
        return (declared,)
    if isinstance(declared, list):
        return tuple(t for t in declared if isinstance(t, str))
    found: list[str] = []
    for option in spec.get("anyOf") or spec.get("oneOf") or ():
        found.extend(_types(option))
    return tuple(found)
