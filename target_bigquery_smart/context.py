"""What a sink needs from the run, handed to it by the target: nothing more, no way back into the target."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from google.cloud import bigquery

from plugin_kit.progress import Progress
from target_bigquery_smart.quota import JobBudget
from target_bigquery_smart.settings import Settings
from target_bigquery_smart.storage_write import StorageWrites
from target_bigquery_smart.tables import Tables


@dataclass(frozen=True)
class SinkContext:
    """The run as a sink sees it.

    Attributes:
        client: The run's one BigQuery client.
        settings: The checked target settings.
        tables: Table schemas, creation and ownership (one lock for the run).
        extracted_at: ``extracted_at`` of every row of this run (RFC 3339, UTC, microseconds).
        on_commit: Called on a commit thread after each committed batch: writes safe STATE.
        next_batch_label: Stream name -> the label of its next batch (run id, stream, number),
            part of the batch's job ids.
        stream_totals: ``(stream name, logger)`` -> the run's counts and progress of that stream,
            shared by the sinks a changed SCHEMA gives it.
        storage: The run's Storage Write API streams, or None when the API cannot be used.
        budget: The run's load jobs and MERGEs per table, against ``max_load_jobs_per_table``.
    """

    client: bigquery.Client
    settings: Settings
    tables: Tables
    extracted_at: str
    on_commit: Callable[[], None]
    next_batch_label: Callable[[str], str]
    stream_totals: Callable[[str, logging.Logger], tuple[dict[str, int], Progress]]
    storage: StorageWrites | None = None
    budget: JobBudget | None = None
