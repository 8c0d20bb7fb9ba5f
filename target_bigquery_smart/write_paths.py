"""The run's write paths beside the BigQuery client: Storage Write API streams and the load-job budget."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from target_bigquery_smart.client import make_storage_client, storage_available
from target_bigquery_smart.quota import JobBudget
from target_bigquery_smart.settings import Settings
from target_bigquery_smart.storage_write import StorageWrites


def run_write_paths(config: Mapping[str, Any], settings: Settings) -> tuple[StorageWrites | None, JobBudget]:
    """Return the run's Storage Write streams (None when the API cannot be used) and its load-job budget.

    With ``write_method: storage_write`` the client is built now, so a missing extra or bad
    credentials are a config error before any input is read; otherwise it is built on the first
    switch to it.

    Raises:
        TargetConfigError: ``storage_write`` and the ``storage`` extra is not installed.
    """
    wanted = settings.write_method == "storage_write"
    if wanted:
        client = make_storage_client(config)
        storage: StorageWrites | None = StorageWrites(lambda: client)
    elif storage_available(config):
        storage = StorageWrites(lambda: make_storage_client(config))
    else:
        storage = None
    return storage, JobBudget(settings.max_load_jobs_per_table, storage_available=storage is not None)


def finish_write_paths(
    storage: StorageWrites | None, budget: JobBudget, table_id: str, logger: logging.Logger
) -> dict[str, Any]:
    """Finalize the table's write stream and return its summary fields: the path taken past the budget.

    Also logs, once per run, the longest time from an append's acknowledgement to the STATE
    after it (the window of docs/STORAGE_WRITE.md).
    """
    fields: dict[str, Any] = {}
    if budget.switched.get(table_id):
        # Said only when it happened: which path the table took once its load jobs reached the budget.
        fields["over_job_budget"] = f"{budget.switched[table_id]} after {budget.max_jobs} jobs"
    if storage is not None and storage.finalize_all():
        logger.info(
            "Storage Write: longest time from an append's acknowledgement to the STATE after it: %.1f ms.",
            storage.longest_ack_to_state * 1000,
        )
    return fields
