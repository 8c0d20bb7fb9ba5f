"""Streaming inserts (insertAll) with explicit insertIds, within BigQuery's request limits.

Limits (https://cloud.google.com/bigquery/quotas#streaming_inserts): at most 500 rows
(recommended) and 10 MB per insertAll request.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from google.cloud import bigquery

from target_bigquery_smart.batch import RowError
from target_bigquery_smart.row_sizes import streaming_sizes

#: Rows per insertAll request (BigQuery recommends at most 500).
STREAMING_MAX_ROWS = 500
#: Bytes per insertAll request; BigQuery's limit is 10 MB, keep a margin for the envelope.
STREAMING_MAX_BYTES = 9_000_000
#: Times rows marked ``stopped`` are sent again before giving up.
STOPPED_RETRIES = 3


def _chunks(rows: Sequence[dict[str, Any]], indexes: Sequence[int], sizes: Sequence[int]) -> Iterator[list[int]]:
    """Yield lists of row indexes within the insertAll row and byte limits."""
    chunk: list[int] = []
    size = 0
    for index in indexes:
        if chunk and (len(chunk) >= STREAMING_MAX_ROWS or size + sizes[index] > STREAMING_MAX_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(index)
        size += sizes[index]
    if chunk:
        yield chunk


def stream_rows(
    client: bigquery.Client,
    table: bigquery.Table,
    rows: Sequence[dict[str, Any]],
    row_ids: Sequence[str],
    sizes: Sequence[int] | None = None,
) -> tuple[int, list[RowError], int]:
    """Send rows by streaming insert with explicit insertIds.

    Rows BigQuery marked ``stopped`` (not tried because another row in the request was
    invalid) are sent again, with the same insertIds, up to :data:`STOPPED_RETRIES` times.

    Args:
        client: BigQuery client.
        table: Destination table (with schema).
        rows: JSON-ready rows.
        row_ids: One insertId per row.
        sizes: :func:`streaming_sizes` of the rows, if already known.

    Returns:
        ``(insertAll requests sent, rows refused with their reasons, rows sent again)``.
    """
    if sizes is None:
        sizes = streaming_sizes(rows, row_ids)
    pending = list(range(len(rows)))
    rejected: list[RowError] = []
    requests_sent = 0
    resent = 0
    for attempt in range(STOPPED_RETRIES + 1):
        if attempt:
            resent += len(pending)
        stopped: list[int] = []
        for chunk in _chunks(rows, pending, sizes):
            errors = client.insert_rows_json(table, [rows[i] for i in chunk], row_ids=[row_ids[i] for i in chunk])
            requests_sent += 1
            for error in errors:
                index = chunk[error.get("index", 0)]
                reasons = tuple(
                    f"{e.get('reason')}: {e.get('message')}".rstrip(": ") for e in error.get("errors", [])
                ) or ("unknown: no reason given",)
                if all(r.startswith("stopped") for r in reasons):
                    stopped.append(index)
                else:
                    rejected.append(RowError(index, reasons))
        if not stopped:
            break
        pending = stopped
    else:
        rejected.extend(RowError(i, ("stopped: not inserted after retries",)) for i in pending)
    rejected.sort(key=lambda e: e.index)
    return requests_sent, rejected, resent
