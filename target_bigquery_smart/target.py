"""target-bigquery-smart: the Target class, its config schema, and STATE after commits."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import simplejson
from google.cloud import bigquery
from singer_sdk import Target
from singer_sdk import typing as th

from tap_generic_api.cli import run_cli
from target_bigquery_smart.client import make_client
from target_bigquery_smart.sinks import DEFAULT_BATCH_SIZE, BigQuerySink


class TargetBigQuerySmart(Target):
    """Loads Singer streams into BigQuery in batches of at most ``batch_size`` rows.

    STATE messages are written to stdout only once every row received before them is
    committed to BigQuery, and after every commit (not only at the end of input).
    """

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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: ``extracted_at`` of every row of this run (RFC 3339, UTC, microseconds).
        self.extracted_at = datetime.now(UTC).isoformat(timespec="microseconds")
        self._last_seen_state: Any = None
        #: STATE messages not yet safe to write: (state, {stream: drain_count at arrival}).
        self._pending_states: list[tuple[Any, dict[str, int]]] = []

    @cached_property
    def bq_client(self) -> bigquery.Client:
        """The one BigQuery client of this run."""
        return make_client(self.config)

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


def main() -> None:
    """Console entry point: run the CLI; a config error prints its messages and exits 1."""
    run_cli(TargetBigQuerySmart.cli)


if __name__ == "__main__":
    main()
