"""Several batches in one load job: their rows streamed into one resumable upload, committed as one job.

Used once a table's load-job budget is down to its last job and the Storage Write API is not
available (:mod:`.quota`): the remaining batches of the stream go into that job. The upload
is ``google-cloud-bigquery``'s own resumable upload (``load_table_from_file`` without a size),
which reads the rows in chunks of its chunk size (100 MB) from a pipe the batches are written
into, so memory holds about one chunk however many batches the job takes. The job is committed
when the stream's batches end (end of input, a changed SCHEMA, a bad input line); STATE after
any of its batches is held until then.

The pipe cannot seek back, so an upload chunk that fails after the client's own retries fails
the job: no STATE past its first batch is written and the next run sends the rows again.
"""

from __future__ import annotations

import io
import queue
import threading
from collections.abc import Sequence
from typing import Any

from google.cloud import bigquery

from plugin_kit.fastjson import dumps_lines
from target_bigquery_smart.errors import LoadError
from target_bigquery_smart.load_jobs import check_row_sizes, load_job_id, run_idempotent, table_path
from target_bigquery_smart.row_sizes import MAX_LOAD_ROW_BYTES

#: Batches of rows waiting for the upload to read them (each up to batch_max_bytes).
PIPE_DEPTH = 2


class RowPipe(io.RawIOBase):
    """A one-way file: batches written in, the upload reads exactly the bytes it asks for (fewer only at the end).

    The resumable upload takes a short read as the end of the data, so :meth:`read` waits for
    ``size`` bytes or the close of the writing side.
    """

    def __init__(self) -> None:
        super().__init__()
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=PIPE_DEPTH)
        self._pending = b""
        self._ended = False
        self._position = 0

    def readable(self) -> bool:
        """Return True: the upload reads from it."""
        return True

    def tell(self) -> int:
        """Return the bytes read so far (the upload asks where it starts)."""
        return self._position

    def put(self, data: bytes) -> None:
        """Hand ``data`` to the reader (waits while :data:`PIPE_DEPTH` batches are unread)."""
        self._queue.put(data)

    def end(self) -> None:
        """Mark the end of the data: the reader's last read returns what is left."""
        self._queue.put(None)

    def read(self, size: int = -1) -> bytes:
        """Return ``size`` bytes (all the rest with -1), fewer only when the writer has ended."""
        parts = [self._pending]
        have = len(self._pending)
        while not self._ended and (size < 0 or have < size):
            item = self._queue.get()
            if item is None:
                self._ended = True
                break
            parts.append(item)
            have += len(item)
        data = b"".join(parts)
        if size >= 0:
            data, self._pending = data[:size], data[size:]
        else:
            self._pending = b""
        self._position += len(data)
        return data


class CoalescedLoad:
    """One load job of many batches into one table, uploading as the batches come.

    Args:
        client: BigQuery client.
        table: Destination table (with schema).
        batch_label: The first batch's label: part of the job id (unique per run and stream).
        job_timeout: Seconds the job may take once uploaded, None: no limit.
    """

    def __init__(
        self, client: bigquery.Client, table: bigquery.Table, batch_label: str, job_timeout: float | None
    ) -> None:
        self.table_id = table_path(table)
        self.job_id = load_job_id(self.table_id, b"coalesced", batch_label)
        self.batches = 0
        self.rows = 0
        self._pipe = RowPipe()
        self._error: BaseException | None = None
        config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
            write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
            schema=table.schema,
        )

        def upload() -> None:
            try:
                # No size: the client starts a resumable upload and reads the pipe chunk by chunk.
                run_idempotent(
                    client,
                    self.job_id,
                    lambda: client.load_table_from_file(self._pipe, table, job_config=config, job_id=self.job_id),
                    f"Load job into {self.table_id} (coalesced batches)",
                    timeout=job_timeout,
                )
            except BaseException as exc:  # noqa: BLE001 - handed to the committing thread by finish()
                self._error = exc
                while self._pipe.read(1 << 20):  # keep draining so the writer never blocks forever
                    pass

        self._thread = threading.Thread(target=upload, name=f"coalesce-{table.table_id}", daemon=True)
        self._thread.start()

    def add(self, rows: Sequence[dict[str, Any]]) -> None:
        """Stream one batch's rows into the job's upload.

        Raises:
            RowTooLargeError: A row is over BigQuery's load-job row limit (nothing of the batch is sent).
            LoadError: The upload already failed.
        """
        payload = dumps_lines(rows)
        if len(payload) > MAX_LOAD_ROW_BYTES:
            check_row_sizes(payload)
        if self._error is not None:
            raise self._error
        self._pipe.put(payload)
        self.batches += 1
        self.rows += len(rows)

    def finish(self) -> str:
        """End the upload and wait for the job: its batches are committed when this returns.

        Returns:
            The job id.

        Raises:
            JobDeadlineError, LoadError: The job failed or took longer than ``job_timeout``.
        """
        self._pipe.end()
        self._thread.join()
        if self._error is not None:
            if isinstance(self._error, LoadError):
                raise self._error
            msg = f"Load job {self.job_id} into {self.table_id} (coalesced batches) failed: {self._error}"
            raise LoadError(msg, job_id=self.job_id) from self._error
        return self.job_id


class Coalescer:
    """A sink's coalesced load job, opened by the first batch that needs one, finished when the sink waits.

    Args:
        client: BigQuery client.
        job_timeout: Seconds the job may take once uploaded, None: no limit.
        on_open: Called with the table id when a job opens (counts it against the table's budget).
    """

    def __init__(self, client: bigquery.Client, job_timeout: float | None, on_open: Any = None) -> None:
        self._client = client
        self._job_timeout = job_timeout
        self._on_open = on_open
        self._load: CoalescedLoad | None = None

    def add(self, table: bigquery.Table, rows: Sequence[dict[str, Any]], batch_label: str) -> None:
        """Stream a batch into the open job (opening it first); runs on the commit thread.

        Raises:
            RowTooLargeError, LoadError: See :meth:`CoalescedLoad.add`.
        """
        if self._load is None:
            self._load = CoalescedLoad(self._client, table, batch_label, self._job_timeout)
            if self._on_open is not None:
                self._on_open(self._load.table_id)
        self._load.add(rows)

    def finish(self) -> tuple[int, int, str] | None:
        """Commit the open job, if any; return ``(batches, rows, job_id)`` it committed.

        Raises:
            JobDeadlineError, LoadError: See :meth:`CoalescedLoad.finish`.
        """
        load, self._load = self._load, None
        if load is None:
            return None
        return load.batches, load.rows, load.finish()
