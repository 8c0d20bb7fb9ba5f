"""target-bigquery-smart: the Target class, its config schema, and STATE after commits."""

from __future__ import annotations

import logging
import sys
import threading
import uuid
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import simplejson
from google.cloud import bigquery
from singer_sdk import Target
from singer_sdk.exceptions import InvalidJSONSchema, RecordsWithoutSchemaException

from plugin_kit.cli import register_clean_error, run_cli
from plugin_kit.errors import OutputError, first_line
from plugin_kit.plugin import CleanPluginMixin
from plugin_kit.progress import Progress, SummaryMetric
from plugin_kit.proxies import proxy_passwords
from plugin_kit.redact import install_log_redaction, secret_values
from target_bigquery_smart.cli_help import TARGET_HELP
from target_bigquery_smart.client import make_client
from target_bigquery_smart.context import SinkContext
from target_bigquery_smart.errors import InputError, LoadError, MissingKeyError, SchemaMismatchError
from target_bigquery_smart.quota import JobBudget
from target_bigquery_smart.reader import LineNumberedReader, check_schema_message
from target_bigquery_smart.settings import CONFIG_SCHEMA, Settings, check_known_keys, parse_settings
from target_bigquery_smart.sinks import BigQuerySink
from target_bigquery_smart.storage_write import StorageWrites
from target_bigquery_smart.tables import Tables
from target_bigquery_smart.write_paths import finish_write_paths, run_write_paths

#: Records between two checks of the SDK's maximum record age (a check reads the clock).
AGE_CHECK_EVERY = 100


