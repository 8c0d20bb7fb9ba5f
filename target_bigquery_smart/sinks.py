"""One BatchSink per stream: buffer at most ``batch_size`` rows, shape them, hand each batch to the loader.

The sink says what is written; :mod:`.loader` says how, :mod:`.commits` runs it on the
stream's commit thread, :mod:`.dead_letters` keeps or reports refused rows and :mod:`.tables`
creates the table. What the sink needs of the run comes in a :class:`.context.SinkContext`.
"""

from __future__ import annotations

import types
from typing import Any

import requests
from google.api_core.exceptions import GoogleAPIError
from google.cloud import bigquery
from singer_sdk.exceptions import InvalidRecord
from singer_sdk.sinks import BatchSink

from target_bigquery_smart import loader
from target_bigquery_smart.batch import Batch, RowError, merged
from target_bigquery_smart.coalesce import Coalescer
from target_bigquery_smart.commits import CommitThread
from target_bigquery_smart.context import SinkContext
from target_bigquery_smart.dead_letters import rejected_error, too_large_error, write_dead_letters
from target_bigquery_smart.errors import (
    LoadError,
    MissingKeyError,
    RowTooLargeError,
    SchemaMismatchError,
    api_error_text,
)
from target_bigquery_smart.raw_records import KeyReader, RawRecord, as_record
from target_bigquery_smart.raw_sink import SDC_METADATA, RawRecordsMixin
from target_bigquery_smart.rows import insert_id, render_add_fields
from target_bigquery_smart.shaping import RowShaper
from target_bigquery_smart.tables import check_layout, cluster_columns, table_name
from target_bigquery_smart.validation import CompiledValidator, check_schema

#: Load jobs and MERGEs into one table in one run after which the target warns once. BigQuery
#: allows 1,500 per table per day (failed ones included; fixed, cannot be raised):
#: https://cloud.google.com/bigquery/quotas#load_jobs and
#: https://cloud.google.com/bigquery/docs/optimize-load-jobs
TABLE_JOBS_WARNING = 500


