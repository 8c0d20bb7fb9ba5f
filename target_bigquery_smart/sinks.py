"""One BatchSink per stream: buffer at most ``batch_size`` rows, shape them, hand them to the loader."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from google.cloud import bigquery
from singer_sdk.sinks import BatchSink

from target_bigquery_smart import loader
from target_bigquery_smart.rows import insert_id, raw_row

if TYPE_CHECKING:
    from target_bigquery_smart.target import TargetBigQuerySmart

DEFAULT_BATCH_SIZE = 1000

RAW_SCHEMA = (
    bigquery.SchemaField("org_slug", "STRING", mode="NULLABLE"),
    bigquery.SchemaField("raw_data", "STRING", mode="NULLABLE", description="The record as JSON text."),
    bigquery.SchemaField("extracted_at", "TIMESTAMP", mode="NULLABLE"),
)


class MissingKeyError(ValueError):
    """A record lacks one of its stream's key properties."""


def table_name(stream_name: str) -> str:
    """Return a BigQuery table name for a stream.

    Characters other than letters, digits and ``_`` become ``_`` (``public-users`` -> ``public_users``).
    """
    return re.sub(r"[^A-Za-z0-9_]", "_", stream_name)[:1024]


class BigQuerySink(BatchSink):
    """Buffers a stream's rows (at most ``batch_size``) and commits each batch to BigQuery."""

    def __init__(self, target: TargetBigQuerySmart, *args: Any, **kwargs: Any) -> None:
        super().__init__(target, *args, **kwargs)
        self._target = target
        self._table: bigquery.Table | None = None
        #: Batches committed so far; the target compares it to decide which STATE is safe.
        self.drain_count = 0
        self.stats = {"rows": 0, "streaming_requests": 0, "load_jobs": 0}

    @property
    def max_size(self) -> int:
        """Rows per batch (config ``batch_size``, default 1000)."""
        return int(self.config.get("batch_size") or DEFAULT_BATCH_SIZE)

    @property
    def table_id(self) -> str:
        """``project.dataset.table`` for this stream."""
        return f"{self.config['project']}.{self.config['dataset']}.{table_name(self.stream_name)}"

    def _ensure_table(self) -> bigquery.Table:
        if self._table is None:
            self._table = self._target.ensure_table(self.table_id, RAW_SCHEMA)
        return self._table

    def _singer_validate_message(self, record: dict) -> None:
        """Check key properties; the error names the stream and the record's position.

        Raises:
            MissingKeyError: The record lacks a key property.
        """
        missing = [k for k in self.key_properties if k not in record]
        if missing:
            # Called before the SDK tallies the record, so this record is number read + 1.
            msg = (
                f"Stream '{self.stream_name}': record {self._total_records_read + 1} lacks key "
                f"propert{'y' if len(missing) == 1 else 'ies'} {missing}; "
                f"fields present: {sorted(record)[:20]}."
            )
            raise MissingKeyError(msg)

    def process_record(self, record: dict, context: dict) -> None:
        """Shape the record into a row now, so the buffer holds only rows and insertIds."""
        context.setdefault("rows", []).append(
            raw_row(record, org_slug=self.config.get("org_slug"), extracted_at=self._target.extracted_at)
        )
        context.setdefault("row_ids", []).append(insert_id(self.stream_name, record, self.key_properties))

    def process_batch(self, context: dict) -> None:
        """Commit the buffered rows with :func:`loader.insert_rows_smart`."""
        rows = context.get("rows") or []
        if not rows:
            return
        result = loader.insert_rows_smart(
            self._target.bq_client,
            self._ensure_table(),
            rows,
            context["row_ids"],
            streaming_threshold=int(self.config.get("streaming_threshold") or loader.DEFAULT_STREAMING_THRESHOLD),
        )
        self.stats["rows"] += result.rows
        if result.method == "streaming":
            self.stats["streaming_requests"] += result.requests
        else:
            self.stats["load_jobs"] += 1
        self.tally_record_written(result.rows)
        self.logger.info("Committed %d rows to %s by %s.", result.rows, self.table_id, result.method)

    def mark_drained(self) -> None:
        """Count a committed batch (called by the SDK only after ``process_batch`` returned)."""
        super().mark_drained()
        self.drain_count += 1