class TargetBigQuerySmart(CleanPluginMixin, Target):
    """Load Singer streams into BigQuery in batches, writing STATE only after commits."""

    # One line only: the SDK prints the class docstring as the --about description.
    # Each stream buffers at most `batch_size` rows; a STATE message goes to stdout once every
    # row received before it is committed, checked after every commit.

    name = "target-bigquery-smart"
    package_name = "tap-generic-api-bigquery"
    default_sink_class = BigQuerySink
    message_reader_class = LineNumberedReader

    #: The one declaration of every setting: key, type, default, description (:mod:`.settings`).
    config_jsonschema = CONFIG_SCHEMA
    cli_help = TARGET_HELP

    def _process_schema_message(self, message_dict: dict) -> None:
        """Check the SCHEMA message's fields, then register it as the SDK does.

        Raises:
            InputError: A field has the wrong shape (:func:`check_schema_message`), or the
                schema is not a valid JSON schema (the validator's first line is quoted).
        """
        check_schema_message(message_dict)
        try:
            super()._process_schema_message(message_dict)
        except InvalidJSONSchema as exc:
            reason = first_line(exc)
            msg = f"SCHEMA message: 'schema' is not a valid JSON schema: {reason}"
            raise InputError(msg) from None

    def _process_batch_message(self, message_dict: dict) -> None:
        """Refuse a BATCH message: its rows would be dropped while the STATE after it went out.

        Raises:
            InputError: Always; says how to have the tap send RECORD messages.
        """
        msg = (
            f"BATCH messages are not supported (stream '{message_dict.get('stream')}'): the tap must send "
            "RECORD messages. Remove batch_config from the tap's config."
        )
        raise InputError(msg)

    @classmethod
    def append_builtin_config(cls, config_jsonschema: dict) -> None:
        """Add the SDK's built-in settings, less those this target does not honour.

        ``load_method`` (upsert/overwrite) and ``batch_size_rows`` would be accepted and
        ignored; ``write_mode`` and ``batch_size`` are this target's settings.
        """
        super().append_builtin_config(config_jsonschema)
        for key in ("load_method", "batch_size_rows"):
            config_jsonschema["properties"].pop(key, None)

    def check_config_keys(self, schema_errors: list[str], *, raise_errors: bool) -> None:
        """Refuse keys the target does not declare (a misspelling would be ignored).

        Raises:
            TargetConfigError: A key the target does not declare (``raise_errors`` only).
        """
        if raise_errors:
            valid = dict(self.config_jsonschema)
            valid["properties"] = dict(valid.get("properties") or {})
            self.append_builtin_config(valid)
            check_known_keys(self._config, valid["properties"])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: The checked settings (raises a config error naming the key).
        self.settings: Settings = parse_settings(self.config)
        # Proxy passwords from the environment are masked like config secrets.
        install_log_redaction([*secret_values(self.config), *proxy_passwords()])
        # Built now, so a bad endpoint, key or proxy is a config error before any input is read.
        _ = self.bq_client
        _ = self.write_paths
        #: ``extracted_at`` of every row of this run (RFC 3339, UTC, microseconds).
        self.extracted_at = datetime.now(UTC).isoformat(timespec="microseconds")
        #: This run's id, part of every job id: a rerun (after a crash, with rows that may differ)
        #: never matches a job of an earlier run, while a retry within this run reuses its id.
        self.run_id = uuid.uuid4().hex
        #: Batches started per stream in this run, across the sinks a changed SCHEMA gives it.
        self._batch_numbers: dict[str, int] = {}
        self._last_seen_state: Any = None
        #: STATE messages not yet safe to write: (state, [(sink, batches it must have committed)]).
        self._pending_states: list[tuple[Any, list[tuple[BigQuerySink, int]]]] = []
        self._state_lock = threading.RLock()
        self._plain_sinks: dict[str, BigQuerySink] = {}
        self._stream_totals: dict[str, tuple[dict[str, int], Progress]] = {}
        #: Records since the SDK's record-age check last ran (it reads the clock).
        self._since_age_check = 0
        if isinstance(self.message_reader, LineNumberedReader):
            self.message_reader.on_error = self._on_input_error
            if not self.settings.flatten:
                # The raw layout stores each record's JSON text as it came: no need to decode it.
                self.message_reader.raw_record_callback = self._process_raw_record

    @cached_property
    def bq_client(self) -> bigquery.Client:
        """The one BigQuery client of this run."""
        return make_client(self.config)

    @cached_property
    def tables(self) -> Tables:
        """The run's tables: schemas, creation (one at a time) and which stream owns each."""
        return Tables(self.bq_client, location=self.config.get("location"), endpoint=self.config.get("api_endpoint"))

    @cached_property
    def sink_context(self) -> SinkContext:
        """What each sink gets of the run: client, settings, tables, and the commit and batch callbacks."""
        return SinkContext(
            client=self.bq_client,
            settings=self.settings,
            tables=self.tables,
            extracted_at=self.extracted_at,
            on_commit=self.on_commit,
            next_batch_label=self.next_batch_label,
            stream_totals=self.stream_totals,
            storage=self.write_paths[0],
            budget=self.write_paths[1],
        )

    @cached_property
    def write_paths(self) -> tuple[StorageWrites | None, JobBudget]:
        """The run's Storage Write API streams (or None) and its load-job budget (:mod:`.write_paths`)."""
        return run_write_paths(self.config, self.settings)

    def stream_totals(self, stream_name: str, logger: logging.Logger) -> tuple[dict[str, int], Progress]:
        """Return the run's counts (rows, streaming requests, load jobs, ...) and progress for a stream.

        Kept here, not on the sink: a changed SCHEMA gives the stream a new sink, and the
        summary and the daily load-job warning are about the whole run.
        """
        totals = self._stream_totals.get(stream_name)
        if totals is None:
            names = ("rows", "streaming_requests", "load_jobs", "merges", "storage_appends", "dead_letters", "retries")
            counts = dict.fromkeys(names, 0)
            totals = self._stream_totals[stream_name] = (counts, Progress(logger, stream_name, unit="rows"))
        return totals

    def next_batch_label(self, stream_name: str) -> str:
        """Return the label of the stream's next batch: run id, stream and batch number (from 1).

        With the batch's content it makes the batch's job ids (:func:`loader.load_job_id`):
        unique per batch of a run, the same only for retries of that batch. The count spans
        the sinks a changed SCHEMA gives a stream, so a batch after the change never reuses the
        id of an identical batch before it.
        """
        with self._state_lock:
            number = self._batch_numbers[stream_name] = self._batch_numbers.get(stream_name, 0) + 1
        return f"{self.run_id}\n{stream_name}\n{number}"

    def get_sink(self, stream_name: str, **kwargs: Any) -> Any:
        """Return the stream's sink; on a changed SCHEMA, commit the old sink's rows first.

        The SDK keeps the old sink's rows until its next full drain, so rows under a new
        SCHEMA could be written before older ones; in merge mode that would let an old
        version of a row win.
        """
        schema = kwargs.get("schema")
        if schema is not None:
            self.tables.claim(stream_name)
        existing = self._sinks_active.get(stream_name)
        if (
            schema is not None
            and existing is not None
            and (existing.original_schema != schema or existing.key_properties != kwargs.get("key_properties"))
        ):
            self.drain_one(existing)
            if isinstance(existing, BigQuerySink):
                existing.wait_committed()
        return super().get_sink(stream_name, **kwargs)

    # STATE handling: the SDK writes target STATE only at the end of input or on its
    # 5-minute drain; we write the newest safe STATE after every commit.

    def _process_state_message(self, message_dict: dict) -> None:
        self._assert_line_requires(message_dict, requires={"value"})
        state = message_dict["value"]
        if state == self._last_seen_state:
            return
        self._last_seen_state = state
        # Safe once each sink has committed every batch submitted so far, plus the one it is
        # buffering now.
        waits = [
            (sink, sink.submitted + (1 if sink.current_size > 0 else 0))
            for sink in [*self._sinks_active.values(), *self._sinks_to_clear]
            if isinstance(sink, BigQuerySink)
        ]
        waits = [(sink, needed) for sink, needed in waits if sink.committed < needed]
        with self._state_lock:
            self._pending_states.append((state, waits))
        self._write_committed_state()

    def _process_record_message(self, message_dict: dict) -> None:
        """Process a RECORD; for streams without stream maps, by a lean path.

        The SDK's path copies each record, runs the identity stream map and logs the whole
        batch context at DEBUG per record; for a plain stream this does the same checks and
        bookkeeping directly.
        """
        record = message_dict.get("record")
        stream = message_dict.get("stream")
        if not isinstance(record, dict):
            kind = type(record).__name__
            msg = f"RECORD of stream '{stream}' has a {kind} 'record', not an object."
            raise InputError(msg)
        sink = self._plain_sinks.get(stream)
        if sink is None or self._sinks_active.get(stream) is not sink:
            sink = self._plain_sink(stream)
        if sink is None:
            super()._process_record_message(message_dict)
            return
        if sink.add_record(record):
            self.drain_one(sink)
        self._since_age_check += 1
        if self._since_age_check >= AGE_CHECK_EVERY:
            self._since_age_check = 0
            self._handle_max_record_age()

    def _process_raw_record(self, stream: str, text: str) -> None:
        """Process a RECORD whose record is JSON text (raw layout); decode the line when a stream map needs it."""
        sink = self._plain_sinks.get(stream)
        if sink is None or self._sinks_active.get(stream) is not sink:
            sink = self._plain_sink(stream)
        if sink is None:
            self._process_record_message(self.message_reader.deserialize_json(self.message_reader.line))
            return
        if sink.add_raw_text(text):
            self.drain_one(sink)
        self._since_age_check += 1
        if self._since_age_check >= AGE_CHECK_EVERY:
            self._since_age_check = 0
            self._handle_max_record_age()

    def _plain_sink(self, stream: Any) -> BigQuerySink | None:
        """Return the stream's sink when its records go to it unchanged (one plain stream map)."""
        self._plain_sinks.pop(stream, None)
        maps = self.mapper.stream_maps.get(stream) if stream in self.mapper.stream_maps else None
        sink = self._sinks_active.get(stream)
        if (
            not maps
            or len(maps) != 1
            or type(maps[0]).__name__ != "SameRecordTransform"
            or maps[0].stream_alias != stream
            or not isinstance(sink, BigQuerySink)
            or sink.include_sdc_metadata_properties
        ):
            return None
        self._plain_sinks[stream] = sink
        return sink

    def on_commit(self) -> None:
        """Write whatever STATE became safe (run on a commit thread after each commit)."""
        self._write_committed_state()

    def _wait_all_commits(self) -> None:
        for sink in [*self._sinks_active.values(), *self._sinks_to_clear]:
            if isinstance(sink, BigQuerySink):
                sink.wait_committed()

    def _on_input_error(self, error: BaseException) -> None:
        """Before stopping on bad input, commit the rows read so far and write their STATE."""
        if isinstance(error, LoadError) and not isinstance(error, SchemaMismatchError):
            return  # a failed commit must not be retried here, nor STATE advanced past it
        try:
            self.drain_all()
            self._wait_all_commits()
            self._write_committed_state()
        except Exception:
            self.logger.exception("Could not commit the rows read before the bad input line.")

    def process_endofpipe(self) -> None:
        """Commit every buffered row, then write the last STATE received."""
        self.drain_all()
        self._wait_all_commits()
        super().process_endofpipe()
        self._write_committed_state()
        for sink in self._sinks_active.values():
            if isinstance(sink, BigQuerySink):
                stats = sink.stats
                sink.progress.summary(
                    SummaryMetric.TABLE_SUMMARY,
                    table=sink.table_id,
                    streaming_calls=stats["streaming_requests"],
                    load_jobs=stats["load_jobs"],
                    merges=stats["merges"],
                    storage_appends=stats["storage_appends"],
                    dead_lettered=stats["dead_letters"],
                    retries=stats["retries"],
                    **finish_write_paths(*self.write_paths, sink.table_id, self.logger),
                )

    def _write_committed_state(self) -> None:
        """Write the newest pending STATE whose earlier rows are all committed.

        Called from the main thread and from commit threads; the lock keeps STATE lines whole
        and in order.
        """
        with self._state_lock:
            safe_index = -1
            for index, (_, waits) in enumerate(self._pending_states):
                if all(sink.committed >= needed for sink, needed in waits):
                    safe_index = index
            if safe_index < 0:
                return
            state = self._pending_states[safe_index][0]
            del self._pending_states[: safe_index + 1]
            self._write_state_message(state)

    def _write_state_message(self, state: dict) -> None:
        # The SDK's json.dumps crashes on Decimal, which its reader produces for numbers;
        # NaN is written back as it came (a tap's Python json writes it so).
        try:
            sys.stdout.write(simplejson.dumps(state, use_decimal=True, allow_nan=True) + "\n")
            sys.stdout.flush()
        except OSError as exc:
            raise OutputError(exc) from None
        if self.write_paths[0] is not None:
            self.write_paths[0].state_written()


register_clean_error(LoadError, MissingKeyError, InputError, RecordsWithoutSchemaException)


def main() -> None:
    """Console entry point: run the CLI; a config error prints its messages and exits 1."""
    run_cli(TargetBigQuerySmart.cli)


if __name__ == "__main__":
    main()