class BigQuerySink(RawRecordsMixin, BatchSink):
    """Buffers a stream's rows (at most ``batch_size``) and commits each batch to BigQuery.

    The target gives it a :class:`SinkContext` as ``target.sink_context``: the sink uses the
    target only as the SDK does (config, logger, reader) and that context.
    """

    def __init__(self, target: Any, *args: Any, **kwargs: Any) -> None:
        self._settings = target.sink_context.settings  # read by the SDK's __init__ (validate_schema)
        super().__init__(target, *args, **kwargs)
        run: SinkContext = target.sink_context
        self._run = run
        settings = self._settings = run.settings
        # The input line of each buffered record, for errors about rows refused at commit.
        # (Another reader than the target's own counts nothing: line 0, left out of messages.)
        reader = getattr(target, "message_reader", None)
        self._reader = reader if hasattr(reader, "line_number") else types.SimpleNamespace(line_number=0, line_length=0)
        self._table: bigquery.Table | None = None
        self._schema_problem: str | None = None
        self._commits = CommitThread(
            self.stream_name, self.logger, run.on_commit, max_queued=settings.storage_write_queued_batches
        )
        budget = run.budget
        self._coalescer = Coalescer(run.client, settings.job_timeout_seconds, budget.count if budget else None)
        #: Counts and progress of the stream for the whole run, shared with the sinks it had
        #: before a changed SCHEMA (the summary and the load-job warning count them all).
        self.stats, self.progress = run.stream_totals(self.stream_name, self.logger)
        #: Records of the stream read in this run, across its sinks: a record's number (in
        #: errors, the dead-letter table and its insertId) is its position in the stream.
        self.stats.setdefault("records_read", 0)
        self._max_rows = settings.batch_size
        self._max_bytes = settings.batch_max_bytes
        self._key_set = frozenset(self.key_properties or ())
        self._raw_keys = KeyReader(self.key_properties or ())
        #: Records read by :meth:`add_record` and not yet added to the record metric.
        self._uncounted = 0
        self._batch = Batch()
        self.start_batch({})
        self.merge = settings.write_mode == "merge"
        #: Storage Write appends: batches read while an append is in flight go in the next one together.
        self._merged_appends = (
            settings.write_method == "storage_write" and not self.merge and settings.storage_write_queued_batches > 0
        )
        if self.merge and not self.key_properties:
            msg = (
                f"Stream '{self.stream_name}': write_mode 'merge' needs key properties, and its SCHEMA "
                "message has none (set destination.key_fields in the tap)."
            )
            raise LoadError(msg, stream=self.stream_name)
        existing = run.tables.schema(self.table_id)
        check_layout(self.table_id, existing, flatten=settings.flatten, merge=self.merge)
        self.shaper = RowShaper(
            self.schema.get("properties") or {},
            flatten=settings.flatten,
            add_fields=render_add_fields(settings.add_fields, org_slug=settings.org_slug, now=run.extracted_at),
            key_fields=self.key_properties,
            merge=self.merge,
            existing=existing,
            org_slug=settings.org_slug,
            extracted_at=run.extracted_at,
        )

    @property
    def submitted(self) -> int:
        """Batches handed to the commit thread (the target compares it to decide which STATE is safe)."""
        return self._commits.submitted

    @property
    def committed(self) -> int:
        """Batches committed."""
        return self._commits.committed

    @property
    def validate_schema(self) -> bool:
        """``validate_records`` as the target reads it (by default off in the raw layout, see settings)."""
        return self._settings.validate_records

    def get_validator(self) -> Any:
        """Return the compiled record validator, or None when ``validate_records`` is off (the schema is checked).

        Raises:
            InvalidJSONSchema: The stream's schema is not a valid JSON schema.
        """
        if self.validate_schema:
            return CompiledValidator(self.schema)
        check_schema(self.schema)
        return None

    @property
    def is_full(self) -> bool:
        """True when the batch has ``batch_size`` rows or ``batch_max_bytes`` of input."""
        return self._batch_records_read >= self._max_rows or self._batch.input_chars >= self._max_bytes

    @property
    def max_size(self) -> int:
        """Rows per batch (config ``batch_size``)."""
        return self._settings.batch_size

    @property
    def table_id(self) -> str:
        """``project.dataset.table`` for this stream."""
        return f"{self.config['project']}.{self.config['dataset']}.{table_name(self.stream_name)}"

    def _ensure_table(self) -> bigquery.Table:
        if self._table is None:
            settings = self._settings
            cluster: list[str] = []
            if settings.cluster_on_key_fields:
                cluster = cluster_columns(
                    self.shaper.columns, self.key_properties, merge=self.merge, stream=self.stream_name, log=self.logger
                )
            self._table = self._run.tables.ensure(
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
            number = self.stats["records_read"] + 1
            msg = (
                f"Stream '{self.stream_name}': record {number} lacks key "
                f"propert{'y' if len(missing) == 1 else 'ies'} {missing}; "
                f"fields present: {sorted(record)[:20]}."
            )
            raise MissingKeyError(msg, stream=self.stream_name, record_number=number)

    def _validate_and_parse(self, record: dict) -> dict:
        """Check the record against its SCHEMA; keep its values exactly as sent.

        The SDK would also parse date-time strings into datetimes (rewriting them in
        ``raw_data``) and stop on unparseable ones; flattened columns convert values
        themselves (:mod:`target_bigquery_smart.values`). A record that does not match its
        SCHEMA is a refused row: it goes to the dead-letter table, or fails the run naming
        the stream, the record and the reason.

        Raises:
            SchemaMismatchError: The record is invalid and no dead-letter table is set.
        """
        self._schema_problem = None
        if self._validator is not None:
            try:
                self._validator.validate(record)
            except InvalidRecord as exc:
                reason = f"does not match its SCHEMA: {str(exc.error_message)[:300]}"
                if not self._settings.dead_letter_table:
                    msg = (
                        f"Stream '{self.stream_name}': record {self.stats['records_read'] + 1} {reason}. "
                        "Set dead_letter_table to keep loading and collect such rows, or validate_records: false."
                    )
                    raise SchemaMismatchError(msg, stream=self.stream_name) from None
                self._schema_problem = f"schema: {reason}"
        return record

    def start_batch(self, context: dict) -> None:
        """Give a new batch its :class:`Batch`: rows, the records they came from, record numbers, lines."""
        self._batch = context["batch"] = Batch()

    def add_record(self, record: dict | RawRecord) -> bool:
        """Check, shape and buffer one record of a plain stream; return True when the batch is full.

        Full: ``batch_size`` rows, or ``batch_max_bytes`` of input (the RECORD lines' length, a
        measure read for free; the rows and their upload take a small multiple of it).

        The lean equivalent of the SDK's per-record steps (drop ``_sdc_`` metadata, validate,
        check key properties, tally, ``process_record``), with one call instead of eight: at
        100,000 records a second every call counts. Counted in the record metric per batch.

        A :class:`RawRecord` (raw layout) is checked by :meth:`_check_raw` and stored as its text.

        Raises:
            RejectedRowsError: The record does not match its SCHEMA and no dead-letter table is set.
            MissingKeyError: The record lacks a key property.
        """
        if type(record) is RawRecord:
            record = self._check_raw(record)
        else:
            self._check_values(record)
        context = self._pending_batch or self._get_context(record)
        self._total_records_read += 1
        self._batch_records_read += 1
        self._uncounted += 1
        self.process_record(record, context)
        return self._batch_records_read >= self._max_rows or self._batch.input_chars >= self._max_bytes

    def _check_values(self, record: dict) -> None:
        """Drop ``_sdc_`` metadata, validate, check key properties (raises as :meth:`add_record`)."""
        if not SDC_METADATA.isdisjoint(record):
            self._remove_sdc_metadata_from_record(record)
        if self._validator is not None:
            self._validate_and_parse(record)
        if not self._key_set.issubset(record):
            self._singer_validate_message(record)

    def process_record(self, record: dict | RawRecord, context: dict) -> None:
        """Shape the record into a row now and buffer it with the record (for insertIds).

        ``context`` is the batch's, whose :class:`Batch` :meth:`start_batch` made.
        """
        row, problems = self.shaper.shape(record)
        if self._schema_problem:
            problems = [self._schema_problem, *problems]
            self._schema_problem = None
        stats = self.stats
        stats["records_read"] += 1
        reader = self._reader
        if type(record) is RawRecord:
            record = record.text  # the batch keeps a raw-layout record as its text (:func:`.raw_records.as_record`)
        self._batch.add(row, record, stats["records_read"], reader.line_number, reader.line_length, problems)

    def process_batch(self, context: dict) -> None:
        """Hand the buffered rows to the commit thread, after the previous batch has committed.

        Rows the target found invalid are never sent: they go to the dead-letter table, or the
        batch fails before anything is written.

        Raises:
            RejectedRowsError: Invalid rows and no dead-letter table is set.
            LoadError: The previous batch failed to commit.
        """
        if self._uncounted:
            self.record_counter_metric.increment(self._uncounted)
            self._uncounted = 0
        batch: Batch | None = context.get("batch")
        if batch is None or not batch.rows:
            return
        local = batch.refused_here()
        if local and not self._settings.dead_letter_table:
            raise rejected_error(self.stream_name, self.table_id, local, batch)
        if self._merged_appends:
            self._commits.submit_merged((batch, local), batch.numbers[0], batch.numbers[-1], self._commit_merged)
            return
        self._commits.submit(lambda: self._commit(batch, local), batch.numbers[0], batch.numbers[-1])

    def _commit_merged(self, items: list[tuple[Batch, list[RowError]]]) -> None:
        """Commit batches that waited for the append in flight as one (see :func:`.batch.merged`)."""
        self._commit(*merged(items))

    def wait_committed(self) -> None:
        """Wait for the batch in flight, if any; re-raise its error (see :meth:`CommitThread.wait`).

        Raises:
            LoadError: The batch failed to commit (and nothing after it will be).
        """
        self._commits.wait()
        finished = self._coalescer.finish()  # the batches of a coalesced load job, committed now
        if finished is not None:
            batches, rows, job_id = finished
            self._count(loader.LoadResult(rows=rows, method="load_job", requests=1, job_id=job_id))
            self._commits.complete(batches)

    def _commit(self, batch: Batch, local: list[RowError]) -> bool:
        """Commit one batch (on the commit thread).

        Raises:
            LoadError: The batch was not stored; for a transport or API error, the message
                names the stream and the records (not the input line being read when the error
                reaches the reading thread).
        """
        try:
            return self._commit_batch(batch, local)
        except LoadError as exc:
            # The loader knows the table and the job, not the stream.
            exc.stream = exc.stream or self.stream_name
            raise
        except (requests.RequestException, GoogleAPIError, OSError) as exc:
            msg = (
                f"Stream '{self.stream_name}': records {batch.numbers[0]} to {batch.numbers[-1]} were not stored; "
                f"BigQuery did not accept or answer the request ({type(exc).__name__}: {api_error_text(exc)}). No "
                "STATE after them was written: the next run sends them again."
            )
            raise LoadError(msg, stream=self.stream_name, located=True) from exc

    def _commit_batch(self, batch: Batch, local: list[RowError]) -> bool:
        """Commit one batch; return True when it went into a coalesced load job (committed later)."""
        settings = self._settings
        rows = batch.rows
        bad = {e.index for e in local}
        keep = [i for i in range(len(rows)) if i not in bad] if bad else range(len(rows))
        table = self._ensure_table()
        threshold = settings.streaming_threshold
        try:
            result = loader.insert_rows_smart(
                self._run.client,
                table,
                [rows[i] for i in keep] if bad else rows,
                # insertIds matter only to streaming inserts: computed only when the batch goes so.
                lambda: [self.insert_id(batch.records[i], batch.numbers[i]) for i in keep],
                streaming_threshold=threshold,
                merge=self.merge,
                batch_label=self._run.next_batch_label(self.stream_name),
                compress=settings.compress_uploads,
                on_request=self._commits.started.set,
                job_timeout=settings.job_timeout_seconds,
                write_method=settings.write_method,
                storage=self._run.storage,
                budget=self._run.budget,
                coalesce=self._coalescer.add,
            )
        except RowTooLargeError as exc:
            raise too_large_error(self.stream_name, self.table_id, exc.rejected, list(keep), batch) from None
        rejected = local + [RowError(keep[e.index], e.reasons) for e in result.rejected]
        if rejected:
            if not settings.dead_letter_table:
                raise rejected_error(self.stream_name, self.table_id, rejected, batch)
            dead_letter_id = f"{self.config['project']}.{self.config['dataset']}.{settings.dead_letter_table}"
            self.stats["dead_letters"] += write_dead_letters(
                self._run.tables, dead_letter_id, self.stream_name, rejected, batch, self.insert_id, self.logger
            )
        if result.deferred:
            return True
        self._count(result)
        return False

    def _count(self, result: loader.LoadResult) -> None:
        """Add a committed batch to the stream's counts and progress; warn at the daily job quota's approach."""
        self.stats["rows"] += result.rows
        self.stats["streaming_requests"] += result.requests if result.method == "streaming" else 0
        self.stats["load_jobs"] += 1 if result.method == "load_job" else 0
        self.stats["merges"] += 1 if result.method == "merge" else 0
        self.stats["storage_appends"] += result.requests if result.method == "storage_write" else 0
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

    def insert_id(self, record: dict | str, number: int) -> str:
        """Return the insertId of the stream's record ``number`` (see :func:`target_bigquery_smart.rows.insert_id`)."""
        return insert_id(self.stream_name, as_record(record), number)

    def clean_up(self) -> None:
        """Wait for the last batch and stop the commit thread (end of input)."""
        try:
            self.wait_committed()
        finally:
            self._commits.shutdown()
        super().clean_up()
