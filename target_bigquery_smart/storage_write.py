"""``write_method: storage_write``: rows appended through the BigQuery Storage Write API, at explicit offsets.

Append mode: one committed write stream per table per run; each batch is appended at the offset
of the rows appended before it, so rows are visible once the append is acknowledged and an
append sent again (its response was lost) answers ``ALREADY_EXISTS`` instead of writing the rows
twice ("Exactly-once delivery semantics",
https://cloud.google.com/bigquery/docs/write-api#exactly-once). Merge mode: each batch goes into
its staging table through a pending stream, finalized and committed (``BatchCommitWriteStreams``)
before the MERGE runs. Rows come as Arrow record batches (:mod:`.arrow_rows`).

Limits (https://cloud.google.com/bigquery/quotas#write-api-limits): an ``AppendRows`` request
may hold up to 10 MB; a batch larger than :data:`APPEND_MAX_BYTES` is split into several
appends, each at its own offset. A server that takes less (gRPC's default 4 MiB) says so, and
appends are cut below its limit from then on (:class:`AppendLimit`). A single row too large for
one request makes the rows of its batch not appended yet go by load job (rows of up to 100 MB),
never refused.

Batches read while an append is in flight wait and go together in the next append
(:meth:`.commits.CommitThread.submit_merged`, config ``storage_write_queued_batches``).

Row errors (``AppendRowsResponse.row_errors``): BigQuery appends nothing of such a request;
the rows named are refused with their reason (dead-letter table or a failure naming each
record, as for streaming inserts) and the others are appended again at the same offset.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import backoff
from google.api_core import exceptions as api_exceptions
from google.cloud import bigquery

from target_bigquery_smart.batch import RowError
from target_bigquery_smart.errors import LoadError

logger = logging.getLogger("target_bigquery_smart.loader")

#: Bytes of Arrow data per ``AppendRows`` request; BigQuery's limit is 10 MB, keep a margin for the envelope.
APPEND_MAX_BYTES = 9_000_000
#: gRPC status code of an append at an offset already written (google.rpc.Code.ALREADY_EXISTS).
ALREADY_EXISTS = 6
#: Seconds one AppendRows call may take before it is abandoned and sent again at the same offset
#: (a server that stops answering would otherwise hold the run for ever).
APPEND_TIMEOUT_SECONDS = 120.0
#: Longest time (seconds) a lost connection or an unavailable service is retried, as for the REST calls.
RETRY_SECONDS = 600.0
#: Errors after which the same request (same offset) is sent again: the connection or the
#: service failed, so the rows may or may not have been appended; the offset decides.
TRANSIENT = (
    api_exceptions.ServiceUnavailable,
    api_exceptions.DeadlineExceeded,
    api_exceptions.InternalServerError,
    api_exceptions.Aborted,
    ConnectionError,
)


#: gRPC's own message when a request passes the server's receive limit (grpc core,
#: ``message_size_filter``): "Received message larger than max (8087623 vs. 4194304)".
_SERVER_LIMIT = re.compile(r"larger than max \((\d+) vs\. (\d+)\)")


class AppendTooLargeError(Exception):
    """A single row is larger than one ``AppendRows`` request may be.

    Attributes:
        remaining: Indexes (in the batch) of the rows not appended: the whole batch when the
            row was found before anything was sent; fewer when the server's smaller limit
            was learned part-way through (:class:`AppendLimit`).
        outcome: What was appended of the batch before (rows refused, requests sent).
    """

    def __init__(self, remaining: list[int], outcome: AppendOutcome) -> None:
        super().__init__(f"row {remaining[0]} is too large for one AppendRows request")
        self.remaining = remaining
        self.outcome = outcome


class AppendLimit:
    """Bytes of Arrow data per ``AppendRows`` request, lowered when a server says its limit is smaller.

    BigQuery takes 10 MB a request; a gRPC server left at gRPC's default receive limit (4 MiB,
    as the local emulator is) refuses a larger one with RESOURCE_EXHAUSTED "Received message
    larger than max (N vs. M)" before reading it, so nothing of it was appended and the rows
    can go again, in smaller requests, at the same offset. Shared by a run's write streams.
    """

    def __init__(self) -> None:
        self.max_bytes = APPEND_MAX_BYTES

    def learn(self, error: Exception, schema_bytes: int) -> bool:
        """Lower :attr:`max_bytes` below the limit named in ``error``; False when it names none we can go under."""
        found = _SERVER_LIMIT.search(str(error))
        if found is None:
            return False
        # Arrow's serialised batch runs a little over its nbytes (padding, metadata): keep 10% spare.
        limit = int(int(found.group(2)) * 0.9) - schema_bytes - 1024
        if limit <= 0 or limit >= self.max_bytes:
            return False
        logger.info(
            "The Storage Write server takes at most %s bytes a request; appends are cut to %d bytes of rows.",
            found.group(2),
            limit,
        )
        self.max_bytes = limit
        return True


@dataclass
class AppendOutcome:
    """What appending one batch did.

    Attributes:
        rejected: Rows refused by BigQuery, by index in the batch, with reasons.
        requests: ``AppendRows`` requests sent (including retries).
        retries: Requests sent again after a lost response or refused rows.
        stream: The write stream's name (``projects/.../streams/...``).
    """

    rejected: list[RowError] = field(default_factory=list)
    requests: int = 0
    retries: int = 0
    stream: str = ""


def table_parent(table: bigquery.Table) -> str:
    """Return the Storage Write API name of a table: ``projects/p/datasets/d/tables/t``."""
    return f"projects/{table.project}/datasets/{table.dataset_id}/tables/{table.table_id}"


def _pieces(batch: Any, indexes: list[int], max_bytes: int = APPEND_MAX_BYTES) -> list[list[int]] | None:
    """Cut row indexes into runs whose Arrow data stays within ``max_bytes``; None when one row alone is over."""
    rows = batch.take(indexes) if len(indexes) != batch.num_rows else batch
    if rows.nbytes <= max_bytes:
        return [indexes]
    if len(indexes) == 1:
        return None
    half = len(indexes) // 2
    first, second = _pieces(batch, indexes[:half], max_bytes), _pieces(batch, indexes[half:], max_bytes)
    return None if first is None or second is None else first + second


class WriteStream:
    """One write stream of one table: its name, the table's columns it was opened for, its next offset.

    Args:
        client: ``BigQueryWriteClient``.
        table: The table (with its current schema).
        kind: ``"COMMITTED"`` (rows visible on acknowledgement) or ``"PENDING"`` (on commit).
        limit: Bytes per request, shared with the run's other streams (default: BigQuery's).
    """

    def __init__(self, client: Any, table: bigquery.Table, kind: str, limit: AppendLimit | None = None) -> None:
        from google.cloud.bigquery_storage_v1 import types

        from target_bigquery_smart.arrow_rows import arrow_schema

        self._client = client
        self._types = types
        self.limit = limit if limit is not None else AppendLimit()
        self.fields = tuple(table.schema)
        self.schema = arrow_schema(self.fields)
        self._serialized_schema = self.schema.serialize().to_pybytes()
        self.parent = table_parent(table)
        stream = client.create_write_stream(
            parent=self.parent, write_stream=types.WriteStream(type_=getattr(types.WriteStream.Type, kind))
        )
        self.name: str = stream.name
        #: Rows appended so far: the offset of the next append.
        self.offset = 0
        self.finalized = False

    def append(self, rows: Sequence[dict[str, Any]]) -> AppendOutcome:
        """Append rows at :attr:`offset`, each request retried at its own offset until acknowledged.

        Returns:
            The rows BigQuery refused (never appended) and the requests sent.

        Raises:
            AppendTooLargeError: A row is larger than one request may be; its ``remaining`` rows
                were not appended (the whole batch unless the server's limit was learned part-way).
            LoadError: BigQuery refused the append as a whole (the message names the stream,
                the offset and BigQuery's reason), or did not answer within :data:`RETRY_SECONDS`.
        """
        from target_bigquery_smart.arrow_rows import record_batch

        batch = record_batch(self.fields, self.schema, rows)
        outcome = AppendOutcome(stream=self.name)
        everything = list(range(len(rows)))
        pieces = _pieces(batch, everything, self.limit.max_bytes)  # checked whole before anything is sent
        if pieces is None:
            raise AppendTooLargeError(everything, outcome)
        queue = deque(pieces)
        while queue:
            pending = queue.popleft()
            try:
                refused = self._append_piece(batch, pending, outcome)
            except api_exceptions.ResourceExhausted as exc:
                if not self.limit.learn(exc, len(self._serialized_schema)):
                    raise
                # Nothing of the refused request was read; it and every piece after it go again, cut smaller.
                outcome.retries += 1
                unsent = [pending, *queue]
                smaller = [_pieces(batch, piece, self.limit.max_bytes) for piece in unsent]
                if any(cut is None for cut in smaller):
                    outcome.rejected.sort(key=lambda e: e.index)
                    raise AppendTooLargeError([i for piece in unsent for i in piece], outcome) from exc
                queue = deque(cut for cuts in smaller for cut in cuts)
                continue
            if refused:
                outcome.rejected.extend(refused)
                gone = {e.index for e in refused}
                pending = [i for i in pending if i not in gone]
                if pending:
                    outcome.retries += 1
                    queue.appendleft(pending)
        outcome.rejected.sort(key=lambda e: e.index)
        return outcome

    def _append_piece(self, batch: Any, indexes: list[int], outcome: AppendOutcome) -> list[RowError]:
        """Append rows ``indexes`` of ``batch`` at the current offset; return rows refused (then none was appended)."""
        types = self._types
        rows = batch.take(indexes) if len(indexes) != batch.num_rows else batch
        request = types.AppendRowsRequest(
            write_stream=self.name,
            offset=self.offset,
            arrow_rows=types.AppendRowsRequest.ArrowData(
                writer_schema=types.ArrowSchema(serialized_schema=self._serialized_schema),
                rows=types.ArrowRecordBatch(serialized_record_batch=rows.serialize().to_pybytes()),
            ),
        )
        attempts = [0]

        def send() -> Any:
            attempts[0] += 1
            return send_append(self._client, request)

        response = backoff.on_exception(backoff.expo, TRANSIENT, max_time=RETRY_SECONDS, max_value=30, logger=logger)(
            send
        )()
        outcome.requests += attempts[0]
        outcome.retries += attempts[0] - 1
        if response.row_errors:
            return [
                RowError(indexes[e.index], (f"{types.RowError.RowErrorCode(e.code).name.lower()}: {e.message}",))
                for e in response.row_errors
            ]
        code = response.error.code if "error" in response else 0
        if code == ALREADY_EXISTS:
            # The rows at this offset are in the stream: an earlier attempt whose response was lost.
            logger.info("Rows at offset %d of %s were already appended; not sent again.", self.offset, self.name)
        elif code:
            msg = (
                f"Storage Write append to {self.parent} (write stream {self.name}, offset {self.offset}, "
                f"{len(indexes)} rows) failed: {response.error.message} (gRPC code {code})."
            )
            raise LoadError(msg)
        self.offset += len(indexes)
        return []

    def finalize(self) -> None:
        """Finalize the stream (no more appends); once only."""
        if not self.finalized:
            self._client.finalize_write_stream(name=self.name)
            self.finalized = True

    def commit(self) -> None:
        """Commit a finalized pending stream's rows to its table (``BatchCommitWriteStreams``).

        Raises:
            LoadError: BigQuery refused the commit and the stream is not committed.
        """
        response = self._client.batch_commit_write_streams(
            request={"parent": self.parent, "write_streams": [self.name]}
        )
        if response.stream_errors:
            # A commit sent again after a lost response is refused; the stream says it is committed.
            if self._client.get_write_stream(name=self.name).commit_time:
                return
            reasons = "; ".join(e.error_message for e in response.stream_errors)
            msg = f"Storage Write commit of {self.name} into {self.parent} failed: {reasons}."
            raise LoadError(msg)


def send_append(client: Any, request: Any) -> Any:
    """Send one ``AppendRows`` request on a call of its own and return its one response.

    The routing header names the stream, as BigQuery asks of every AppendRows call.

    Raises:
        google.api_core.exceptions.GoogleAPICallError: The call failed (lost connection: ServiceUnavailable).
    """
    metadata = (("x-goog-request-params", f"write_stream={request.write_stream}"),)
    responses = list(client.append_rows(iter([request]), metadata=metadata, timeout=APPEND_TIMEOUT_SECONDS))
    if not responses:
        msg = "AppendRows call ended without a response"
        raise api_exceptions.ServiceUnavailable(msg)
    return responses[0]


class StorageWrites:
    """The run's Storage Write API client and its committed write streams, one per table.

    Args:
        make_client: Builds the ``BigQueryWriteClient`` on first use (raises a config error naming
            the extra when the library is missing).
    """

    def __init__(self, make_client: Any) -> None:
        self._make_client = make_client
        self._client: Any = None
        self._streams: dict[str, WriteStream] = {}
        self._lock = threading.Lock()
        #: Bytes per append, shared by the run's streams (lowered if the server takes less).
        self.limit = AppendLimit()
        #: Monotonic time of the newest acknowledged append whose STATE is not written yet.
        self._unreported_ack: float | None = None
        #: Longest seconds from an append's acknowledgement to the next STATE written (the
        #: window in which a killed run has committed rows its STATE does not cover).
        self.longest_ack_to_state = 0.0

    @property
    def client(self) -> Any:
        """The ``BigQueryWriteClient``, built on first use."""
        with self._lock:
            if self._client is None:
                self._client = self._make_client()
            return self._client

    def append(self, table: bigquery.Table, rows: Sequence[dict[str, Any]]) -> AppendOutcome:
        """Append one batch to the table's committed stream (a new stream when the table gained columns).

        Raises:
            AppendTooLargeError, LoadError: See :meth:`WriteStream.append`.
        """
        client = self.client
        key = table_parent(table)
        stream = self._streams.get(key)
        if stream is not None and stream.fields != tuple(table.schema):
            # A stream writes the columns the table had when it was opened: new columns need a new stream.
            stream.finalize()
            stream = None
        if stream is None:
            stream = self._streams[key] = WriteStream(client, table, "COMMITTED", self.limit)
        outcome = stream.append(rows)
        with self._lock:
            self._unreported_ack = time.monotonic()
        return outcome

    def stage(self, staging: bigquery.Table, rows: Sequence[dict[str, Any]]) -> list[RowError]:
        """Fill a staging table through a pending stream: append, finalize, commit (for a MERGE after it).

        Returns:
            Rows refused, by index in ``rows``.

        Raises:
            AppendTooLargeError, LoadError: See :meth:`WriteStream.append` and :meth:`WriteStream.commit`.
        """
        stream = WriteStream(self.client, staging, "PENDING", self.limit)
        outcome = stream.append(rows)
        stream.finalize()
        if stream.offset:
            stream.commit()
        return outcome.rejected

    def state_written(self) -> None:
        """Note that a STATE line reached stdout: measures the window since the newest append's acknowledgement."""
        with self._lock:
            if self._unreported_ack is not None:
                self.longest_ack_to_state = max(self.longest_ack_to_state, time.monotonic() - self._unreported_ack)
                self._unreported_ack = None

    def finalize_all(self) -> int:
        """Finalize every committed stream of the run not finalized yet (end of input); return how many."""
        streams = [stream for stream in self._streams.values() if not stream.finalized]
        for stream in streams:
            stream.finalize()
        return len(streams)
