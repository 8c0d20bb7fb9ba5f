"""target-bigquery-smart against the emulator: batching, insertIds, load jobs, STATE timing."""

from __future__ import annotations

import io
import json
import logging
from contextlib import redirect_stdout

import pytest
from helpers import record_line, run_target, schema_line, state_line, table_rows

from target_bigquery_smart import loader, sinks
from target_bigquery_smart.rows import insert_id
from target_bigquery_smart.target import TargetBigQuerySmart

pytestmark = pytest.mark.emulator
CAPTURE_DEBUG_LOGS = False


def test_small_batch_is_one_streaming_insert_with_explicit_insert_ids(target_config, bq_client, insert_spy, batch_spy):
    records = [{"id": i, "name": f"n{i}"} for i in range(50)]
    lines = [schema_line()] + [record_line(r) for r in records]
    run_target(target_config, lines)

    assert len(insert_spy) == 1
    assert insert_spy[0]["rows"] == 50
    expected_ids = [insert_id("items", r, n) for n, r in enumerate(records, start=1)]
    assert insert_spy[0]["row_ids"] == expected_ids
    assert len(set(expected_ids)) == 50
    assert batch_spy == [{"rows": 50, "method": "streaming"}]

    # The same 50 rows again within a minute: BigQuery de-duplicates by insertId.
    run_target(target_config, lines)
    assert insert_spy[1]["row_ids"] == expected_ids
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items")
    assert len(rows) == 50
    assert sorted(json.loads(r["raw_data"])["id"] for r in rows) == list(range(50))


def test_ten_thousand_records_are_ten_load_jobs(target_config, bq_client, insert_spy, batch_spy):
    lines = [schema_line()] + [record_line({"id": i}) for i in range(10_000)]
    run_target({**target_config, "batch_size": 1000}, lines)
    assert batch_spy == [{"rows": 1000, "method": "load_job"}] * 10
    assert insert_spy == []
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items")
    assert len(rows) == 10_000


@pytest.mark.parametrize("write_mode", ["append", "merge"])
def test_many_load_jobs_into_one_table_warn_once_about_the_daily_limit(target_config, monkeypatch, caplog, write_mode):
    monkeypatch.setattr(sinks, "TABLE_JOBS_WARNING", 3)
    lines = [schema_line()] + [record_line({"id": i}) for i in range(11)]
    # append: 5 load jobs and a streaming insert (the last row); merge: 6 MERGEs.
    run_target({**target_config, "batch_size": 2, "streaming_threshold": 2, "write_mode": write_mode}, lines)
    table = f"{target_config['project']}.{target_config['dataset']}.items"
    warnings = [r.getMessage() for r in caplog.records if "per table per day" in r.getMessage()]
    assert warnings == [
        f"Stream 'items': 3 load jobs or MERGEs into {table} in this run. BigQuery allows 1,500 per table per "
        "day (failed ones included), so a few such runs a day would exhaust it; raise batch_size (now 2 rows) "
        "to load the same rows in fewer jobs. Memory holds at most two batches per stream."
    ]


def test_counts_and_the_daily_limit_warning_span_a_changed_schema(target_config, monkeypatch, caplog):
    """A changed SCHEMA gives the stream a new sink; the summary and the warning count the whole run."""
    monkeypatch.setattr(sinks, "TABLE_JOBS_WARNING", 3)
    other = {"type": "object", "properties": {"id": {}, "v": {}}}
    lines = [schema_line()] + [record_line({"id": i}) for i in range(4)]
    lines += [json.dumps({"type": "SCHEMA", "stream": "items", "schema": other, "key_properties": ["id"]})]
    lines += [record_line({"id": i, "v": 1}) for i in range(4, 8)]
    with caplog.at_level(logging.INFO):
        run_target({**target_config, "batch_size": 2, "streaming_threshold": 2}, lines)  # 2 + 2 load jobs
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if "per table per day" in m]) == 1
    (summary,) = [m for m in messages if m.startswith("Summary for stream 'items'")]
    table = f"{target_config['project']}.{target_config['dataset']}.items"
    assert summary.startswith(
        f"Summary for stream 'items': table={table}, streaming_calls=0, load_jobs=4, merges=0, storage_appends=0, "
        "dead_lettered=0, retries=0, rows=8, seconds="
    )


