"""How rows reach BigQuery: streaming insert, load job, or staging + MERGE, chosen per batch.

Small batches go by streaming insert (:mod:`.streaming`), larger ones by load job
(:mod:`.load_jobs`), and ``write_mode: merge`` batches through a staging table and MERGE
(:mod:`.merge`). Every call goes through ``google-cloud-bigquery``. Every path is idempotent:

* streaming inserts send explicit insertIds (``row_ids``), so a request retried by the client
  after a lost response is de-duplicated by BigQuery (best effort, for at least one minute);
  rows BigQuery did not try (reason ``stopped``, because another row of the request was
  invalid) are sent again with the same insertIds;
* load jobs and MERGE queries get a job id derived from the run, the stream, the batch's
  number in the run, the table and the batch content, so one submitted again after a timeout
  answers ``409 Already Exists`` and the existing job is awaited instead of writing the rows
  twice, while another batch (even of the same content, in this run or another) never shares
  an id.

Limits (BigQuery documentation, "Quotas and limits", https://cloud.google.com/bigquery/quotas):
at most 500 rows (recommended) and 10 MB per insertAll request, and 10 MB per streamed row; a
row of a JSON load job may be up to 100 MB. A batch holding a row too large for one insertAll
request goes by load job; a row over 100 MB is refused before anything of its batch is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from google.cloud import bigquery

from target_bigquery_smart.batch import RowError
from target_bigquery_smart.errors import JobDeadlineError, LoadError, RowTooLargeError
from target_bigquery_smart.load_jobs import load_job_id, load_rows
from target_bigquery_smart.merge import merge_rows, staging_table_name
from target_bigquery_smart.quota import JobBudget
from target_bigquery_smart.row_sizes import MAX_LOAD_ROW_BYTES, streaming_sizes
from target_bigquery_smart.settings import DEFAULT_STREAMING_THRESHOLD, DEFAULTS
from target_bigquery_smart.storage_write import AppendTooLargeError, StorageWrites
from target_bigquery_smart.streaming import STREAMING_MAX_BYTES, stream_rows
from target_bigquery_smart.tables import ensure_table

#: Names other modules and tests reach through this module: the write path's one door.
__all__ = [
    "MAX_LOAD_ROW_BYTES",
    "JobDeadlineError",
    "LoadError",
    "LoadResult",
    "RowError",
    "RowTooLargeError",
    "bigquery",
    "ensure_table",
    "insert_rows_smart",
    "load_job_id",
    "load_rows",
    "merge_rows",
    "staging_table_name",
    "stream_rows",
]

logger = logging.getLogger("target_bigquery_smart.loader")


@dataclass
class LoadResult:
    """What one :func:`insert_rows_smart` call did.

    Attributes:
        rows: Rows committed.
        method: ``"streaming"``, ``"load_job"``, ``"storage_write"`` or ``"merge"``.
        requests: insertAll or AppendRows requests sent, or jobs run.
        job_id: The load or MERGE job id, or None for streaming.
        rejected: Rows refused (streaming and Storage Write; a load job is all or nothing).
        retries: Requests sent again: ``stopped`` rows re-sent, or a job found already
            submitted (409) and awaited.
        deferred: The rows went into a coalesced load job, committed later (``method`` is
            ``"coalesce"``; the batch is not committed yet).
    """

    rows: int
    method: str
    requests: int
    job_id: str | None = None
    rejected: list[RowError] = field(default_factory=list)
    retries: int = 0
    deferred: bool = False


def insert_rows_smart(  # noqa: PLR0913 - the facade takes every setting of the write path
    client: bigquery.Client,
    table: bigquery.Table,
    rows: Sequence[dict[str, Any]],
    row_ids: Sequence[str] | Callable[[], Sequence[str]] | None,
    *,
    streaming_threshold: int = DEFAULT_STREAMING_THRESHOLD,
    merge: bool = False,
    batch_label: str = "",
    compress: bool = False,
    on_request: Callable[[], object] | None = None,
    job_timeout: float | None = None,
    write_method: str = DEFAULTS["write_method"],
    storage: StorageWrites | None = None,
    budget: JobBudget | None = None,
    coalesce: Callable[[bigquery.Table, Sequence[dict[str, Any]], str], None] | None = None,
) -> LoadResult:
    """Commit one batch by the path ``write_method`` and the table's job budget choose.

    ``smart``: streaming insert below ``streaming_threshold`` rows, a load job otherwise, and
    also for a batch holding a row too large for one insertAll request. ``load_job`` and
    ``streaming`` always take that path (streaming still loads a batch with a too large row);
    ``storage_write`` appends through ``storage`` (:mod:`.storage_write`), and loads a batch
    with a row too large for one append. In merge mode every batch is upserted by MERGE, its
    staging table filled by load job or, with ``storage_write``, a pending stream. Once the
    table's ``budget`` of load jobs is spent, its batches go by :meth:`JobBudget.take`'s path.

    Args:
        client: BigQuery client.
        table: Destination table (created, with schema).
        rows: JSON-ready rows (at most one batch).
        row_ids: One insertId per row, or a callable returning them; needed only when the batch
            goes by streaming insert, else may be None.
        streaming_threshold: With ``smart``, batches with fewer rows go by streaming insert.
        merge: Upsert by key through a staging table.
        batch_label: Identifies the batch within the run, for job ids.
        compress: gzip load-job uploads (see :func:`load_rows`).
        on_request: Called once, just before the batch's first request is sent.
        job_timeout: Seconds a load job or MERGE may take, None: no limit.
        write_method: ``smart``, ``storage_write``, ``load_job`` or ``streaming``.
        storage: The run's Storage Write API streams (needed for ``storage_write`` or the switch to it).
        budget: The run's load-job budget per table, or None for no limit.
        coalesce: Streams a batch into the stream's coalesced load job (``(table, rows, batch_label)``),
            for batches past the budget without the Storage Write API.

    Returns:
        What was done, including rows BigQuery refused (streaming and Storage Write only).

    Raises:
        RowTooLargeError: A row is over BigQuery's row size limit; nothing of the batch is sent.
        JobDeadlineError: A load job or MERGE was not done within ``job_timeout``.
        LoadError: A load job, MERGE or append failed.
        ValueError: The batch goes by streaming insert and ``row_ids`` is None.
    """
    if not rows:
        return LoadResult(rows=0, method="none", requests=0)
    table_id = f"{table.project}.{table.dataset_id}.{table.table_id}"
    if merge:
        if budget is not None:
            budget.take(table_id, merge=True)
        if on_request is not None:
            on_request()
        rejected: list[RowError] = []
        stage = storage.stage if storage is not None and write_method == "storage_write" else None
        job_id = merge_rows(
            client, table, rows, batch_label=batch_label, job_timeout=job_timeout, stage=stage, rejected=rejected
        )
        return LoadResult(rows=len(rows) - len(rejected), method="merge", requests=2, job_id=job_id, rejected=rejected)
    method = write_method
    if method == "smart":
        method = "streaming" if len(rows) < streaming_threshold else "load_job"
    if method == "load_job" and budget is not None:
        method = budget.take(table_id) or method
    if method == "coalesce" and coalesce is not None:
        coalesce(table, rows, batch_label)
        return LoadResult(rows=len(rows), method="coalesce", requests=0, deferred=True)
    if method == "storage_write" and storage is not None:
        if on_request is not None:
            on_request()
        try:
            outcome = storage.append(table, rows)
        except AppendTooLargeError as too_large:
            if too_large.outcome.requests:
                return _load_rest(
                    client, table, rows, too_large, batch_label=batch_label, compress=compress, job_timeout=job_timeout
                )
            logger.info("A row is too large for one Storage Write append (10 MB); loading the batch by load job.")
        else:
            return LoadResult(
                rows=len(rows) - len(outcome.rejected),
                method="storage_write",
                requests=outcome.requests,
                rejected=outcome.rejected,
                retries=outcome.retries,
            )
    elif method == "streaming":
        ids = row_ids() if callable(row_ids) else row_ids
        if ids is None:
            msg = "a streaming insert needs one insertId per row (row_ids)"
            raise ValueError(msg)
        sizes = streaming_sizes(rows, ids)
        if max(sizes) <= STREAMING_MAX_BYTES:
            if on_request is not None:
                on_request()
            sent, rejected, resent = stream_rows(client, table, rows, ids, sizes)
            return LoadResult(
                rows=len(rows) - len(rejected), method="streaming", requests=sent, rejected=rejected, retries=resent
            )
        logger.info(
            "A row of %d bytes is too large for a streaming insert (10 MB per request); loading the batch by load job.",
            max(sizes),
        )
    job_id = load_rows(
        client,
        table,
        rows,
        batch_label=batch_label,
        compress=compress,
        on_request=on_request,
        job_timeout=job_timeout,
    )
    return LoadResult(rows=len(rows), method="load_job", requests=1, job_id=job_id)


def _load_rest(
    client: bigquery.Client,
    table: bigquery.Table,
    rows: Sequence[dict[str, Any]],
    too_large: AppendTooLargeError,
    *,
    batch_label: str,
    compress: bool,
    job_timeout: float | None,
) -> LoadResult:
    """Load by load job the rows of a batch not appended before a row too large for the server turned up.

    Part of the batch is in the committed write stream already (the server's request limit was
    learned part-way); loading the whole batch would store those rows twice.
    """
    done = too_large.outcome
    logger.info(
        "A row is too large for one Storage Write append on this server; %d rows appended, "
        "loading the other %d of the batch by load job.",
        len(rows) - len(too_large.remaining) - len(done.rejected),
        len(too_large.remaining),
    )
    rest = [rows[i] for i in too_large.remaining]
    job_id = load_rows(client, table, rest, batch_label=batch_label, compress=compress, job_timeout=job_timeout)
    return LoadResult(
        rows=len(rows) - len(done.rejected),
        method="storage_write",
        requests=done.requests + 1,
        job_id=job_id,
        rejected=done.rejected,
        retries=done.retries,
    )
