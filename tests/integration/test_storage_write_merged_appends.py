"""write_method: storage_write: batches read while an append is in flight go together in the next append."""

from __future__ import annotations

import json
import threading

from helpers import record_line, run_target, state_line, table_rows

from target_bigquery_smart import commits, storage_write
from target_bigquery_smart.target import TargetBigQuerySmart

SCHEMA = {"properties": {"id": {"type": "integer"}}}
SCHEMA_LINE = json.dumps({"type": "SCHEMA", "stream": "items", "schema": SCHEMA, "key_properties": ["id"]})


def lines_with_states(batches: int, size: int) -> list[str]:
    """RECORD lines of ids 1..batches*size with a STATE (bookmark = last id) after each batch."""
    lines = [SCHEMA_LINE]
    for i in range(1, batches * size + 1):
        lines.append(record_line({"id": i}))
        if i % size == 0:
            lines.append(state_line({"id": i}))
    return lines


def hold_first_append_until_queued(monkeypatch, queued: int) -> tuple[list[tuple], list[tuple]]:
    """Hold the first AppendRows until ``queued`` batches wait behind it.

    Returns the appends, acks and STATE lines in order, and each batch handed over (its first
    record number, and the acks before it returned to the reading thread).
    """
    events: list[tuple] = []
    submits: list[tuple[int, int]] = []
    ready = threading.Event()
    real_send, real_submit = storage_write.send_append, commits.CommitThread.submit_merged
    real_state = TargetBigQuerySmart._write_state_message

    def submit(self, item, first, last, commit_many):
        real_submit(self, item, first, last, commit_many)
        submits.append((first, sum(1 for e in events if e[0] == "ack")))
        if len(self._queue) >= queued:
            ready.set()

    def send(client, request):
        import pyarrow as pa

        schema = pa.ipc.read_schema(pa.py_buffer(request.arrow_rows.writer_schema.serialized_schema))
        rows = pa.ipc.read_record_batch(pa.py_buffer(request.arrow_rows.rows.serialized_record_batch), schema)
        events.append(("append", request.offset, rows.num_rows))
        if len(events) == 1:
            assert ready.wait(60), "the batches behind the first append were never queued"
        response = real_send(client, request)
        events.append(("ack", request.offset))
        return response

    def write_state(self, state):
        events.append(("state", state["id"]))
        real_state(self, state)

    monkeypatch.setattr(commits.CommitThread, "submit_merged", submit)
    monkeypatch.setattr(storage_write, "send_append", send)
    monkeypatch.setattr(TargetBigQuerySmart, "_write_state_message", write_state)
    return events, submits


def test_batches_queued_behind_an_append_go_in_one_append_and_state_follows_its_ack(
    bq_client, target_config, monkeypatch
):
    events, _ = hold_first_append_until_queued(monkeypatch, queued=3)
    config = {**target_config, "write_method": "storage_write", "flatten": True, "batch_size": 2}
    states = run_target(config, lines_with_states(4, 2))
    # Batch 1 alone; batches 2 to 4 waited for it and went in one append at offset 2. The STATE
    # after batch 1 only after its ack; the STATEs after batches 2 and 3 are passed over for the
    # one after batch 4, written once the merged append is acknowledged.
    assert events == [("append", 0, 2), ("ack", 0), ("state", 2), ("append", 2, 6), ("ack", 2), ("state", 8)]
    assert states == [{"id": 2}, {"id": 8}]
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items", "ORDER BY id")
    assert [r["id"] for r in rows] == list(range(1, 9))


def test_a_full_queue_makes_the_reading_thread_wait(bq_client, target_config, monkeypatch):
    """With storage_write_queued_batches batches waiting, the next batch waits too: memory stays bounded."""
    events, submits = hold_first_append_until_queued(monkeypatch, queued=2)
    config = {**target_config, "write_method": "storage_write", "flatten": True, "batch_size": 2}
    states = run_target({**config, "storage_write_queued_batches": 2}, lines_with_states(5, 2))
    # Batches 2 and 3 fill the queue behind batch 1; batch 4 (records 7-8) is handed over only
    # after batch 1's ack, when batches 2 and 3 left the queue together.
    appends = [event for event in events if event[0] == "append"]
    assert appends[:2] == [("append", 0, 2), ("append", 2, 4)]
    assert sum(rows for _, _, rows in appends) == 10
    assert submits[:3] == [(1, 0), (3, 0), (5, 0)]
    assert submits[3][0] == 7
    assert submits[3][1] >= 1
    assert states[-1] == {"id": 10}
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items", "ORDER BY id")
    assert [r["id"] for r in rows] == list(range(1, 11))


def test_merged_append_with_a_refused_row_names_its_record(bq_client, target_config, monkeypatch):
    """A row refused in a merged append is reported as the record it came from, in its own batch."""
    from google.cloud.bigquery_storage_v1 import types

    events, _ = hold_first_append_until_queued(monkeypatch, queued=2)
    held_send = storage_write.send_append

    refused: list[int] = []

    def refuse_in_second_append(client, request):
        if request.offset == 2 and not refused:  # batches 2 and 3 together: record 6 is their row 3
            refused.append(request.offset)
            code = types.RowError.RowErrorCode.FIELDS_ERROR
            return types.AppendRowsResponse(
                error={"code": 3, "message": "Rows are invalid"},
                row_errors=[types.RowError(index=3, code=code, message="bad value")],
            )
        return held_send(client, request)

    monkeypatch.setattr(storage_write, "send_append", refuse_in_second_append)
    config = {**target_config, "write_method": "storage_write", "flatten": True, "batch_size": 2}
    config["dead_letter_table"] = "dead"
    run_target(config, lines_with_states(3, 2))
    assert refused == [2]
    assert [e for e in events if e[0] == "append"] == [("append", 0, 2), ("append", 2, 3)]
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items", "ORDER BY id")
    assert [r["id"] for r in rows] == [1, 2, 3, 4, 5]
    dead = table_rows(bq_client, target_config["project"], target_config["dataset"], "dead")
    assert [(d["record_number"], d["errors"]) for d in dead] == [(6, "fields_error: bad value")]
