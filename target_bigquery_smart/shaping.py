"""A stream's row shape: its BigQuery columns and how each record becomes a row.

Raw ELT mode (default): ``org_slug``, ``raw_data`` (the record as JSON text), ``extracted_at``.
Flattened mode: ``org_slug``, ``extracted_at``, one column per SCHEMA property (see
:mod:`target_bigquery_smart.schema`), and ``_sdc_extra`` (JSON) for record fields the SCHEMA
does not declare (nested ones by dotted path, ``address.zip``), so nothing is lost. An array
holding a null (BigQuery's REPEATED columns cannot hold NULL) is never shortened: its column is
empty (``[]``) for that row and the whole array, nulls included, is in ``_sdc_extra`` by its
path (``tags``, ``lines[0].codes``). Both
modes add one STRING column per ``add_fields`` entry (``org_slug`` / ``extracted_at``
entries set those columns), and in merge mode the ``_sdc_key_hash`` column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from google.cloud import bigquery

from target_bigquery_smart.errors import UnstorableValueError
from target_bigquery_smart.keys import canonical_key_value, null_keys
from target_bigquery_smart.raw_records import RawRecord
from target_bigquery_smart.rows import EXTRA_COLUMN, KEY_HASH_COLUMN, key_hash, to_json
from target_bigquery_smart.schema import Column, columns_for
from target_bigquery_smart.strict import strict_value
from target_bigquery_smart.values import convert

_META = ("org_slug", "extracted_at")


class RowShaper:
    """Builds rows for one stream.

    Args:
        properties: The stream SCHEMA's ``properties``.
        flatten: Flattened columns instead of the raw ELT wrap.
        add_fields: Rendered ``add_fields`` (column -> value).
        key_fields: Key properties (for the merge key).
        merge: Add the ``_sdc_key_hash`` column.
        existing: The table's current schema, or empty for a new table.
        org_slug: Config ``org_slug``.
        extracted_at: The run's start time, RFC 3339 UTC.
    """

    def __init__(
        self,
        properties: Mapping[str, Any],
        *,
        flatten: bool,
        add_fields: Mapping[str, Any],
        key_fields: Sequence[str],
        merge: bool,
        existing: Sequence[bigquery.SchemaField],
        org_slug: str | None,
        extracted_at: str,
    ) -> None:
        self.flatten = flatten
        self.key_fields = list(key_fields)
        self.merge = merge
        self.meta = {"org_slug": strict_value(org_slug), "extracted_at": extracted_at}
        self.extra_columns = {name: strict_value(value) for name, value in add_fields.items() if name not in _META}
        for name in _META:
            if name in add_fields:
                self.meta[name] = strict_value(add_fields[name])
        # Converted once; a bad add_fields.extracted_at is a config error, raised here.
        self.meta["extracted_at"] = convert(self.meta["extracted_at"], "TIMESTAMP")
        reserved = [*_META, "raw_data", EXTRA_COLUMN, KEY_HASH_COLUMN, *self.extra_columns]
        own = {f.name.lower() for f in existing if f.name in reserved}
        record_fields = [f for f in existing if f.name.lower() not in own]
        self.columns: list[Column] = columns_for(properties, record_fields, reserved) if flatten else []
        self._by_source = {c.source: c for c in self.columns}
        # The merge key compares values as the key columns hold them (see target_bigquery_smart.keys).
        key_schemas = {k: properties.get(k) or {} for k in key_fields}
        key_columns = self._by_source if flatten else {c.source: c for c in columns_for(key_schemas)}
        self._key_types = [
            "JSON" if k not in key_columns or key_columns[k].repeated else key_columns[k].type for k in self.key_fields
        ]
        #: Rows are only org_slug, the record's text and extracted_at (:meth:`raw_row`).
        self.plain_raw = not flatten and not merge and not self.extra_columns
        self._org_slug, self._extracted_at = self.meta["org_slug"], self.meta["extracted_at"]

    def schema(self) -> list[bigquery.SchemaField]:
        """Return the table schema for rows of this shape."""
        fields = [
            bigquery.SchemaField("org_slug", "STRING", description="Organisation slug (target config)."),
        ]
        if self.flatten:
            fields.append(bigquery.SchemaField("extracted_at", "TIMESTAMP", description="Start of the load run."))
            fields += [c.to_schema_field() for c in self.columns]
            fields.append(
                bigquery.SchemaField(EXTRA_COLUMN, "JSON", description="Record fields not declared in the SCHEMA.")
            )
        else:
            fields.append(bigquery.SchemaField("raw_data", "STRING", description="The record as JSON text."))
            fields.append(bigquery.SchemaField("extracted_at", "TIMESTAMP", description="Start of the load run."))
        fields += [bigquery.SchemaField(name, "STRING", description="add_fields") for name in self.extra_columns]
        if self.merge:
            fields.append(bigquery.SchemaField(KEY_HASH_COLUMN, "STRING", description="SHA-256 of the key values."))
        return fields

    def raw_row(self, text: str) -> dict[str, Any]:
        """Return the row of a record given as strict JSON text, when :attr:`plain_raw`."""
        return {"org_slug": self._org_slug, "raw_data": text, "extracted_at": self._extracted_at}

    def shape(self, record: Mapping[str, Any] | RawRecord) -> tuple[dict[str, Any], Sequence[str]]:
        """Return ``(row, problems)``; a row with problems must not be loaded as is.

        Args:
            record: The record, or (raw layout) a :class:`RawRecord` whose ``keys`` the sink
                has read: its text is ``raw_data`` as it is.

        Returns:
            The JSON-ready row and the problems (``field: reason``), empty when valid.
        """
        raw = type(record) is RawRecord
        if self.plain_raw:
            # The common case, once per record: no flattening, add_fields or merge key.
            text = record.text if raw else to_json(record)  # type: ignore[union-attr]
            return {"org_slug": self._org_slug, "raw_data": text, "extracted_at": self._extracted_at}, ()
        if raw and self.flatten:
            record = record.decoded()  # type: ignore[union-attr]
            raw = False
        problems: list[str] = []
        row: dict[str, Any] = {"org_slug": self.meta["org_slug"]}
        if self.flatten:
            row["extracted_at"] = self.meta["extracted_at"]
            extra: dict[str, Any] = {}
            for name, value in record.items():
                column = self._by_source.get(name)
                if column is None:
                    extra[name] = value
                elif value is not None:
                    row[column.name] = _shape_value(value, column, name, problems, extra)
            row[EXTRA_COLUMN] = to_json(extra) if extra else None
        else:
            row["raw_data"] = record.text if raw else to_json(record)  # type: ignore[union-attr,arg-type]
            row["extracted_at"] = self.meta["extracted_at"]
            if raw:
                record = record.keys  # type: ignore[union-attr]
        row.update(self.extra_columns)
        if self.merge:
            for key in null_keys(record, self.key_fields):
                problems.append(f"{key}: key property is null; a MERGE cannot match a row on it")
            keys = zip(self.key_fields, self._key_types, strict=True)
            row[KEY_HASH_COLUMN] = key_hash([canonical_key_value(record.get(k), kind) for k, kind in keys])
        return row, problems


def _shape_value(value: Any, column: Column, path: str, problems: list[str], extra: dict[str, Any]) -> Any:
    """Shape one value for ``column``; undeclared nested fields go to ``extra`` by dotted path."""
    if column.repeated:
        if not isinstance(value, list):
            problems.append(f"{path}: expected a list, got {type(value).__name__}")
            return None
        if any(v is None for v in value):
            # A REPEATED column cannot hold NULL, and dropping the nulls would shorten the array
            # (positions matter): the whole array goes to _sdc_extra by its path, the column is empty.
            extra[path] = value
            return []
        item = Column(column.source, column.name, column.type, False, column.fields)
        return [_shape_value(v, item, f"{path}[{i}]", problems, extra) for i, v in enumerate(value)]
    if column.type in ("RECORD", "STRUCT"):
        if not isinstance(value, Mapping):
            problems.append(f"{path}: expected an object, got {type(value).__name__}")
            return None
        by_source = {c.source: c for c in column.fields}
        nested: dict[str, Any] = {}
        for name, child in value.items():
            sub = by_source.get(name)
            if sub is None:
                extra[f"{path}.{name}"] = child
            elif child is not None:
                nested[sub.name] = _shape_value(child, sub, f"{path}.{name}", problems, extra)
        return nested
    try:
        return convert(value, column.type)
    except UnstorableValueError as exc:
        problems.append(f"{path}: {exc}")
        return None
