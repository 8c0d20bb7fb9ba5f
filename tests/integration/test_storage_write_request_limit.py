"""write_method: storage_write into a gRPC server that takes less than BigQuery's 10 MB a request.

The emulator's gRPC port keeps gRPC's default receive limit (4 MiB) and refuses a larger
AppendRows with RESOURCE_EXHAUSTED "Received message larger than max (N vs. 4194304)". The
target learns the limit from that message and sends the same rows again, cut smaller, at the
same offsets; a row too large for the learned limit goes by load job, never twice.
"""

from __future__ import annotations

import json

import pyarrow as pa
from google.api_core.exceptions import ResourceExhausted
from helpers import record_line, run_target, state_line, table_rows

from target_bigquery_smart import storage_write

SCHEMA_LINE = json.dumps(
    {
        "type": "SCHEMA",
        "stream": "items",
        "schema": {"properties": {"id": {"type": "integer"}, "text": {"type": "string"}}},
        "key_properties": ["id"],
    }
)
SERVER_LIMIT = 4 * 1024 * 1024


def spy_appends(monkeypatch) -> list[tuple]:
    """Record each AppendRows sent: (offset, rows, "ok") or (offset, rows, "too large")."""
    sent: list[tuple] = []
    real = storage_write.send_append

    def send(client, request):
        arrow = request.arrow_rows
        schema = pa.ipc.read_schema(pa.py_buffer(arrow.writer_schema.serialized_schema))
        rows = pa.ipc.read_record_batch(pa.py_buffer(arrow.rows.serialized_record_batch), schema).num_rows
        try:
            response = real(client, request)
        except ResourceExhausted:
            sent.append((request.offset, rows, "too large"))
            raise
        sent.append((request.offset, rows, "ok"))
        return response

    monkeypatch.setattr(storage_write, "send_append", send)
    return sent


def stored_ids(bq_client, target_config) -> list[tuple[int, int]]:
    """(id, length of text) of every row in the table, by id."""
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items")
    records = sorted((json.loads(r["raw_data"]) for r in rows), key=lambda r: r["id"])
    return [(r["id"], len(r["text"])) for r in records]


def test_an_append_over_the_servers_limit_goes_again_in_smaller_appends(
    bq_client, target_config, monkeypatch, batch_spy, caplog
):
    sent = spy_appends(monkeypatch)
    lines = [SCHEMA_LINE, *(record_line({"id": i, "text": "x" * 15_000}) for i in range(1, 401)), state_line({"n": 1})]
    config = {**target_config, "write_method": "storage_write", "batch_size": 1000}
    with caplog.at_level("INFO", logger="target_bigquery_smart.loader"):
        states = run_target(config, lines)
    # 400 rows of 15 kB (6 MB) fit BigQuery's 10 MB but not the server's 4 MiB: refused, then
    # sent again at offset 0 in two halves.
    assert sent == [(0, 400, "too large"), (0, 200, "ok"), (200, 200, "ok")]
    assert batch_spy == [{"rows": 400, "method": "storage_write"}]
    assert states == [{"n": 1}]
    assert stored_ids(bq_client, target_config) == [(i, 15_000) for i in range(1, 401)]
    assert f"takes at most {SERVER_LIMIT} bytes a request" in caplog.text


def run_with_large_row(target_config, monkeypatch, small: int, caplog) -> tuple[list[tuple], list[dict]]:
    """Load ``small`` rows of 15 kB and one of 3.9 MB (under 4 MiB, over the limit learned) in one batch."""
    sent = spy_appends(monkeypatch)
    records = [{"id": i, "text": "x" * 15_000} for i in range(1, small + 1)]
    records.append({"id": small + 1, "text": "y" * 3_900_000})
    lines = [SCHEMA_LINE, *(record_line(r) for r in records), state_line({"n": 1})]
    config = {**target_config, "write_method": "storage_write", "batch_size": 1000}
    with caplog.at_level("INFO", logger="target_bigquery_smart.loader"):
        states = run_target(config, lines)
    return sent, states


def test_rows_appended_before_the_limit_was_learned_stay_and_the_rest_go_by_load_job(
    bq_client, target_config, monkeypatch, batch_spy, caplog
):
    sent, states = run_with_large_row(target_config, monkeypatch, 400, caplog)
    # 9.9 MB: cut in two for BigQuery's 10 MB (200 rows of 3 MB, then 201 with the large row).
    # The first fits the server and is appended; the second is refused, and once the server's
    # limit is known it cannot be cut small enough: its 201 rows go by load job, the first 200
    # are not loaded again.
    assert sent == [(0, 200, "ok"), (200, 201, "too large")]
    assert batch_spy == [{"rows": 401, "method": "storage_write"}]
    assert "200 rows appended, loading the other 201 of the batch by load job" in caplog.text
    assert states == [{"n": 1}]
    assert stored_ids(bq_client, target_config) == [(i, 15_000) for i in range(1, 401)] + [(401, 3_900_000)]


def test_a_batch_with_a_row_too_large_for_the_learned_limit_and_nothing_appended_goes_by_load_job(
    bq_client, target_config, monkeypatch, batch_spy, caplog
):
    sent, states = run_with_large_row(target_config, monkeypatch, 600, caplog)
    # 12.9 MB: 300 rows (4.5 MB) refused first; the limit learned, the 301 rows after cannot be
    # cut small enough, so nothing is appended and the whole batch goes by one load job.
    assert sent == [(0, 300, "too large")]
    assert batch_spy == [{"rows": 601, "method": "load_job"}]
    assert states == [{"n": 1}]
    assert stored_ids(bq_client, target_config) == [(i, 15_000) for i in range(1, 601)] + [(601, 3_900_000)]


def test_resource_exhausted_without_a_size_is_not_taken_for_a_limit():
    limit = storage_write.AppendLimit()
    assert not limit.learn(ResourceExhausted("Quota exceeded for quota metric 'AppendRows throughput'"), 100)
    assert not limit.learn(ResourceExhausted("Received message larger than max (20000000 vs. 16777216)"), 100)
    assert limit.max_bytes == storage_write.APPEND_MAX_BYTES
    assert limit.learn(ResourceExhausted("Received message larger than max (8087623 vs. 4194304)"), 100)
    assert limit.max_bytes == int(4194304 * 0.9) - 100 - 1024


def test_merge_stages_by_load_job_when_a_row_is_too_large_for_the_learned_limit(
    bq_client, target_config, monkeypatch, batch_spy, caplog
):
    sent = spy_appends(monkeypatch)
    records = [{"id": i, "text": "x" * 15_000} for i in range(1, 401)]
    records += [{"id": 401, "text": "y" * 3_900_000}, {"id": 1, "text": "new"}]
    lines = [SCHEMA_LINE, *(record_line(r) for r in records), state_line({"n": 1})]
    config = {**target_config, "write_method": "storage_write", "write_mode": "merge", "batch_size": 1000}
    with caplog.at_level("INFO", logger="target_bigquery_smart.loader"):
        states = run_target(config, lines)
    # The pending stream got the first 200 rows before the server refused the rest; it is never
    # committed, so the staging table is filled by one load job instead and each key merged once.
    assert sent == [(0, 200, "ok"), (200, 201, "too large")]  # 401 keys, id 1 last (its newest record)
    assert "staging the batch by load job" in caplog.text
    assert states == [{"n": 1}]
    expected = [(1, 3)] + [(i, 15_000) for i in range(2, 401)] + [(401, 3_900_000)]
    assert stored_ids(bq_client, target_config) == expected
