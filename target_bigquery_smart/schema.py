"""Singer JSON Schema -> BigQuery columns, and the column-name rule.

Types (every column NULLABLE, arrays REPEATED):

================================  ===========================================
JSON Schema                       BigQuery
================================  ===========================================
string                            STRING
string, ``format: date-time``     TIMESTAMP
string, ``format: date``          DATE
integer                           INT64
number                            FLOAT64
number, ``format: decimal`` or    NUMERIC (exact); also ``x-bigquery-type``
``multipleOf``                    for any BigQuery type
boolean                           BOOL
object with ``properties``        RECORD with those fields
object without ``properties``     JSON
array                             REPEATED of the item type; array of arrays,
                                  or items without a type: REPEATED JSON
several non-null types, anyOf     JSON
================================  ===========================================

Column names: BigQuery allows letters, digits and underscores, not starting with a digit,
at most 300 characters, compared case-insensitively. The rule: every other character
becomes ``_``; a leading digit gets a ``_`` prefix; an empty name becomes ``_``; names are
cut to 300 characters. When two fields map to the same name (``ID`` and ``id``,
``first-name`` and ``first_name``), the field whose name is already valid (else the first
in sorted order) keeps it and each other gets ``_`` plus the first 8 hex digits of the
SHA-256 of its original name. Each column's description records its source field, and an
existing table's columns are reused by that record, so the mapping stays the same across
runs and schema changes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from google.cloud import bigquery

from target_bigquery_smart.strict import strict_text

MAX_COLUMN_NAME = 300
SOURCE_PREFIX = "source field: "
_INVALID = re.compile(r"[^A-Za-z0-9_]")


#: Name prefixes BigQuery reserves for its own columns (compared case-insensitively).
RESERVED_PREFIXES = ("_partition", "_table_", "_file_", "_row_timestamp", "__root__", "_colidentifier")


def clean_name(name: str) -> str:
    """Apply the column-name rule to one field name (no collision handling).

    A name starting with a prefix BigQuery reserves (``_PARTITIONTIME``) gets ``f`` in front.
    """
    cleaned = _INVALID.sub("_", name) or "_"
    if cleaned[0].isdigit():
        cleaned = f"_{cleaned}"
    if cleaned.lower().startswith(RESERVED_PREFIXES):
        cleaned = f"f{cleaned}"
    return cleaned[:MAX_COLUMN_NAME]


def _suffixed(name: str) -> str:
    suffix = "_" + hashlib.sha256(name.encode()).hexdigest()[:8]
    return clean_name(name)[: MAX_COLUMN_NAME - len(suffix)] + suffix


def assign_names(
    fields: Iterable[str], existing: Mapping[str, str] | None = None, reserved: Iterable[str] = ()
) -> dict[str, str]:
    """Map field names to column names by the rule above.

    Args:
        fields: Source field names at one level.
        existing: Field name -> column name already in the table at this level (kept).
        reserved: Column names taken by the target's own columns (``org_slug``, ...).

    Returns:
        Field name -> column name, unique case-insensitively.
    """
    fields = list(fields)
    existing = dict(existing or {})
    result: dict[str, str] = {}
    taken = {column.lower() for column in existing.values()} | {r.lower() for r in reserved}
    for name in fields:
        if name in existing:
            result[name] = existing[name]
    pending = [n for n in fields if n not in result]
    # Already-valid names first, then sorted: the same set of fields gives the same result.
    pending.sort(key=lambda n: (clean_name(n) != n, n))
    for name in pending:
        column = clean_name(name)
        if column.lower() in taken:
            column = _suffixed(name)
        result[name] = column
        taken.add(column.lower())
    return result


@dataclass
class Column:
    """One BigQuery column built from a JSON Schema property.

    Attributes:
        source: The record's field name.
        name: The column name.
        type: BigQuery type (``STRING``, ``INT64``, ``RECORD``, ...).
        repeated: True for arrays (mode REPEATED).
        fields: Sub-columns of a RECORD.
    """

    source: str
    name: str
    type: str
    repeated: bool = False
    fields: list[Column] = field(default_factory=list)

    def to_schema_field(self) -> bigquery.SchemaField:
        """Return the ``google-cloud-bigquery`` field (NULLABLE, or REPEATED for arrays)."""
        return bigquery.SchemaField(
            self.name,
            self.type,
            mode="REPEATED" if self.repeated else "NULLABLE",
            # Strict JSON: a lone surrogate in a field name would make BigQuery refuse the table.
            description=strict_text(f"{SOURCE_PREFIX}{self.source}")[:1024],
            fields=[f.to_schema_field() for f in self.fields],
        )


def _types(schema: Mapping[str, Any]) -> list[str]:
    kind = schema.get("type")
    if kind is None:
        if "properties" in schema:
            return ["object"]
        if "items" in schema:
            return ["array"]
        return []
    kinds = [kind] if isinstance(kind, str) else list(kind)
    return [k for k in kinds if k != "null"]


def _scalar_type(kind: str, schema: Mapping[str, Any]) -> str:
    if schema.get("x-bigquery-type"):
        return str(schema["x-bigquery-type"]).upper()
    if kind == "string":
        fmt = schema.get("format")
        return {"date-time": "TIMESTAMP", "date": "DATE"}.get(fmt, "STRING")
    if kind == "integer":
        return "INT64"
    if kind == "number":
        return "NUMERIC" if schema.get("format") == "decimal" or "multipleOf" in schema else "FLOAT64"
    if kind == "boolean":
        return "BOOL"
    return "JSON"


def _existing_sources(fields: Sequence[bigquery.SchemaField]) -> dict[str, bigquery.SchemaField]:
    """Map source field names to existing columns (via the description, else the name)."""
    found: dict[str, bigquery.SchemaField] = {}
    for column in fields:
        description = column.description or ""
        source = description[len(SOURCE_PREFIX) :] if description.startswith(SOURCE_PREFIX) else column.name
        found[source] = column
    return found


def columns_for(
    properties: Mapping[str, Any],
    existing: Sequence[bigquery.SchemaField] = (),
    reserved: Iterable[str] = (),
) -> list[Column]:
    """Build the columns for a JSON Schema ``properties`` mapping.

    Args:
        properties: Field name -> JSON Schema.
        existing: The table's current fields at this level (their names and types are kept).
        reserved: Column names already used at this level (``org_slug``, ``extracted_at``).

    Returns:
        Columns in property order.
    """
    by_source = _existing_sources(existing)
    kept_names = {source: col.name for source, col in by_source.items() if source in properties}
    names = assign_names(properties, kept_names, reserved)
    columns = []
    for source, schema in properties.items():
        old = by_source.get(source)
        column = _column(source, names[source], schema if isinstance(schema, Mapping) else {}, old)
        columns.append(column)
    return columns


def _column(source: str, name: str, schema: Mapping[str, Any], old: bigquery.SchemaField | None) -> Column:
    if old is not None:
        # An existing column keeps its type; RECORD sub-fields may still grow.
        column = Column(source, old.name, old.field_type, old.mode == "REPEATED")
        if old.field_type in ("RECORD", "STRUCT"):
            sub = schema.get("items", schema) if column.repeated else schema
            column.fields = columns_for(sub.get("properties") or {}, old.fields)
            known = {c.name for c in column.fields}
            column.fields += [_from_field(f) for f in old.fields if f.name not in known]
        return column
    kinds = _types(schema)
    if "anyOf" in schema or "oneOf" in schema or len(kinds) != 1:
        return Column(source, name, "JSON")
    kind = kinds[0]
    if kind == "array":
        items = schema.get("items") if isinstance(schema.get("items"), Mapping) else {}
        item_kinds = _types(items)
        if len(item_kinds) != 1 or item_kinds[0] == "array" or "anyOf" in items:
            return Column(source, name, "JSON", repeated=True)
        inner = _column(source, name, items, None)
        inner.repeated = True
        return inner
    if kind == "object":
        if schema.get("properties"):
            return Column(source, name, "RECORD", fields=columns_for(schema["properties"]))
        return Column(source, name, "JSON")
    return Column(source, name, _scalar_type(kind, schema))


def _from_field(schema_field: bigquery.SchemaField) -> Column:
    description = schema_field.description or ""
    source = description[len(SOURCE_PREFIX) :] if description.startswith(SOURCE_PREFIX) else schema_field.name
    return Column(
        source,
        schema_field.name,
        schema_field.field_type,
        schema_field.mode == "REPEATED",
        [_from_field(f) for f in schema_field.fields],
    )


def merge_schema(
    current: Sequence[bigquery.SchemaField], wanted: Sequence[bigquery.SchemaField]
) -> list[bigquery.SchemaField] | None:
    """Return ``current`` plus the fields (and RECORD sub-fields) of ``wanted`` it lacks.

    Returns None when nothing is missing. Existing fields are never changed or removed.
    """
    changed = False
    merged: list[bigquery.SchemaField] = []
    by_name = {f.name.lower(): f for f in wanted}
    for old in current:
        new = by_name.pop(old.name.lower(), None)
        if new is not None and old.field_type in ("RECORD", "STRUCT") and new.field_type in ("RECORD", "STRUCT"):
            sub = merge_schema(old.fields, new.fields)
            if sub is not None:
                changed = True
                old = bigquery.SchemaField(
                    old.name, old.field_type, mode=old.mode, description=old.description, fields=sub
                )
        merged.append(old)
    if by_name:
        changed = True
        merged.extend(by_name.values())
    return merged if changed else None
