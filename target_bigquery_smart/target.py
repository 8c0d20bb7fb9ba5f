"""target-bigquery-smart: the Target class, its config schema, and STATE after commits."""

from __future__ import annotations

import sys
import threading
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import simplejson
from google.cloud import bigquery
from singer_sdk import Target
from singer_sdk import typing as th

from tap_generic_api.cli import register_clean_error, run_cli
from target_bigquery_smart import loader
from target_bigquery_smart.client import make_client
from target_bigquery_smart.sinks import DEFAULT_BATCH_SIZE, BigQuerySink, MissingKeyError


class TargetBigQuerySmart(Target):
    """Load Singer streams into BigQuery in batches, writing STATE only after commits."""

    # One line only: the SDK prints the class docstring as the --about description.
    # Each stream buffers at most `batch_size` rows; a STATE message goes to stdout once every
    # row received before it is committed, checked after every commit.

    name = "target-bigquery-smart"
    package_name = "tap-generic-api-bigquery"
    default_sink_class = BigQuerySink

    config_jsonschema = th.PropertiesList(
        th.Property("project", th.StringType, required=True, description="GCP project id."),
        th.Property("dataset", th.StringType, required=True, description="BigQuery dataset (created if missing)."),
        th.Property("location", th.StringType, default="US", description="Dataset location for new datasets."),
        th.Property(
            "credentials_path",
            th.StringType,
            description="Path to a service-account key file (default: Application Default Credentials).",
        ),
        th.Property(
            "credentials_json",
            th.StringType,
            secret=True,
            description="Service-account key as JSON text.",
        ),
        th.Property(
            "api_endpoint",
            th.StringType,
            description="BigQuery API endpoint, e.g. a local emulator (then anonymous credentials).",
            examples=["http://127.0.0.1:9050"],
        ),
        th.Property("org_slug", th.StringType, description="Organisation slug written to the org_slug column."),
        th.Property(
            "batch_size",
            th.IntegerType,
            default=DEFAULT_BATCH_SIZE,
            description="Rows buffered per stream before a commit (the seed's destination.batch_size).",
        ),
        th.Property(
            "streaming_threshold",
            th.IntegerType,
            default=100,
            description="Batches with fewer rows go by streaming insert; others by load job.",
        ),
    ).to_dict()

    @classmethod
    def append_builtin_config(cls, config_jsonschema: dict) -> None:
        """Add the SDK's built-in settings, less those this target does not honour.

        ``load_method`` (upsert/overwrite) and ``batch_size_rows`` would be accepted and
        ignored; ``batch_size`` is this target's batch setting.
        """
        super().append_builtin_config(config_jsonschema)
        for key in ("load_method", "batch_size_rows"):
            config_jsonschema["properties"].pop(key, None)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: ``extracted_at`` of every row of this run (RFC 3339, UTC, microseconds).
        self.extracted_at = datetime.now(UTC).isoformat(timespec="microseconds")
        self._last_seen_state: Any = None
        #: STATE messages not yet safe to write: (state, {stream: drain_count at arrival}).
        self._pending_states: list[tuple[Any, dict[str, int]]] = []
        self._table_lock = threading.Lock()

    @cached_property
    def bq_client(self) -> bigquery.Client:
        """The one BigQuery client of this run."""
        return make_client(self.config)

    def ensure_table(self, table_id: str, schema: Any) -> bigquery.Table:
        """Create the dataset (once per run) and the table when missing; return the table.

        Serialised with a lock: sinks drain in parallel, and concurrent ``datasets.insert``
        calls for one dataset can fail.
        """
        with self._table_lock:
            return loader.ensure_table(self.bq_client, table_id, schema, location=self.config.get("location"))

    # STATE handling: the SDK writes target STATE only at the end of input or on its
    # 5-minute drain; we write the newest safe STATE after every commit.

    def _process_state_message(self, message_dict: dict) -> None:
        self._assert_line_requires(message_dict, requires={"value"})
        state = message_dict["value"]
        if state == self._last_seen_state:
            return
        self._last_seen_state = state
        waits = {
            name: sink.drain_count
            for name, sink in self._sinks_active.items()
            if isinstance(sink, BigQuerySink) and sink.current_size > 0
        }
        self._pending_states.append((state, waits))
        self._write_committed_state()

    def _process_record_message(self, message_dict: dict) -> None:
        super()._process_record_message(message_dict)
        if self._pending_states:
            self._write_committed_state()

    def process_endofpipe(self) -> None:
        """Commit every buffered row, then write the last STATE received."""
        super().process_endofpipe()
        self._write_committed_state()
        for name, sink in self._sinks_active.items():
            if isinstance(sink, BigQuerySink):
                self.logger.info(
                    "Stream '%s': %d rows committed to %s (%d streaming requests, %d load jobs).",
                    name,
                    sink.stats["rows"],
                    sink.table_id,
                    sink.stats["streaming_requests"],
                    sink.stats["load_jobs"],
                )

    def _write_committed_state(self) -> None:
        """Write the newest pending STATE whose earlier rows are all committed."""
        safe_index = -1
        for index, (_, waits) in enumerate(self._pending_states):
            if all(
                self._sinks_active[name].drain_count > count  # type: ignore[attr-defined]
                for name, count in waits.items()
                if name in self._sinks_active
            ):
                safe_index = index
        if safe_index < 0:
            return
        state = self._pending_states[safe_index][0]
        del self._pending_states[: safe_index + 1]
        self._write_state_message(state)

    def _write_state_message(self, state: dict) -> None:
        # The SDK's json.dumps crashes on Decimal, which its reader produces for numbers.
        sys.stdout.write(simplejson.dumps(state, use_decimal=True) + "\n")
        sys.stdout.flush()


register_clean_error(loader.LoadError, MissingKeyError)


def main() -> None:
    """Console entry point: run the CLI; a config error prints its messages and exits 1."""
    run_cli(TargetBigQuerySmart.cli)


if __name__ == "__main__":
    main()
