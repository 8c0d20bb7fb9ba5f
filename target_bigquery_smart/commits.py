"""The commit thread of a stream: one batch in flight, waited for with a warning while BigQuery is slow.

Storage Write appends may instead go through a short queue (:meth:`CommitThread.submit_merged`):
batches read while an append is in flight wait, and go together in the next append.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

from plugin_kit.concurrency import DaemonPool

#: Seconds between warnings while the reading thread waits for a batch BigQuery has not confirmed.
SLOW_COMMIT_WARNING_SECONDS = 60.0
#: Longest wait (seconds) for the commit thread to have a batch's first request ready.
COMMIT_START_WAIT_SECONDS = 1.0
#: Seconds the reading thread then pauses, for the commit thread to send that request.
SEND_HEAD_START_SECONDS = 0.001


class CommitThread:
    """Commits a stream's batches one at a time on a thread of its own, counting them.

    At most one batch is in flight, so the next batch is read while this one loads and memory
    stays bounded by two batches. A daemon thread: a signal ends the run at once, not after the
    client's retries of a BigQuery that stopped answering (up to 600 s); STATE for the batch is
    then never written.

    Args:
        stream_name: Names the thread and the warnings.
        logger: The stream's logger.
        on_commit: Called on the commit thread after each committed batch (writes safe STATE).
        max_queued: Batches that may wait for the commit in flight (:meth:`submit_merged`; config
            ``storage_write_queued_batches``); the reading thread waits when this many are queued,
            so memory holds at most this many batches besides the ones being committed. 0: one
            batch at a time.
    """

    def __init__(
        self, stream_name: str, logger: logging.Logger, on_commit: Callable[[], None], max_queued: int = 0
    ) -> None:
        self._stream_name = stream_name
        self._logger = logger
        self._on_commit = on_commit
        self._pool = DaemonPool(1, f"commit-{stream_name}")
        self._inflight: Future[None] | None = None
        #: Record numbers (first, last) of the batch in flight, for the slow-commit warning.
        self._inflight_numbers = (0, 0)
        #: Set when a batch's first request is ready to go, or the batch ended before it.
        self.started = threading.Event()
        #: Batches handed to the thread, and batches committed; the target compares them to
        #: decide which STATE is safe.
        self.submitted = 0
        self.committed = 0
        #: Batches waiting for the append in flight (:meth:`submit_merged`), and whether a
        #: drain of that queue runs on the thread.
        self._queue: list[object] = []
        self._draining = False
        self._queue_changed = threading.Condition()
        self._max_queued = max_queued

    def submit(self, commit: Callable[[], bool | None], first: int, last: int) -> None:
        """Wait for the batch in flight, then run ``commit`` (records ``first`` to ``last``) on the thread.

        ``commit`` returns True when the batch is not committed yet (it went into a coalesced
        load job, counted by :meth:`complete` once that job is done).

        Raises:
            LoadError: The previous batch failed to commit.
        """
        self.wait()
        self.submitted += 1
        self.started.clear()
        self._inflight = self._pool.submit(self._run, commit)
        self._inflight_numbers = (first, last)
        # Leave the interpreter lock to the commit thread until its first request is sent.
        # Otherwise this thread keeps the lock while it parses the next batch, and the request
        # goes out when this thread next waits: measured 4.7 ms late per 1,000-row batch; and
        # still 4 ms late when this thread waited only until the upload was ready, since the
        # client then needs about 1 ms of interpreter time to send it (benchmarks/RESULTS.md).
        if self.started.wait(COMMIT_START_WAIT_SECONDS):
            time.sleep(SEND_HEAD_START_SECONDS)

    def submit_merged(self, item: object, first: int, last: int, commit_many: Callable[[list], None]) -> None:
        """Queue a batch for ``commit_many``, which commits the batches it is given together.

        When no commit runs, the thread starts one with this batch alone. Otherwise the batch
        waits, and when the commit in flight is done every batch that waits is committed by one
        ``commit_many`` call (so a slow BigQuery, or emulator, gets fewer, larger requests). Each
        batch counts as committed only when the call holding it returned: STATE after it waits
        until then. The reading thread waits while ``max_queued`` batches are queued.

        Raises:
            LoadError: An earlier commit failed (nothing queued after it is committed).
        """
        while True:
            inflight = self._inflight
            if inflight is not None and inflight.done():
                self.wait()  # re-raises a failed commit
            with self._queue_changed:
                if not self._draining or len(self._queue) < self._max_queued:
                    self.submitted += 1
                    self._queue.append(item)
                    if self._draining:
                        self._inflight_numbers = (self._inflight_numbers[0], last)
                        return
                    self._draining = True
                    items, self._queue = self._queue, []
                    break
                self._queue_changed.wait(COMMIT_START_WAIT_SECONDS)
        self.started.clear()
        self._inflight = self._pool.submit(self._drain, items, commit_many)
        self._inflight_numbers = (first, last)
        if self.started.wait(COMMIT_START_WAIT_SECONDS):
            time.sleep(SEND_HEAD_START_SECONDS)

    def _drain(self, items: list, commit_many: Callable[[list], None]) -> None:
        """Commit ``items``, then whatever was queued meanwhile, until the queue is empty.

        A failed commit ends the drain with the queue left as it is: those batches are never
        committed, and :meth:`wait` or the next :meth:`submit_merged` raises the error.
        """
        while items:
            try:
                commit_many(items)
            finally:
                self.started.set()
            self.committed += len(items)
            self._on_commit()
            with self._queue_changed:
                items, self._queue = self._queue, []
                self._draining = bool(items)
                self._queue_changed.notify_all()

    def _run(self, commit: Callable[[], bool | None]) -> None:
        try:
            deferred = commit()
        finally:
            self.started.set()  # also when the batch failed before its first request
        if not deferred:
            self.committed += 1
            self._on_commit()

    def complete(self, batches: int) -> None:
        """Count ``batches`` committed later than their commit returned (a coalesced load job), then write STATE."""
        self.committed += batches
        self._on_commit()

    def wait(self) -> None:
        """Wait for the batch in flight, if any; re-raise its error.

        Every ``SLOW_COMMIT_WARNING_SECONDS`` (60) of waiting, log a warning naming the
        records: the client waits on a load job for as long as it runs and retries a BigQuery
        that does not answer for up to 10 minutes, with nothing in the log meanwhile.

        Raises:
            LoadError: The batch failed to commit (and nothing after it will be).
        """
        inflight, self._inflight = self._inflight, None
        if inflight is None:
            return
        waited = 0.0
        while True:
            try:
                inflight.result(timeout=SLOW_COMMIT_WARNING_SECONDS)
                return
            except TimeoutError:
                if inflight.done():  # finished as the wait ended: its own result or error
                    inflight.result()
                    return
                waited += SLOW_COMMIT_WARNING_SECONDS
                first, last = self._inflight_numbers
                self._logger.warning(
                    "Stream '%s': BigQuery has not confirmed records %d to %d after %g s; still waiting (a load "
                    "job may take minutes; a BigQuery that does not answer is retried for up to 10 minutes "
                    "before the run fails). No STATE after these records is written until then.",
                    self._stream_name,
                    first,
                    last,
                    waited,
                )

    def shutdown(self) -> None:
        """Stop the thread (after :meth:`wait`)."""
        self._pool.shutdown()