def test_buffer_never_exceeds_batch_size(target_config, batch_spy):
    lines = [schema_line()] + [record_line({"id": i, "pad": "x" * 50}) for i in range(20_000)]
    run_target({**target_config, "batch_size": 1000}, lines)
    assert max(b["rows"] for b in batch_spy) == 1000
    assert sum(b["rows"] for b in batch_spy) == 20_000


def test_state_is_written_only_after_the_rows_before_it_are_committed(target_config, monkeypatch):
    events = []
    real = loader.insert_rows_smart

    def spy(client, table, rows, row_ids, **kwargs):
        result = real(client, table, rows, row_ids, **kwargs)
        events.append(("commit", len(rows)))
        return result

    monkeypatch.setattr(sinks.loader, "insert_rows_smart", spy)
    real_write = TargetBigQuerySmart._write_state_message

    def write_spy(self, state):
        events.append(("state", state["n"]))
        real_write(self, state)

    monkeypatch.setattr(TargetBigQuerySmart, "_write_state_message", write_spy)

    lines = [schema_line(), state_line({"n": 0})]
    lines += [record_line({"id": i}) for i in range(0, 150)]
    lines.append(state_line({"n": 1}))  # after record 149: needs the second batch committed
    lines += [record_line({"id": i}) for i in range(150, 230)]
    lines.append(state_line({"n": 2.5}))  # a Decimal in STATE must not crash the writer
    states = run_target({**target_config, "batch_size": 100, "streaming_threshold": 10}, lines)

    assert events == [
        ("state", 0),  # nothing buffered: safe at once
        ("commit", 100),
        ("commit", 100),
        ("state", 1),
        ("commit", 30),
        ("state", 2.5),
    ]
    assert states == [{"n": 0}, {"n": 1}, {"n": 2.5}]


def test_no_state_after_a_failed_commit(target_config, monkeypatch):
    def failing(*args, **kwargs):
        raise loader.LoadError("boom")

    monkeypatch.setattr(sinks.loader, "insert_rows_smart", failing)
    lines = [schema_line()] + [record_line({"id": i}) for i in range(10)] + [state_line({"n": 1})]
    target = TargetBigQuerySmart(config=target_config, parse_env_config=False)
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(loader.LoadError):
        target.listen(file_input=io.StringIO("\n".join(lines) + "\n"))
    assert out.getvalue() == ""


def test_record_missing_key_property_names_stream_and_record(target_config):
    lines = [schema_line(), record_line({"id": 1}), record_line({"name": "no id"})]
    with pytest.raises(sinks.MissingKeyError, match=r"Stream 'items': record 2 lacks key property \['id'\]"):
        run_target(target_config, lines)


def test_load_job_retry_with_same_content_does_not_load_twice(target_config, bq_client):
    raw_schema = [
        loader.bigquery.SchemaField("org_slug", "STRING"),
        loader.bigquery.SchemaField("raw_data", "STRING"),
        loader.bigquery.SchemaField("extracted_at", "TIMESTAMP"),
    ]
    table = loader.ensure_table(bq_client, f"{target_config['project']}.{target_config['dataset']}.retry", raw_schema)
    rows = [
        {"org_slug": "a", "raw_data": json.dumps({"id": i}), "extracted_at": "2026-01-01T00:00:00Z"} for i in range(200)
    ]
    first = loader.load_rows(bq_client, table, rows)
    second = loader.load_rows(bq_client, table, rows)  # as after a lost response
    assert first == second
    assert len(table_rows(bq_client, target_config["project"], target_config["dataset"], "retry")) == 200
