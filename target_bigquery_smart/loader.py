"""How rows reach BigQuery: streaming insert for small batches, a load job for larger ones.

Every call goes through ``google-cloud-bigquery``. Both paths are idempotent:

* streaming inserts send explicit insertIds (``row_ids``), so a retried request is
  de-duplicated by BigQuery (best effort, for at least one minute);
* load jobs get a job id derived from the table and the batch content, so a load retried
  after a timeout answers ``409 Already Exists`` and the existing job is awaited instead of
  loading the rows twice.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from google.api_core.exceptions import Conflict
from google.cloud import bigquery

from target_bigquery_smart.rows import to_json

logger = logging.getLogger("target_bigquery_smart.loader")

#: Rows per insertAll request (BigQuery recommends at most 500).
STREAMING_MAX_ROWS = 500
#: Bytes per insertAll request; BigQuery's limit is 10 MB, keep a margin for the envelope.
STREAMING_MAX_BYTES = 9_000_000
DEFAULT_STREAMING_THRESHOLD = 100


class LoadError(RuntimeError):
    """BigQuery refused rows; the message names the table, the rows and the reasons."""


@dataclass(frozen=True)
class LoadResult:
    """What one :func:`insert_rows_smart` call did.

    Attributes:
        rows: Rows committed.
        method: ``"streaming"`` or ``"load_job"``.
        requests: insertAll requests sent (streaming) or 1 (load job).
        job_id: The load job id, or None for streaming.
    """

    rows: int
    method: str
    requests: int
    job_id: str | None = None


def ensure_table(
    client: bigquery.Client,
    table_id: str,
    schema: Sequence[bigquery.SchemaField],
    *,
    location: str | None = None,
) -> bigquery.Table:
    """Create the dataset and the table when missing; return the table.

    Args:
        client: BigQuery client.
        table_id: ``project.dataset.table``.
        schema: Columns for a new table.
        location: Dataset location for a new dataset.

    Returns:
        The table as it exists in BigQuery.
    """
    project, dataset, _ = table_id.split(".")
    dataset_ref = bigquery.Dataset(f"{project}.{dataset}")
    if location:
        dataset_ref.location = location
    client.create_dataset(dataset_ref, exists_ok=True)
    return client.create_table(bigquery.Table(table_id, schema=list(schema)), exists_ok=True)


def _chunks(rows: Sequence[dict[str, Any]], row_ids: Sequence[str]):
    """Yield ``(start, rows, ids)`` chunks within the insertAll row and byte limits."""
    start, size, count = 0, 0, 0
    for index, row in enumerate(rows):
        row_size = len(to_json(row)) + len(row_ids[index]) + 32
        if count and (count >= STREAMING_MAX_ROWS or size + row_size > STREAMING_MAX_BYTES):
            yield start, rows[start:index], row_ids[start:index]
            start, size, count = index, 0, 0
        size += row_size
        count += 1
    if count:
        yield start, rows[start:], row_ids[start:]


def stream_rows(
    client: bigquery.Client, table: bigquery.Table, rows: Sequence[dict[str, Any]], row_ids: Sequence[str]
) -> int:
    """Send rows by streaming insert with explicit insertIds.

    Args:
        client: BigQuery client.
        table: Destination table (with schema).
        rows: JSON-ready rows.
        row_ids: One insertId per row.

    Returns:
        The number of insertAll requests sent.

    Raises:
        LoadError: BigQuery reported per-row errors; the message lists row positions
            (0-based within the batch) and reasons.
    """
    requests_sent = 0
    for start, chunk, ids in _chunks(rows, row_ids):
        errors = client.insert_rows_json(table, chunk, row_ids=list(ids))
        requests_sent += 1
        if errors:
            details = "; ".join(
                f"row {start + e.get('index', 0)}: "
                + ", ".join(f"{x.get('reason')}: {x.get('message')}" for x in e.get("errors", []))
                for e in errors[:10]
            )
            msg = f"Streaming insert into {table.full_table_id or table} rejected {len(errors)} row(s): {details}"
            raise LoadError(msg)
    return requests_sent


def load_job_id(table_id: str, payload: bytes) -> str:
    """Return a load job id derived from the table and the exact batch payload."""
    digest = hashlib.sha256(table_id.encode() + b"\n" + payload).hexdigest()
    return f"target_bigquery_smart_{digest[:48]}"


def load_rows(client: bigquery.Client, table: bigquery.Table, rows: Sequence[dict[str, Any]]) -> str:
    """Load rows with one newline-delimited JSON load job (``WRITE_APPEND``).

    Args:
        client: BigQuery client.
        table: Destination table (with schema).
        rows: JSON-ready rows.

    Returns:
        The job id.

    Raises:
        LoadError: The job failed; the message gives its error reasons.
    """
    payload = "\n".join(to_json(row) for row in rows).encode()
    table_id = f"{table.project}.{table.dataset_id}.{table.table_id}"
    job_id = load_job_id(table_id, payload)
    job_config = bigquery.LoadJobConfig(
        source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
        write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
        schema=table.schema,
    )
    try:
        job = client.load_table_from_file(io.BytesIO(payload), table, job_config=job_config, job_id=job_id)
    except Conflict:
        # The same batch was submitted before (a retry after a lost response): wait for
        # that job rather than loading the rows twice.
        logger.info("Load job %s already exists; waiting for it instead of reloading.", job_id)
        job = client.get_job(job_id)
    try:
        job.result()
    except Exception as exc:
        reasons = "; ".join(f"{e.get('reason')}: {e.get('message')}" for e in (job.errors or [])[:10])
        msg = f"Load job {job_id} into {table_id} failed: {reasons or exc}"
        raise LoadError(msg) from exc
    return job_id


def insert_rows_smart(
    client: bigquery.Client,
    table: bigquery.Table,
    rows: Sequence[dict[str, Any]],
    row_ids: Sequence[str],
    *,
    streaming_threshold: int = DEFAULT_STREAMING_THRESHOLD,
) -> LoadResult:
    """Commit one batch: streaming insert below ``streaming_threshold`` rows, else a load job.

    Args:
        client: BigQuery client.
        table: Destination table (created, with schema).
        rows: JSON-ready rows (at most one batch).
        row_ids: One insertId per row (used by streaming inserts).
        streaming_threshold: Batches with fewer rows than this go by streaming insert.

    Returns:
        What was done.

    Raises:
        LoadError: BigQuery refused the rows.
    """
    if not rows:
        return LoadResult(rows=0, method="none", requests=0)
    if len(rows) < streaming_threshold:
        sent = stream_rows(client, table, rows, row_ids)
        return LoadResult(rows=len(rows), method="streaming", requests=sent)
    job_id = load_rows(client, table, rows)
    return LoadResult(rows=len(rows), method="load_job", requests=1, job_id=job_id)
