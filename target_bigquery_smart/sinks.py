"""One BatchSink per stream: buffer at most ``batch_size`` rows, shape them, hand them to the loader."""

from __future__ import annotations

import re
import threading
import time
import types
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import requests
from google.api_core.exceptions import GoogleAPIError
from google.cloud import bigquery
from singer_sdk.exceptions import InvalidRecord, MissingKeyPropertiesError
from singer_sdk.sinks import BatchSink

from plugin_kit.concurrency import DaemonPool
from target_bigquery_smart import loader
from target_bigquery_smart.errors import api_error_text, cut
from target_bigquery_smart.rows import KEY_HASH_COLUMN, insert_id, render_add_fields, to_json
from target_bigquery_smart.shaping import RowShaper
from target_bigquery_smart.strict import strict_text
from target_bigquery_smart.validation import CompiledValidator

if TYPE_CHECKING:
    from target_bigquery_smart.target import TargetBigQuerySmart

#: Record metadata fields the SDK drops from incoming records (its ``_remove_sdc_metadata_from_record``).
SDC_METADATA = frozenset(
    {
        "_sdc_extracted_at",
        "_sdc_received_at",
        "_sdc_batched_at",
        "_sdc_deleted_at",
        "_sdc_sequence",
        "_sdc_table_version",
        "_sdc_sync_started_at",
    }
)
#: Rejected rows quoted in an error message.
MAX_REPORTED_ROWS = 10
#: Characters of each reason kept in the dead-letter table's ``errors`` column (the record
#: itself is whole in ``row_data``; a reason quoting a huge value would not fit an insertAll).
DEAD_LETTER_REASON_LIMIT = 2000
#: Load jobs and MERGEs into one table in one run after which the target warns once. BigQuery
#: allows 1,500 per table per day (failed ones included; fixed, cannot be raised):
#: https://cloud.google.com/bigquery/quotas#load_jobs and
#: https://cloud.google.com/bigquery/docs/optimize-load-jobs
TABLE_JOBS_WARNING = 500
#: Seconds between warnings while the reading thread waits for a batch BigQuery has not confirmed.
SLOW_COMMIT_WARNING_SECONDS = 60.0
#: Longest wait (seconds) for the commit thread to have a batch's first request ready.
COMMIT_START_WAIT_SECONDS = 1.0
#: Seconds the reading thread then pauses, for the commit thread to send that request.
SEND_HEAD_START_SECONDS = 0.001


class MissingKeyError(MissingKeyPropertiesError):
    """A record lacks one of its stream's key properties."""


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


class RejectedRowsError(loader.LoadError):
    """Rows were refused and no ``dead_letter_table`` is set; the message lists them.

    Attributes:
        located: The message gives each row's input line itself (the reader must not prefix
            the line being read, which may be later: a batch is committed while the next is read).
    """

    located = False


class SchemaMismatchError(RejectedRowsError):
    """A record does not match its SCHEMA (raised as it is read, before it is buffered)."""


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
        raise loader.LoadError(msg)
    if not flatten and "raw_data" not in names:
        msg = (
            f"Table {table_id} has the flattened layout (no raw_data column) and flatten is false: the two "
            "layouts would be mixed in one table. Set flatten: true, load into another table, or drop this one."
        )
        raise loader.LoadError(msg)
    if merge and KEY_HASH_COLUMN not in names:
        msg = (
            f"Table {table_id} was loaded in append mode (no {KEY_HASH_COLUMN} column); write_mode merge "
            "would never match its rows. Load into another table or drop this one."
        )
        raise loader.LoadError(msg)


def table_name(stream_name: str) -> str:
    """Return a BigQuery table name for a stream.

    Characters other than letters, digits and ``_`` become ``_`` (``public-users`` -> ``public_users``).
    The name is not cut: the target refuses a stream whose table name is over BigQuery's 1,024
    characters rather than load two streams into one table.
    """
    return re.sub(r"[^A-Za-z0-9_]", "_", stream_name)


