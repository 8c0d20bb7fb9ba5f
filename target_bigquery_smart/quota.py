"""The per-table budget of load jobs and MERGEs in one run, and the path a table takes once it is spent.

BigQuery allows 1,500 load jobs per table per day, failed ones included, and counts DML such as
MERGE against the same table's operations; it cannot be raised
(https://cloud.google.com/bigquery/quotas#load_jobs). ``max_load_jobs_per_table`` (divided by
``partition_count`` when several runs write the same tables) caps this run's share; before a job
would pass it, the table's later batches go another way: the Storage Write API when it is
available, else one load job holding the rest of the stream's batches (:mod:`.coalesce`).
"""

from __future__ import annotations

import logging
import threading

logger = logging.getLogger("target_bigquery_smart.loader")


class JobBudget:
    """Counts load jobs and MERGEs per table in this run, against ``max_jobs`` each.

    Args:
        max_jobs: Jobs one table may take in this run (``max_load_jobs_per_table`` / ``partition_count``).
        storage_available: The Storage Write API can be used (library installed, endpoint known).
    """

    def __init__(self, max_jobs: int, *, storage_available: bool) -> None:
        self.max_jobs = max_jobs
        self.storage_available = storage_available
        self._jobs: dict[str, int] = {}
        #: Table -> the path its batches took once the budget was spent.
        self.switched: dict[str, str] = {}
        self._lock = threading.Lock()

    def jobs(self, table_id: str) -> int:
        """Load jobs and MERGEs counted for ``table_id`` so far."""
        return self._jobs.get(table_id, 0)

    def take(self, table_id: str, *, merge: bool = False) -> str | None:
        """Count one more job for the table if the budget allows it.

        Without the Storage Write API the last job of the budget is kept for the coalesced
        load that takes the rest of the stream's batches (:mod:`.coalesce`).

        Returns:
            None when the job may run (it is counted); otherwise the path to take instead:
            ``"storage_write"`` or ``"coalesce"``; ``"merge"`` in merge mode, whose MERGE cannot
            be replaced: it runs anyway (counted, with a warning once).
        """
        with self._lock:
            used = self._jobs.get(table_id, 0)
            limit = self.max_jobs if merge or self.storage_available else self.max_jobs - 1
            if used < limit:
                self._jobs[table_id] = used + 1
                return None
            path = "merge" if merge else "storage_write" if self.storage_available else "coalesce"
            if table_id not in self.switched:
                self.switched[table_id] = path
                if merge:
                    logger.warning(
                        "%s: %d load jobs and MERGEs in this run (max_load_jobs_per_table); write_mode merge needs a "
                        "MERGE per batch, so they go on: raise batch_size to merge the same rows in fewer jobs.",
                        table_id,
                        used,
                    )
                else:
                    logger.warning(
                        "%s: %d load jobs in this run, max_load_jobs_per_table is %d: its later batches go %s.",
                        table_id,
                        used,
                        self.max_jobs,
                        "by the Storage Write API"
                        if path == "storage_write"
                        else "into one load job committed at the end of the stream (STATE after them waits for it)",
                    )
            if merge:
                self._jobs[table_id] = used + 1
            return path

    def count(self, table_id: str) -> None:
        """Count a job run outside :meth:`take` (a coalesced load)."""
        with self._lock:
            self._jobs[table_id] = self._jobs.get(table_id, 0) + 1
