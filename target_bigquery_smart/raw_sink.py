"""The sink's part for records kept as JSON text (raw layout): check them, decoding only what is needed.

The row of the raw layout is the record's text as it came (:mod:`.raw_records`). With
validation off, only the key properties are read (presence, and their values for the MERGE
key); with validation on, or ``_sdc_`` metadata for the SDK to drop, the record is decoded.
"""

from __future__ import annotations

from typing import Any

from target_bigquery_smart.raw_records import KeyReader, RawRecord

#: Record metadata fields the SDK drops from incoming records (its ``_remove_sdc_metadata_from_record``).
SDC_METADATA = frozenset(
    {
        "_sdc_extracted_at",
        "_sdc_received_at",
        "_sdc_batched_at",
        "_sdc_deleted_at",
        "_sdc_sequence",
        "_sdc_table_version",
        "_sdc_sync_started_at",
    }
)


class RawRecordsMixin:
    """Adds :meth:`add_raw_text` to :class:`.sinks.BigQuerySink` (which provides the attributes used)."""

    _validator: Any
    _key_set: frozenset[str]
    _raw_keys: KeyReader
    _pending_batch: dict | None
    _total_records_read: int
    _batch_records_read: int
    _uncounted: int
    _max_rows: int
    _max_bytes: int
    _batch: Any
    _reader: Any
    stats: dict[str, int]
    shaper: Any

    def add_raw_text(self, text: str) -> bool:
        """Buffer one record given as its JSON text (a strict JSON object); return True when the batch is full.

        The common case (raw layout, no validation, no merge or ``add_fields``, no ``_sdc_``
        field) does here, in one call, what :meth:`add_record` does through several: per
        record this is most of the target's work. Anything else goes through
        :meth:`add_record`, which raises as it documents.
        """
        if (
            self._validator is not None
            or not self.shaper.plain_raw
            or '"_sdc_' in text
            or not self._raw_keys.has_all(text)
        ):
            return self.add_record(RawRecord(text))  # type: ignore[attr-defined]
        if self._pending_batch is None:
            self._get_context({})  # type: ignore[attr-defined]
        self._total_records_read += 1
        self._batch_records_read += 1
        self._uncounted += 1
        stats = self.stats
        stats["records_read"] += 1
        reader = self._reader
        batch = self._batch
        batch.rows.append(self.shaper.raw_row(text))
        batch.records.append(text)
        batch.numbers.append(stats["records_read"])
        batch.lines.append(reader.line_number)
        batch.input_chars += reader.line_length
        return self._batch_records_read >= self._max_rows or batch.input_chars >= self._max_bytes

    def _check_raw(self, raw: RawRecord) -> dict | RawRecord:
        """Check a record kept as JSON text, decoding only what the checks need.

        Without validation only the key properties are read. Validation, or ``_sdc_``
        metadata the SDK drops, needs the whole record decoded; the text is still what is
        stored, unless metadata was dropped (then the decoded record is returned and stored).

        Raises:
            SchemaMismatchError: The record does not match its SCHEMA and no dead-letter table is set.
            MissingKeyError: The record lacks a key property.
        """
        if self._validator is not None or '"_sdc_' in raw.text:
            values = raw.decoded()
            dropped = not SDC_METADATA.isdisjoint(values)
            self._check_values(values)  # type: ignore[attr-defined]
            if dropped:
                return values
            raw.keys = {key: values[key] for key in self._key_set}
            return raw
        raw.keys = keys = self._raw_keys.read(raw.text)
        if len(keys) != len(self._key_set):
            self._singer_validate_message(raw.decoded())  # type: ignore[attr-defined]
        return raw
