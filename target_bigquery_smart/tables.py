"""Tables: a stream's table name, creating datasets and tables, adding columns, and layout checks.

Every call goes through ``google-cloud-bigquery``.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

import requests
from google.api_core.exceptions import BadRequest, Conflict, NotFound, PreconditionFailed, RetryError
from google.cloud import bigquery
from google.cloud.bigquery.retry import DEFAULT_RETRY

from target_bigquery_smart.errors import BigQueryUnreachableError, InputError, LoadError, api_error_text, cut
from target_bigquery_smart.rows import KEY_HASH_COLUMN
from target_bigquery_smart.schema import merge_schema

logger = logging.getLogger("target_bigquery_smart.loader")
T = TypeVar("T")

#: Longest table name BigQuery accepts, in characters ("Table naming" in the BigQuery docs:
#: https://cloud.google.com/bigquery/docs/tables#table_naming).
MAX_TABLE_NAME = 1024
#: Seconds the run's first BigQuery call is retried (the client's default is 600 s).
FIRST_CALL_TIMEOUT_SECONDS = 60.0
#: Times a schema update is tried when other writers change the table at the same time (each
#: failed attempt means another writer's update succeeded, so N writers need at most N attempts).
SCHEMA_UPDATE_ATTEMPTS = 10
#: Column types BigQuery can cluster a table on (not FLOAT64, BYTES, JSON, RECORD or repeated;
#: https://cloud.google.com/bigquery/docs/clustered-tables#cluster_column_types).
CLUSTERABLE_TYPES = frozenset(
    {
        "STRING",
        "INTEGER",
        "INT64",
        "NUMERIC",
        "BIGNUMERIC",
        "DATE",
        "DATETIME",
        "TIMESTAMP",
        "BOOLEAN",
        "BOOL",
        "GEOGRAPHY",
    }
)


def table_name(stream_name: str) -> str:
    """Return a BigQuery table name for a stream.

    Characters other than letters, digits and ``_`` become ``_`` (``public-users`` -> ``public_users``).
    The name is not cut: the target refuses a stream whose table name is over BigQuery's 1,024
    characters rather than load two streams into one table.
    """
    return re.sub(r"[^A-Za-z0-9_]", "_", stream_name)


def check_layout(table_id: str, existing: list, *, flatten: bool, merge: bool) -> None:
    """Refuse to load into an existing table of another layout or write mode.

    Mixing would leave rows of two shapes in one table, or (merge into a table loaded in
    append mode) rows without the MERGE key that no later MERGE would ever match.

    Raises:
        LoadError: The table's columns show another layout or mode; the message says which.
    """
    if not existing:
        return
    names = {f.name for f in existing}
    if flatten and "raw_data" in names:
        msg = (
            f"Table {table_id} has the raw layout (a raw_data column) and flatten is true: the two layouts "
            "would be mixed in one table. Load into another table (rename the stream) or drop this one."
        )
        raise LoadError(msg)
    if not flatten and "raw_data" not in names:
        msg = (
            f"Table {table_id} has the flattened layout (no raw_data column) and flatten is false: the two "
            "layouts would be mixed in one table. Set flatten: true, load into another table, or drop this one."
        )
        raise LoadError(msg)
    if merge and KEY_HASH_COLUMN not in names:
        msg = (
            f"Table {table_id} was loaded in append mode (no {KEY_HASH_COLUMN} column); write_mode merge "
            "would never match its rows. Load into another table or drop this one."
        )
        raise LoadError(msg)


def ensure_table(
    client: bigquery.Client,
    table_id: str,
    schema: Sequence[bigquery.SchemaField],
    *,
    location: str | None = None,
    partition_field: str | None = None,
    cluster_fields: Sequence[str] = (),
) -> bigquery.Table:
    """Create the dataset and the table when missing, or add missing columns; return the table.

    Args:
        client: BigQuery client.
        table_id: ``project.dataset.table``.
        schema: Columns wanted. Columns the table lacks are added (NULLABLE, so existing rows
            read NULL); existing columns are never changed.
        location: Dataset location for a new dataset.
        partition_field: TIMESTAMP column for day partitioning of a new table, or None.
        cluster_fields: Clustering columns of a new table (at most 4).

    Returns:
        The table as it exists in BigQuery.
    """
    try:
        table = client.get_table(table_id)
    except NotFound:
        project, dataset, _ = table_id.split(".")
        dataset_ref = bigquery.Dataset(f"{project}.{dataset}")
        if location:
            dataset_ref.location = location
        _create_or_read(
            lambda: client.create_dataset(dataset_ref, exists_ok=True), lambda: client.get_dataset(dataset_ref)
        )
        new = bigquery.Table(table_id, schema=list(schema))
        if partition_field:
            new.time_partitioning = bigquery.TimePartitioning(
                type_=bigquery.TimePartitioningType.DAY, field=partition_field
            )
        if cluster_fields:
            new.clustering_fields = list(cluster_fields)[:4]
        created = _create_or_read(lambda: client.create_table(new, exists_ok=True), lambda: client.get_table(table_id))
        return add_columns(client, created, schema)
    return add_columns(client, table, schema)


def _create_or_read(create: Callable[[], T], read: Callable[[], T]) -> T:
    """Create a dataset or table that another writer may be creating at the same moment.

    BigQuery answers the writer that loses the race 409, which ``exists_ok`` turns into a read.
    The local emulator answers 400 (its storage refuses the second of two concurrent commits);
    when the object exists after such an answer, it was created meanwhile and is read instead.

    Raises:
        google.api_core.exceptions.BadRequest: The create failed and the object does not exist.
    """
    try:
        return create()
    except BadRequest:
        try:
            return read()
        except NotFound:
            pass
        raise


def _changed_meanwhile(exc: Exception) -> bool:
    """Return whether ``exc`` says another writer changed the table between our read and our update."""
    if isinstance(exc, PreconditionFailed | Conflict):
        return True  # 412: the etag we read is stale; 409: the change was already made
    text = str(exc).lower()
    return isinstance(exc, BadRequest) and ("already exists" in text or "duplicate" in text)


def add_columns(
    client: bigquery.Client, table: bigquery.Table, schema: Sequence[bigquery.SchemaField]
) -> bigquery.Table:
    """Add the columns of ``schema`` that ``table`` lacks; safe with other writers changing it at once.

    The update is sent with the table's etag (``If-Match``), so BigQuery refuses it with 412 when
    another writer (another task loading the same table) changed the schema since it was read. Then
    the table is read again and the columns still missing are added, up to
    :data:`SCHEMA_UPDATE_ATTEMPTS` times: two writers adding the same column both succeed.

    Returns:
        The table as it exists in BigQuery after the update.

    Raises:
        google.api_core.exceptions.PreconditionFailed: Other writers changed the table on every attempt.
    """
    table_id = f"{table.project}.{table.dataset_id}.{table.table_id}"
    for attempt in range(1, SCHEMA_UPDATE_ATTEMPTS + 1):
        merged = merge_schema(table.schema, schema)
        if merged is None:
            return table
        added = sorted({f.name for f in merged} - {f.name for f in table.schema})
        table.schema = merged
        try:
            table = client.update_table(table, ["schema"])
        except (PreconditionFailed, Conflict, BadRequest) as exc:
            if not _changed_meanwhile(exc) or attempt == SCHEMA_UPDATE_ATTEMPTS:
                raise
            logger.info("Table %s changed while adding columns (%s); reading it again.", table_id, type(exc).__name__)
            table = client.get_table(table_id)
            continue
        logger.info("Added columns to %s: %s", table_id, ", ".join(added) or "(nested fields)")
        return table
    return table


class Tables:
    """The run's tables: which stream owns each, their schemas, and creating them one at a time.

    Args:
        client: The run's BigQuery client.
        location: Dataset location for new datasets.
        endpoint: ``api_endpoint``, named when BigQuery cannot be reached.
    """

    def __init__(self, client: bigquery.Client, *, location: str | None, endpoint: str | None) -> None:
        self.client = client
        self._location = location
        self._endpoint = endpoint
        self._lock = threading.Lock()
        self._owners: dict[str, str] = {}

    def schema(self, table_id: str) -> list[bigquery.SchemaField]:
        """Return the current schema of ``table_id``, or ``[]`` when it does not exist.

        This is the run's first BigQuery call; its retries stop after 60 s (the client's default
        is 600 s), so a wrong or unreachable endpoint fails within a minute. Later calls keep
        the client's longer retries for transient errors mid-run.

        Raises:
            BigQueryUnreachableError: BigQuery did not answer; the message names the endpoint.
        """
        try:
            retry = DEFAULT_RETRY.with_timeout(FIRST_CALL_TIMEOUT_SECONDS)
            return list(self.client.get_table(table_id, retry=retry).schema)
        except NotFound:
            return []
        except (RetryError, requests.RequestException) as exc:
            # RetryError: retried for a minute; others (TLS to a plain-HTTP endpoint, a bad
            # certificate) are not retried by the client.
            where = self._endpoint or "the BigQuery API"
            retried = f" (retried for {FIRST_CALL_TIMEOUT_SECONDS:g} s)" if isinstance(exc, RetryError) else ""
            cause = exc.cause if isinstance(exc, RetryError) and exc.cause else exc
            text = f"{type(cause).__name__}: {api_error_text(cause)}"
            msg = (
                f"Cannot reach {where} to read table {table_id}{retried}: {text}. Check api_endpoint, the network, "
                "the proxy and the credentials."
            )
            raise BigQueryUnreachableError(msg) from None

    def ensure(
        self,
        table_id: str,
        schema: Sequence[bigquery.SchemaField],
        *,
        partition_field: str | None = None,
        cluster_fields: Sequence[str] = (),
    ) -> bigquery.Table:
        """Create the dataset and table when missing, or add missing columns (:func:`ensure_table`).

        Serialised with a lock: sinks drain in parallel, and concurrent ``datasets.insert``
        calls for one dataset can fail.
        """
        with self._lock:
            return ensure_table(
                self.client,
                table_id,
                schema,
                location=self._location,
                partition_field=partition_field,
                cluster_fields=cluster_fields,
            )

    def claim(self, stream_name: str) -> None:
        """Refuse streams whose names give an empty table name or another stream's table.

        Raises:
            InputError: The stream's table name is empty, longer than BigQuery accepts (1,024
                characters), or already used by another stream.
        """
        table = table_name(stream_name)
        if not table.strip("_"):
            msg = f"Stream name {stream_name!r} gives no usable table name (letters, digits or _ needed)."
            raise InputError(msg, stream=stream_name)
        if len(table) > MAX_TABLE_NAME:
            msg = (
                f"Stream name {cut(stream_name, 100)!r} gives a table name of {len(table):,} characters; BigQuery "
                f"accepts at most {MAX_TABLE_NAME:,}. Rename the stream (for example with a stream map alias)."
            )
            raise InputError(msg, stream=stream_name)
        owner = self._owners.setdefault(table, stream_name)
        if owner != stream_name:
            msg = (
                f"Streams {owner!r} and {stream_name!r} would both load into table {table!r}; "
                "rename one of them (for example with a stream map alias)."
            )
            raise InputError(msg, stream=stream_name)


def cluster_columns(
    columns: Sequence, key_properties: Sequence[str], *, merge: bool, stream: str, log: logging.Logger
) -> list[str]:
    """Return the columns to cluster a new table on for ``cluster_on_key_fields``; warn what is skipped.

    Args:
        columns: The shaper's columns (``source``, ``name``, ``type``, ``repeated``).
        key_properties: The stream's key properties.
        merge: ``write_mode`` merge: without clusterable key columns, cluster on the key hash.
        stream: Named in warnings.
        log: The stream's logger, for the warnings.
    """
    by_source = {c.source: c for c in columns}
    keys = [by_source[k] for k in key_properties if k in by_source]
    cluster = [c.name for c in keys if not c.repeated and c.type in CLUSTERABLE_TYPES]
    skipped = [c.name for c in keys if c.name not in cluster]
    if skipped:
        log.warning(
            "Stream '%s': key column(s) %s cannot cluster a table (BigQuery clusters only on %s); clustering on %s.",
            stream,
            skipped,
            ", ".join(sorted(CLUSTERABLE_TYPES)),
            cluster or "nothing",
        )
    if not cluster and merge:
        cluster = [KEY_HASH_COLUMN]
    if not cluster:
        log.warning(
            "Stream '%s': cluster_on_key_fields needs key columns (flatten: true) or write_mode merge; the table "
            "is not clustered.",
            stream,
        )
    return cluster
