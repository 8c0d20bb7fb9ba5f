"""``write_mode: merge``: upsert a batch by key through a staging table and a MERGE query."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from google.cloud import bigquery

from plugin_kit.fastjson import dumps_lines
from target_bigquery_smart.batch import RowError
from target_bigquery_smart.errors import RowTooLargeError
from target_bigquery_smart.load_jobs import check_row_sizes, content_job_id, load_rows, run_idempotent, table_path
from target_bigquery_smart.row_sizes import MAX_LOAD_ROW_BYTES
from target_bigquery_smart.rows import KEY_HASH_COLUMN
from target_bigquery_smart.storage_write import AppendTooLargeError
from target_bigquery_smart.tables import MAX_TABLE_NAME

logger = logging.getLogger("target_bigquery_smart.loader")

#: Staging tables are named ``<table>__staging_<16 hex digits>``.
STAGING_SUFFIX = "__staging_"
#: Lifetime of a staging table: dropped after its MERGE, or by BigQuery after this if the run
#: was killed in between.
STAGING_EXPIRY = timedelta(days=1)


def _quote(name: str) -> str:
    return f"`{name}`"


def staging_table_name(table_id: str, batch_label: str, payload: bytes) -> str:
    """Return the staging table name for one batch of a MERGE: ``<table>__staging_<16 hex digits>``.

    Named for this batch of this run (the digits hash the table, the batch label and the
    rows): a later batch of the same content (a key flapping a -> b -> a) gets its own staging
    table and load job instead of the earlier one's. The table's name is cut so that the whole
    stays within BigQuery's 1,024 characters.
    """
    digest = hashlib.sha256(f"{table_id}\n{batch_label}\n".encode() + payload).hexdigest()[:16]
    name = table_id.rsplit(".", 1)[-1]
    return f"{name[: MAX_TABLE_NAME - len(STAGING_SUFFIX) - len(digest)]}{STAGING_SUFFIX}{digest}"


def merge_rows(
    client: bigquery.Client,
    table: bigquery.Table,
    rows: Sequence[dict[str, Any]],
    *,
    batch_label: str = "",
    job_timeout: float | None = None,
    stage: Callable[[bigquery.Table, list[dict[str, Any]]], list[RowError]] | None = None,
    rejected: list[RowError] | None = None,
) -> str:
    """Upsert rows by ``_sdc_key_hash``: load them into a staging table, MERGE, drop it.

    Rows with the same key in the batch are reduced to the last one first. Streaming insert
    is never used here: rows in the streaming buffer block MERGE for up to 90 minutes.

    Args:
        client: BigQuery client.
        table: Destination table (with the ``_sdc_key_hash`` column).
        rows: JSON-ready rows, in stream order.
        batch_label: Identifies the batch within the run, for job ids.
        job_timeout: Seconds each of the two jobs may take, None: no limit.
        stage: Fills the staging table instead of a load job, returning the rows it refused by
            index (the Storage Write API's pending stream, :meth:`StorageWrites.stage`).
        rejected: Receives the rows ``stage`` refused, by index in ``rows``; they are not merged.

    Returns:
        The MERGE job id.

    Raises:
        RowTooLargeError: A row is over :data:`MAX_LOAD_ROW_BYTES` (nothing is sent).
        JobDeadlineError: The staging load or the MERGE was not done within ``job_timeout``.
        LoadError: The staging load or the MERGE failed.
    """
    latest: dict[str, int] = {}
    for index, row in enumerate(rows):
        latest.pop(row[KEY_HASH_COLUMN], None)  # re-insert so the last occurrence keeps its order
        latest[row[KEY_HASH_COLUMN]] = index
    positions = list(latest.values())
    unique = [rows[i] for i in positions]
    payload = dumps_lines(unique)
    if len(payload) > MAX_LOAD_ROW_BYTES:
        try:
            check_row_sizes(payload)
        except RowTooLargeError as exc:
            raise RowTooLargeError([RowError(positions[e.index], e.reasons) for e in exc.rejected]) from None
    table_id = table_path(table)
    staging_id = f"{table.project}.{table.dataset_id}.{staging_table_name(table_id, batch_label, payload)}"
    new_staging = bigquery.Table(staging_id, schema=table.schema)
    # A run killed before the drop below leaves the table; BigQuery deletes it after a day.
    new_staging.expires = datetime.now(UTC) + STAGING_EXPIRY
    staging = client.create_table(new_staging, exists_ok=True)
    try:
        staged = False
        if stage is not None:
            try:
                refused = stage(staging, unique)
            except AppendTooLargeError:
                # The pending stream was never committed, so the staging table is still empty.
                logger.info("A row is too large for one Storage Write append; staging the batch by load job.")
            else:
                staged = True
                if rejected is not None:
                    rejected.extend(RowError(positions[e.index], e.reasons) for e in refused)
        if not staged:
            load_rows(
                client,
                staging,
                unique,
                write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
                batch_label=batch_label,
                job_timeout=job_timeout,
            )
        columns = [f.name for f in table.schema]
        updates = ", ".join(f"{_quote(c)} = S.{_quote(c)}" for c in columns if c != KEY_HASH_COLUMN)
        names = ", ".join(_quote(c) for c in columns)
        values = ", ".join(f"S.{_quote(c)}" for c in columns)
        # Identifiers come from the table's own schema, quoted; no values are formatted in.
        sql = (
            f"MERGE `{table_id}` T USING `{staging_id}` S ON T.{KEY_HASH_COLUMN} = S.{KEY_HASH_COLUMN} "  # noqa: S608
            f"WHEN MATCHED THEN UPDATE SET {updates} "
            f"WHEN NOT MATCHED THEN INSERT ({names}) VALUES ({values})"
        )
        job_id = content_job_id("merge", f"{table_id}\n{batch_label}", payload)
        run_idempotent(
            client,
            job_id,
            lambda: client.query(sql, job_id=job_id, job_retry=None),
            f"MERGE into {table_id}",
            timeout=job_timeout,
        )
    finally:
        client.delete_table(staging_id, not_found_ok=True)
    return job_id
