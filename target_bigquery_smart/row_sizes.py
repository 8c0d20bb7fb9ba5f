"""Row sizes against BigQuery's limits: what fits one insertAll request, what fits one row at all.

Limits (BigQuery documentation, "Quotas and limits", https://cloud.google.com/bigquery/quotas):
10 MB per insertAll request and per streamed row; a row of a newline-delimited JSON load job up
to 100 MB ("Maximum row and cell size ... JSON: 100 MB", #load_jobs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from target_bigquery_smart.rows import to_json

#: Largest row of a newline-delimited JSON load job, in bytes.
MAX_LOAD_ROW_BYTES = 100_000_000


def streaming_sizes(rows: Sequence[dict[str, Any]], row_ids: Sequence[str]) -> list[int]:
    """Return each row's bytes in an insertAll request: its JSON, its insertId and the envelope."""
    return [len(to_json(row)) + len(row_ids[i]) + 32 for i, row in enumerate(rows)]


def oversized_rows(payload: bytes) -> list[tuple[int, str]]:
    """Return ``(row index, reason)`` for each line of newline-delimited JSON over :data:`MAX_LOAD_ROW_BYTES`.

    Scans for newlines without copying the lines (the payload may be hundreds of MB).
    """
    found: list[tuple[int, str]] = []
    start, index = 0, 0
    while start < len(payload):
        end = payload.find(b"\n", start)
        end = len(payload) if end < 0 else end
        if end - start > MAX_LOAD_ROW_BYTES:
            reason = (
                f"row_too_large: the row is {end - start:,} bytes as JSON; BigQuery stores rows of at most "
                f"{MAX_LOAD_ROW_BYTES:,} bytes (100 MB)"
            )
            found.append((index, reason))
        start, index = end + 1, index + 1
    return found
