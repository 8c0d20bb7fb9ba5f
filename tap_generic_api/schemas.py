"""SCHEMA for a stream: permissive by default, given by config, or inferred from sample records."""

from __future__ import annotations

import decimal
import logging
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

#: JSON Schema type of a Python value decoded from JSON.
_TYPE_OF = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (decimal.Decimal, "number"),
    (str, "string"),
)


#: Schema of a key property or replication key whose type is not known: any scalar.
ANY_SCALAR: dict[str, Any] = {"type": ["string", "integer", "number", "boolean", "null"]}


def permissive_schema(key_fields: Iterable[str], extra_fields: Iterable[str] = ()) -> dict[str, Any]:
    """Return a schema accepting any object, with key properties (and ``extra_fields``) declared.

    Records go out as the API sent them, so the schema does not constrain their shape.
    """
    names = [*key_fields, *extra_fields]
    return {
        "type": "object",
        "properties": {name: dict(ANY_SCALAR) for name in names},
        "additionalProperties": True,
    }


def with_fields(
    schema: Mapping[str, Any], fields: Iterable[str], field_schema: Mapping[str, Any] = ANY_SCALAR
) -> dict[str, Any]:
    """Return ``schema`` with any of ``fields`` missing from its properties added as ``field_schema`` (any scalar)."""
    result = dict(schema)
    properties = dict(result.get("properties") or {})
    for name in fields:
        properties.setdefault(name, dict(field_schema))
    result["properties"] = properties
    result.setdefault("type", "object")
    return result


#: Bounds of BigQuery's INT64, the target's column type for ``integer``.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: An ISO-8601 date (``2024-05-01``) and date-time (RFC 3339 section 5.6, a space allowed for the ``T``
#: and the offset optional, as BigQuery's TIMESTAMP accepts): checked with ``datetime`` after the match.
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})?$", re.IGNORECASE)


def string_format(value: str) -> str | None:
    """Return ``"date-time"`` or ``"date"`` for an ISO-8601 date-time or date string, else None.

    Fractions of a second beyond microseconds are allowed (BigQuery keeps microseconds).
    """
    if _DATE.match(value):
        try:
            date.fromisoformat(value)
        except ValueError:
            return None
        return "date"
    if _DATE_TIME.match(value):
        text = re.sub(r"(\.\d{6})\d+", r"\1", value.upper().replace("Z", "+00:00"))
        try:
            datetime.fromisoformat(text)
        except ValueError:
            return None
        return "date-time"
    return None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, int) and not isinstance(value, bool) and not INT64_MIN <= value <= INT64_MAX:
        return "big-integer"
    for python_type, name in _TYPE_OF:
        if isinstance(value, python_type):
            return name
    return "string"


class SchemaInferrer:
    """Builds a JSON schema from sample records, widening types as it sees more.

    Rules: a string field whose every value is an ISO-8601 date-time (or date) gets ``format:
    date-time`` (``date``), which the target loads as TIMESTAMP (DATE); an integer field holds
    integers that fit INT64, and one with a larger integer becomes ``number`` with ``format:
    decimal`` (NUMERIC, exact); ``integer`` + ``number`` widen to ``number``; any other mix of
    scalar types widens to ``string``; objects merge their properties; arrays merge their items; a field
    seen only as ``null`` becomes ``["string", "null"]`` (never a null-only type); every
    field is nullable, since a later record may omit it.
    """

    def __init__(self) -> None:
        self._root: dict[str, Any] = {"types": {"object"}, "properties": {}, "items": None}

    def add(self, record: Mapping[str, Any]) -> None:
        """Take one record into account."""
        self._merge(self._root, record)

    def _merge(self, node: dict[str, Any], value: Any) -> None:
        kind = _json_type(value)
        node["types"].add(kind)
        if kind == "string":
            node.setdefault("formats", set()).add(string_format(value))
        if kind == "object":
            for key, child in value.items():
                sub = node["properties"].setdefault(key, {"types": set(), "properties": {}, "items": None})
                self._merge(sub, child)
        elif kind == "array":
            if node["items"] is None:
                node["items"] = {"types": set(), "properties": {}, "items": None}
            for child in value:
                self._merge(node["items"], child)

    def schema(self) -> dict[str, Any]:
        """Return the inferred schema of the records added so far."""
        schema = self._render(self._root)
        schema["type"] = "object"
        return schema

    def _render(self, node: dict[str, Any]) -> dict[str, Any]:
        types = set(node["types"]) - {"null"}
        decimal_format = "big-integer" in types and not types - {"big-integer", "integer"}
        if "big-integer" in types:
            types = (types - {"big-integer", "integer"}) | {"number"}
        if "integer" in types and "number" in types:
            types.discard("integer")
        if len(types) > 1:
            # Incompatible types: only a string holds every value faithfully.
            return {"type": ["string", "null"]}
        kind = types.pop() if types else "string"
        result: dict[str, Any] = {"type": [kind, "null"]}
        formats = node.get("formats", set())
        if kind == "string" and len(formats) == 1 and None not in formats:
            result["format"] = next(iter(formats))
        if kind == "number" and decimal_format:
            result["format"] = "decimal"
        if kind == "object":
            result["properties"] = {k: self._render(v) for k, v in node["properties"].items()}
        elif kind == "array":
            items = node["items"]
            result["items"] = self._render(items) if items and items["types"] - {"null"} else {}
        return result


def declared_schema(
    schema: Mapping[str, Any] | None, key_fields: Iterable[str], replication_key: str | None
) -> dict[str, Any]:
    """Return a stream's schema: its configured ``schema`` (else any object), with key fields and replication key."""
    extra = [replication_key] if replication_key else []
    if schema is not None:
        return with_fields(schema, [*key_fields, *extra])
    return permissive_schema(key_fields, extra)


#: Newest date windows read, at most, to infer a schema.
INFER_SCHEMA_MAX_WINDOWS = 10


def infer_from_pages(
    pages: Iterable[list[Any]], fields: Iterable[str], *, stream: str, logger: logging.Logger
) -> dict[str, Any]:
    """Return the schema inferred from the records of ``pages``, with ``fields`` declared.

    Logs how many records it was inferred from, or a warning when there were none (the schema is
    then the key properties only; records still go out whole).
    """
    inferrer = SchemaInferrer()
    sampled = 0
    for page in pages:
        for record in page:
            inferrer.add(record)
        sampled += len(page)
    if not sampled:
        logger.warning(
            "Stream '%s': no records to infer the schema from; the stream's schema is its key properties "
            "only (records still go out whole). Set the stream's schema to describe them.",
            stream,
        )
    schema = with_fields(inferrer.schema(), fields)
    logger.info("Stream '%s': schema inferred from %d records.", stream, sampled)
    return schema