class BigQuerySink(BatchSink):
    """Buffers a stream's rows (at most ``batch_size``) and commits each batch to BigQuery."""

    def __init__(self, target: TargetBigQuerySmart, *args: Any, **kwargs: Any) -> None:
        super().__init__(target, *args, **kwargs)
        self._target = target
        # The input line of each buffered record, for errors about rows refused at commit.
        # (Another reader than the target's own counts nothing: line 0, left out of messages.)
        reader = getattr(target, "message_reader", None)
        self._reader = reader if hasattr(reader, "line_number") else types.SimpleNamespace(line_number=0, line_length=0)
        self._table: bigquery.Table | None = None
        self._schema_problem: str | None = None
        #: Batches handed to the commit thread, and batches committed; the target compares
        #: them to decide which STATE is safe.
        self.submitted = 0
        self.committed = 0
        # A daemon thread: a signal ends the run at once, not after the client's retries of a
        # BigQuery that stopped answering (up to 600 s). STATE for the batch is never written.
        self._committer = DaemonPool(1, f"commit-{self.stream_name}")
        self._inflight: Future[None] | None = None
        #: Record numbers (first, last) of the batch in flight, for the slow-commit warning.
        self._inflight_numbers = (0, 0)
        #: Set by the commit thread when a batch's first request is ready to go, or the batch
        #: ended before it (see :meth:`process_batch`).
        self._commit_started = threading.Event()
        #: Counts and progress of the stream for the whole run, shared with the sinks it had
        #: before a changed SCHEMA (the summary and the load-job warning count them all).
        self.stats, self.progress = target.stream_totals(self.stream_name, self.logger)
        #: Records of the stream read in this run, across its sinks: a record's number (in
        #: errors, the dead-letter table and its insertId) is its position in the stream.
        self.stats.setdefault("records_read", 0)
        settings = target.settings
        self._max_rows = settings.batch_size
        self._max_bytes = settings.batch_max_bytes
        self._key_set = frozenset(self.key_properties or ())
        #: Records read by :meth:`add_record` and not yet added to the record metric.
        self._uncounted = 0
        self.start_batch({})
        self.merge = settings.write_mode == "merge"
        if self.merge and not self.key_properties:
            msg = (
                f"Stream '{self.stream_name}': write_mode 'merge' needs key properties, and its SCHEMA "
                "message has none (set destination.key_fields in the tap)."
            )
            raise loader.LoadError(msg)
        existing = target.table_schema(self.table_id)
        check_layout(self.table_id, existing, flatten=settings.flatten, merge=self.merge)
        self.shaper = RowShaper(
            self.schema.get("properties") or {},
            flatten=settings.flatten,
            add_fields=render_add_fields(settings.add_fields, org_slug=settings.org_slug, now=target.extracted_at),
            key_fields=self.key_properties,
            merge=self.merge,
            existing=existing,
            org_slug=settings.org_slug,
            extracted_at=target.extracted_at,
        )

    def get_validator(self) -> Any:
        """Return the compiled record validator, or None with ``validate_records: false``."""
        return CompiledValidator(self.schema) if self.validate_schema else None

    @property
    def is_full(self) -> bool:
        """True when the batch has ``batch_size`` rows or ``batch_max_bytes`` of input."""
        return self._batch_records_read >= self._max_rows or self._batch_bytes >= self._max_bytes

    @property
    def max_size(self) -> int:
        """Rows per batch (config ``batch_size``)."""
        return self._target.settings.batch_size

    @property
    def table_id(self) -> str:
        """``project.dataset.table`` for this stream."""
        return f"{self.config['project']}.{self.config['dataset']}.{table_name(self.stream_name)}"

    def _ensure_table(self) -> bigquery.Table:
        if self._table is None:
            settings = self._target.settings
            cluster: list[str] = []
            if settings.cluster_on_key_fields:
                by_source = {c.source: c for c in self.shaper.columns}
                columns = [by_source[k] for k in self.key_properties if k in by_source]
                cluster = [c.name for c in columns if not c.repeated and c.type in CLUSTERABLE_TYPES]
                skipped = [c.name for c in columns if c.name not in cluster]
                if skipped:
                    self.logger.warning(
                        "Stream '%s': key column(s) %s cannot cluster a table (BigQuery clusters only on %s); "
                        "clustering on %s.",
                        self.stream_name,
                        skipped,
                        ", ".join(sorted(CLUSTERABLE_TYPES)),
                        cluster or "nothing",
                    )
                if not cluster and self.merge:
                    cluster = [KEY_HASH_COLUMN]
                if not cluster:
                    self.logger.warning(
                        "Stream '%s': cluster_on_key_fields needs key columns (flatten: true) or "
                        "write_mode merge; the table is not clustered.",
                        self.stream_name,
                    )
            self._table = self._target.ensure_table(
                self.table_id,
                self.shaper.schema(),
                partition_field="extracted_at" if settings.partition_by_extracted_at else None,
                cluster_fields=cluster,
            )
        return self._table

    def _singer_validate_message(self, record: dict) -> None:
        """Check key properties; the error names the stream, the record and the input line.

        Raises:
            MissingKeyError: The record lacks a key property.
        """
        missing = [k for k in self.key_properties if k not in record]
        if missing:
            # Called before the SDK tallies the record, so this record is number read + 1.
            msg = (
                f"Stream '{self.stream_name}': record {self.stats['records_read'] + 1} lacks key "
                f"propert{'y' if len(missing) == 1 else 'ies'} {missing}; "
                f"fields present: {sorted(record)[:20]}."
            )
            raise MissingKeyError(msg)

    def _validate_and_parse(self, record: dict) -> dict:
        """Check the record against its SCHEMA; keep its values exactly as sent.

        The SDK would also parse date-time strings into datetimes (rewriting them in
        ``raw_data``) and stop on unparseable ones; flattened columns convert values
        themselves (:mod:`target_bigquery_smart.values`). A record that does not match its
        SCHEMA is a refused row: it goes to the dead-letter table, or fails the run naming
        the stream, the record and the reason.

        Raises:
            RejectedRowsError: The record is invalid and no dead-letter table is set.
        """
        self._schema_problem = None
        if self._validator is not None:
            try:
                self._validator.validate(record)
            except InvalidRecord as exc:
                reason = f"does not match its SCHEMA: {str(exc.error_message)[:300]}"
                if not self._target.settings.dead_letter_table:
                    msg = (
                        f"Stream '{self.stream_name}': record {self.stats['records_read'] + 1} {reason}. "
                        "Set dead_letter_table to keep loading and collect such rows, or validate_records: false."
                    )
                    raise SchemaMismatchError(msg) from None
                self._schema_problem = f"schema: {reason}"
        return record

    def start_batch(self, context: dict) -> None:
        """Give a new batch its buffers: rows, the records they came from, record numbers."""
        self._rows: list[dict] = []
        self._records: list[dict] = []
        self._numbers: list[int] = []
        self._lines: list[int] = []
        self._problems: dict[int, list[str]] = {}
        #: Characters of the RECORD lines buffered (the byte budget's measure).
        self._batch_bytes = 0
        context.update(
            rows=self._rows, records=self._records, numbers=self._numbers, lines=self._lines, problems=self._problems
        )

    def add_record(self, record: dict) -> bool:
        """Check, shape and buffer one record of a plain stream; return True when the batch is full.

        Full: ``batch_size`` rows, or ``batch_max_bytes`` of input (the RECORD lines' length, a
        measure read for free; the rows and their upload take a small multiple of it).

        The lean equivalent of the SDK's per-record steps (drop ``_sdc_`` metadata, validate,
        check key properties, tally, ``process_record``), with one call instead of eight: at
        100,000 records a second every call counts. Counted in the record metric per batch.

        Raises:
            RejectedRowsError: The record does not match its SCHEMA and no dead-letter table is set.
            MissingKeyError: The record lacks a key property.
        """
        if not SDC_METADATA.isdisjoint(record):
            self._remove_sdc_metadata_from_record(record)
        if self._validator is not None:
            self._validate_and_parse(record)
        if not self._key_set.issubset(record):
            self._singer_validate_message(record)
        context = self._pending_batch or self._get_context(record)
        self._total_records_read += 1
        self._batch_records_read += 1
        self._uncounted += 1
        self.process_record(record, context)
        return self._batch_records_read >= self._max_rows or self._batch_bytes >= self._max_bytes

    def process_record(self, record: dict, context: dict) -> None:
        """Shape the record into a row now and buffer it with the record (for insertIds).

        ``context`` is the batch's, whose buffers :meth:`start_batch` made.
        """
        row, problems = self.shaper.shape(record)
        if self._schema_problem:
            problems = [self._schema_problem, *problems]
            self._schema_problem = None
        if problems:
            self._problems[len(self._rows)] = list(problems)
        self._rows.append(row)
        self._records.append(record)
        self.stats["records_read"] += 1
        self._numbers.append(self.stats["records_read"])
        self._lines.append(self._reader.line_number)
        self._batch_bytes += self._reader.line_length

    def process_batch(self, context: dict) -> None:
        """Hand the buffered rows to the commit thread, after the previous batch has committed.

        At most one batch per stream is in flight, so the next batch is read while this one
        loads and memory stays bounded by two batches. Rows the target found invalid are never
        sent: they go to the dead-letter table, or the batch fails before anything is written.

        Raises:
            RejectedRowsError: Invalid rows and no dead-letter table is set.
            LoadError: The previous batch failed to commit.
        """
        if self._uncounted:
            self.record_counter_metric.increment(self._uncounted)
            self._uncounted = 0
        rows: list[dict] = context.get("rows") or []
        if not rows:
            return
        numbers: list[int] = context["numbers"]
        lines: list[int] = context["lines"]
        local = [loader.RowError(i, tuple(p)) for i, p in sorted(context["problems"].items())]
        if local and not self._target.settings.dead_letter_table:
            raise self._rejected_error(local, numbers, lines)
        self.wait_committed()
        self.submitted += 1
        self._commit_started.clear()
        self._inflight = self._committer.submit(self._commit, rows, context["records"], numbers, lines, local)
        self._inflight_numbers = (numbers[0], numbers[-1])
        # Leave the interpreter lock to the commit thread until its first request is sent.
        # Otherwise this thread keeps the lock while it parses the next batch, and the request
        # goes out when this thread next waits: measured 4.7 ms late per 1,000-row batch; and
        # still 4 ms late when this thread waited only until the upload was ready, since the
        # client then needs about 1 ms of interpreter time to send it (benchmarks/RESULTS.md).
        if self._commit_started.wait(COMMIT_START_WAIT_SECONDS):
            time.sleep(SEND_HEAD_START_SECONDS)

    def wait_committed(self) -> None:
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
                self.logger.warning(
                    "Stream '%s': BigQuery has not confirmed records %d to %d after %g s; still waiting (a load "
                    "job may take minutes; a BigQuery that does not answer is retried for up to 10 minutes "
                    "before the run fails). No STATE after these records is written until then.",
                    self.stream_name,
                    first,
                    last,
                    waited,
                )

    def _commit(
        self,
        rows: list[dict],
        records: list[dict],
        numbers: list[int],
        lines: list[int],
        local: list[loader.RowError],
    ) -> None:
        """Commit one batch (on the commit thread); then let the target write safe STATE.

        Raises:
            loader.LoadError: The batch was not stored; for a transport or API error, the
                message names the stream and the records (not the input line being read when
                the error reaches the reading thread).
        """
        try:
            self._commit_batch(rows, records, numbers, lines, local)
        except (requests.RequestException, GoogleAPIError, OSError) as exc:
            msg = (
                f"Stream '{self.stream_name}': records {numbers[0]} to {numbers[-1]} were not stored; BigQuery "
                f"did not accept or answer the request ({type(exc).__name__}: {api_error_text(exc)}). No STATE after "
                "them was written: the next run sends them again."
            )
            error = loader.LoadError(msg)
            error.located = True  # type: ignore[attr-defined]
            raise error from exc
        finally:
            self._commit_started.set()  # also when the batch failed before its first request

    def _commit_batch(
        self,
        rows: list[dict],
        records: list[dict],
        numbers: list[int],
        lines: list[int],
        local: list[loader.RowError],
    ) -> None:
        bad = {e.index for e in local}
        keep = [i for i in range(len(rows)) if i not in bad] if bad else range(len(rows))
        table = self._ensure_table()
        threshold = self._target.settings.streaming_threshold
        kept_ids: list[str] | None = None
        if not self.merge and len(keep) < threshold:
            # insertIds matter only to streaming inserts; a load job or MERGE never needs them.
            kept_ids = [self.insert_id(records[i], numbers[i]) for i in keep]
        try:
            result = loader.insert_rows_smart(
                self._target.bq_client,
                table,
                [rows[i] for i in keep] if bad else rows,
                kept_ids,
                streaming_threshold=threshold,
                merge=self.merge,
                batch_label=self._target.next_batch_label(self.stream_name),
                compress=self._target.settings.compress_uploads,
                on_request=self._commit_started.set,
                job_timeout=self._target.settings.job_timeout_seconds,
            )
        except loader.RowTooLargeError as exc:
            raise self._too_large_error(exc, list(keep), numbers, lines) from None
        rejected = local + [loader.RowError(keep[e.index], e.reasons) for e in result.rejected]
        if rejected:
            if not self._target.settings.dead_letter_table:
                raise self._rejected_error(rejected, numbers, lines)
            self._dead_letter(rejected, records, numbers)
        self.stats["rows"] += result.rows
        self.stats["streaming_requests"] += result.requests if result.method == "streaming" else 0
        self.stats["load_jobs"] += 1 if result.method == "load_job" else 0
        self.stats["merges"] += 1 if result.method == "merge" else 0
        self.stats["retries"] += result.retries
        if result.method != "streaming" and self.stats["load_jobs"] + self.stats["merges"] == TABLE_JOBS_WARNING:
            self.logger.warning(
                "Stream '%s': %d load jobs or MERGEs into %s in this run. BigQuery allows 1,500 per table per "
                "day (failed ones included), so a few such runs a day would exhaust it; raise batch_size (now %d "
                "rows) to load the same rows in fewer jobs. Memory holds at most two batches per stream.",
                self.stream_name,
                TABLE_JOBS_WARNING,
                self.table_id,
                self._max_rows,
            )
        self.tally_record_written(result.rows)
        self.progress.add(result.rows)
        self.logger.debug("Committed %d rows to %s by %s.", result.rows, self.table_id, result.method)
        self.committed += 1
        self._target.on_commit()

    def _too_large_error(
        self, exc: loader.RowTooLargeError, keep: list[int], numbers: list[int], lines: list[int]
    ) -> loader.LoadError:
        """Return the error for rows larger than BigQuery stores, naming each record and its input line."""
        details = "; ".join(
            f"record {numbers[keep[e.index]]}"
            f"{f' (input line {lines[keep[e.index]]})' if lines[keep[e.index]] else ''}: {', '.join(e.reasons)}"
            for e in exc.rejected[:MAX_REPORTED_ROWS]
        )
        msg = (
            f"Stream '{self.stream_name}': {len(exc.rejected)} row(s) too large for {self.table_id}: {details}. "
            f"Nothing of records {numbers[0]} to {numbers[-1]} was loaded and no STATE after them was written; "
            "such a record cannot be stored in one BigQuery row (trim or split it before the target)."
        )
        error = loader.LoadError(msg)
        error.located = True  # type: ignore[attr-defined]
        return error

    def _rejected_error(
        self, rejected: list[loader.RowError], numbers: list[int], lines: list[int]
    ) -> RejectedRowsError:
        details = "; ".join(
            f"record {numbers[e.index]}{f' (input line {lines[e.index]})' if lines[e.index] else ''}: "
            f"{', '.join(cut(r) for r in e.reasons)}"
            for e in rejected[:MAX_REPORTED_ROWS]
        )
        more = f" (and {len(rejected) - MAX_REPORTED_ROWS} more)" if len(rejected) > MAX_REPORTED_ROWS else ""
        msg = (
            f"Stream '{self.stream_name}': {len(rejected)} row(s) refused for {self.table_id}: {details}{more}. "
            "Set dead_letter_table to keep loading and collect such rows."
        )
        error = RejectedRowsError(msg)
        error.located = True
        return error

    def insert_id(self, record: dict, number: int) -> str:
        """Return the insertId of the stream's record ``number`` (see :func:`target_bigquery_smart.rows.insert_id`)."""
        return insert_id(self.stream_name, record, number)

    def _dead_letter(self, rejected: list[loader.RowError], records: list[dict], numbers: list[int]) -> None:
        settings = self._target.settings
        table_id = f"{self.config['project']}.{self.config['dataset']}.{settings.dead_letter_table}"
        table = self._target.ensure_table(table_id, loader.DEAD_LETTER_SCHEMA)
        failed_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        ids = [self.insert_id(records[e.index], numbers[e.index]) for e in rejected]
        letters = [
            {
                "stream": strict_text(self.stream_name),
                "record_number": numbers[e.index],
                "insert_id": ids[n],
                "errors": strict_text("\n".join(cut(r, DEAD_LETTER_REASON_LIMIT) for r in e.reasons)),
                "row_data": to_json(records[e.index]),
                "failed_at": failed_at,
            }
            for n, e in enumerate(rejected)
        ]
        _, refused, _ = loader.stream_rows(self._target.bq_client, table, letters, ids)
        if refused:
            msg = f"Stream '{self.stream_name}': the dead-letter table {table_id} refused rows: {refused[0].reasons}"
            raise loader.LoadError(msg)
        self.stats["dead_letters"] += len(letters)
        self.logger.warning(
            "Stream '%s': %d row(s) refused and written to %s (first: record %d: %s).",
            self.stream_name,
            len(letters),
            table_id,
            numbers[rejected[0].index],
            "; ".join(cut(r) for r in rejected[0].reasons),
        )

    def clean_up(self) -> None:
        """Wait for the last batch and stop the commit thread (end of input)."""
        try:
            self.wait_committed()
        finally:
            self._committer.shutdown()
        super().clean_up()
