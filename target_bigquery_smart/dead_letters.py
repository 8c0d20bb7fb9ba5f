"""Refused rows: the error that lists them, or the dead-letter table that keeps them with their reasons."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from google.cloud import bigquery

from target_bigquery_smart.batch import Batch, RowError
from target_bigquery_smart.errors import LoadError, RejectedRowsError, cut
from target_bigquery_smart.raw_records import as_text
from target_bigquery_smart.streaming import stream_rows
from target_bigquery_smart.strict import strict_text
from target_bigquery_smart.tables import Tables

#: Rejected rows quoted in an error message.
MAX_REPORTED_ROWS = 10
#: Characters of each reason kept in the dead-letter table's ``errors`` column (the record
#: itself is whole in ``row_data``; a reason quoting a huge value would not fit an insertAll).
DEAD_LETTER_REASON_LIMIT = 2000

DEAD_LETTER_SCHEMA = (
    bigquery.SchemaField("stream", "STRING"),
    bigquery.SchemaField("record_number", "INT64", description="Position of the record in its stream, from 1."),
    bigquery.SchemaField("insert_id", "STRING"),
    bigquery.SchemaField("errors", "STRING", description="Reasons, one per line."),
    bigquery.SchemaField(
        "row_data", "STRING", description="The record as received (without _sdc_ metadata fields), as JSON text."
    ),
    bigquery.SchemaField("failed_at", "TIMESTAMP"),
)


def rejected_error(stream: str, table_id: str, rejected: list[RowError], batch: Batch) -> RejectedRowsError:
    """Return the error for refused rows when no ``dead_letter_table`` is set, naming each record and line."""
    details = "; ".join(
        f"{batch.where(e.index)}: {', '.join(cut(r) for r in e.reasons)}" for e in rejected[:MAX_REPORTED_ROWS]
    )
    more = f" (and {len(rejected) - MAX_REPORTED_ROWS} more)" if len(rejected) > MAX_REPORTED_ROWS else ""
    msg = (
        f"Stream '{stream}': {len(rejected)} row(s) refused for {table_id}: {details}{more}. "
        "Set dead_letter_table to keep loading and collect such rows."
    )
    return RejectedRowsError(msg, stream=stream, located=True)


def too_large_error(stream: str, table_id: str, rejected: list[RowError], keep: list[int], batch: Batch) -> LoadError:
    """Return the error for rows larger than BigQuery stores, naming each record and its input line.

    Args:
        stream: The batch's stream.
        table_id: The table loaded.
        rejected: The rows too large, by index among the rows sent.
        keep: Index in ``batch`` of each row sent.
        batch: The batch.
    """
    details = "; ".join(f"{batch.where(keep[e.index])}: {', '.join(e.reasons)}" for e in rejected[:MAX_REPORTED_ROWS])
    msg = (
        f"Stream '{stream}': {len(rejected)} row(s) too large for {table_id}: {details}. "
        f"Nothing of records {batch.numbers[0]} to {batch.numbers[-1]} was loaded and no STATE after them was "
        "written; such a record cannot be stored in one BigQuery row (trim or split it before the target)."
    )
    return LoadError(msg, stream=stream, located=True)


def write_dead_letters(
    tables: Tables,
    table_id: str,
    stream: str,
    rejected: list[RowError],
    batch: Batch,
    insert_id: Callable[[dict, int], str],
    log: logging.Logger,
) -> int:
    """Write refused rows to the dead-letter table (created when missing) by streaming insert.

    Each row keeps its stream, record number, insertId (the one its record would have had),
    reasons (one per line, each cut to :data:`DEAD_LETTER_REASON_LIMIT`), the record as JSON
    text and the time.

    Returns:
        Rows written.

    Raises:
        LoadError: The dead-letter table refused rows.
    """
    table = tables.ensure(table_id, DEAD_LETTER_SCHEMA)
    failed_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    ids = [insert_id(batch.records[e.index], batch.numbers[e.index]) for e in rejected]
    letters = [
        {
            "stream": strict_text(stream),
            "record_number": batch.numbers[e.index],
            "insert_id": ids[n],
            "errors": strict_text("\n".join(cut(r, DEAD_LETTER_REASON_LIMIT) for r in e.reasons)),
            "row_data": as_text(batch.records[e.index]),
            "failed_at": failed_at,
        }
        for n, e in enumerate(rejected)
    ]
    _, refused, _ = stream_rows(tables.client, table, letters, ids)
    if refused:
        msg = f"Stream '{stream}': the dead-letter table {table_id} refused rows: {refused[0].reasons}"
        raise LoadError(msg, stream=stream)
    log.warning(
        "Stream '%s': %d row(s) refused and written to %s (first: record %d: %s).",
        stream,
        len(letters),
        table_id,
        batch.numbers[rejected[0].index],
        "; ".join(cut(r) for r in rejected[0].reasons),
    )
    return len(letters)
