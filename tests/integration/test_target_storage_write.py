"""write_method: storage_write against the emulator's Storage Write API (gRPC port): rows, offsets, merge, quota."""

from __future__ import annotations

import json

import pytest
from google.api_core.exceptions import ServiceUnavailable
from helpers import record_line, run_target, state_line, table_rows

from target_bigquery_smart import storage_write
from target_bigquery_smart.errors import LoadError

NESTED_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "ts": {"type": "string", "format": "date-time"},
        "amount": {"type": "number", "format": "decimal"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "owner": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "scores": {"type": "array", "items": {"type": "object", "properties": {"v": {"type": "integer"}}}},
            },
        },
        "extra": {"type": "object"},
    },
}


def nested_schema_line(schema=NESTED_SCHEMA):
    return json.dumps({"type": "SCHEMA", "stream": "items", "schema": schema, "key_properties": ["id"]})


def nested(i: int) -> dict:
    return {
        "id": i,
        "ts": f"2024-01-0{1 + i % 9}T10:00:00.123456Z",
        "amount": f"{i}.000000001",
        "tags": [f"t{i}", "x"],
        "owner": {"name": f"n{i}", "scores": [{"v": i}, {"v": -i}]},
        "extra": {"k": [i, None]},
    }


def storage_config(target_config, **extra):
    return {**target_config, "write_method": "storage_write", "flatten": True, **extra}


def test_flattened_nested_repeated_json_numeric_timestamp_rows_exact(bq_client, target_config, batch_spy):
    lines = [nested_schema_line(), *(record_line(nested(i)) for i in range(1, 8)), state_line({"n": 7})]
    states = run_target(storage_config(target_config, batch_size=3, storage_write_queued_batches=0), lines)
    assert states == [{"n": 7}]
    assert [b["method"] for b in batch_spy] == ["storage_write"] * 3
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items", "ORDER BY id")
    assert [r["id"] for r in rows] == list(range(1, 8))
    third = rows[2]
    assert third["ts"].isoformat() == "2024-01-04T10:00:00.123456+00:00"
    assert str(third["amount"]) == "3.000000001"
    assert third["tags"] == ["t3", "x"]
    assert third["owner"] == {"name": "n3", "scores": [{"v": 3}, {"v": -3}]}
    assert third["extra"] == {"k": [3, None]}


def test_raw_rows_exact(bq_client, target_config):
    records = [{"id": i, "name": f"n{i}", "deep": {"a": [i]}} for i in range(1, 6)]
    lines = [nested_schema_line({"type": "object", "properties": {"id": {"type": "integer"}}})]
    lines += [record_line(r) for r in records]
    run_target({**target_config, "write_method": "storage_write", "batch_size": 2}, lines)
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items")
    assert sorted((json.loads(r["raw_data"]) for r in rows), key=lambda r: r["id"]) == records
    assert {r["org_slug"] for r in rows} == {"acme"}


def test_lost_append_response_is_retried_at_same_offset_and_rows_land_once(
    bq_client, target_config, monkeypatch, sleeps
):
    """The first AppendRows reaches BigQuery, its response is lost: the retry answers ALREADY_EXISTS."""
    real = storage_write.send_append
    sent: list[tuple[int, int]] = []  # (offset, gRPC error code of the answer)

    def lose_first_response(client, request):
        response = real(client, request)
        sent.append((request.offset, response.error.code if "error" in response else 0))
        if len(sent) == 1:
            msg = "connection reset before the response arrived"
            raise ServiceUnavailable(msg)
        return response

    monkeypatch.setattr(storage_write, "send_append", lose_first_response)
    lines = [nested_schema_line(), *(record_line(nested(i)) for i in range(1, 7)), state_line({"n": 6})]
    assert run_target(storage_config(target_config, batch_size=3), lines) == [{"n": 6}]
    assert sent == [(0, 0), (0, storage_write.ALREADY_EXISTS), (3, 0)]
    assert len(sleeps) == 1
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items", "ORDER BY id")
    assert [r["id"] for r in rows] == [1, 2, 3, 4, 5, 6]


def refuse_rows_once(monkeypatch, indexes):
    """Answer the first AppendRows with row errors for ``indexes`` (nothing appended, as BigQuery documents).

    The emulator differs here: it writes the valid rows of such a request, and answers a request
    whose rows are all invalid with a call error instead of row errors; so the refusal is the
    documented answer, and every other request reaches the emulator. Returns (offset, rows) sent.
    """
    from google.cloud.bigquery_storage_v1 import types

    real = storage_write.send_append
    sent: list[tuple[int, int]] = []

    def send(client, request):
        import pyarrow as pa

        schema = pa.ipc.read_schema(pa.py_buffer(request.arrow_rows.writer_schema.serialized_schema))
        batch = pa.ipc.read_record_batch(pa.py_buffer(request.arrow_rows.rows.serialized_record_batch), schema)
        sent.append((request.offset, batch.num_rows))
        if len(sent) == 1:
            code = types.RowError.RowErrorCode.FIELDS_ERROR
            return types.AppendRowsResponse(
                error={"code": 3, "message": "Rows are invalid"},
                row_errors=[types.RowError(index=i, code=code, message="bad value") for i in indexes],
            )
        return real(client, request)

    monkeypatch.setattr(storage_write, "send_append", send)
    return sent


def test_rows_refused_in_a_request_the_others_are_appended_again_at_the_same_offset(
    bq_client, target_config, monkeypatch
):
    """As BigQuery documents: a request with row errors appends nothing; the rest goes again at its offset."""
    sent = refuse_rows_once(monkeypatch, [1])
    config = storage_config(target_config, batch_size=3, dead_letter_table="dead")
    run_target(config, [nested_schema_line(), *(record_line(nested(i)) for i in range(1, 7))])
    assert sent == [(0, 3), (0, 2), (2, 3)]
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items", "ORDER BY id")
    assert [r["id"] for r in rows] == [1, 3, 4, 5, 6]
    dead = table_rows(bq_client, target_config["project"], target_config["dataset"], "dead")
    assert [(d["record_number"], d["errors"]) for d in dead] == [(2, "fields_error: bad value")]


def test_row_refused_by_append_without_dead_letters_fails_naming_record(bq_client, target_config, monkeypatch):
    refuse_rows_once(monkeypatch, [1])
    lines = [nested_schema_line(), *(record_line(nested(i)) for i in (1, 2, 3))]
    with pytest.raises(LoadError) as info:
        run_target(storage_config(target_config, batch_size=3), lines)
    assert "Stream 'items'" in str(info.value)
    assert "record 2" in str(info.value)
    assert "fields_error: bad value" in str(info.value)


def test_merge_through_pending_stream_each_key_once(bq_client, target_config):
    lines = [nested_schema_line()]
    lines += [record_line({**nested(i), "tags": ["first"]}) for i in range(1, 5)]
    lines += [record_line({**nested(i), "tags": ["second"]}) for i in (2, 3)]
    config = storage_config(target_config, batch_size=2, write_mode="merge")
    run_target(config, [*lines, state_line({"n": 6})])
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items", "ORDER BY id")
    assert [(r["id"], r["tags"]) for r in rows] == [(1, ["first"]), (2, ["second"]), (3, ["second"]), (4, ["first"])]


def test_new_column_opens_a_new_write_stream(bq_client, target_config):
    wider = {**NESTED_SCHEMA, "properties": {**NESTED_SCHEMA["properties"], "color": {"type": "string"}}}
    lines = [nested_schema_line(), record_line(nested(1)), record_line(nested(2))]
    lines += [nested_schema_line(wider), record_line({**nested(3), "color": "red"})]
    run_target(storage_config(target_config, batch_size=2), lines)
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items", "ORDER BY id")
    assert [(r["id"], r["color"]) for r in rows] == [(1, None), (2, None), (3, "red")]


@pytest.mark.parametrize(
    ("storage_endpoint", "methods", "over", "states"),
    [
        (True, ["load_job"] * 3 + ["storage_write"] * 7, "storage_write after 3 jobs", [{"n": 9}, {"n": 20}]),
        # Without the Storage Write API the third job is the coalesced one: it takes the last 8 batches,
        # and STATE after any of them waits for it (committed at the end of input).
        (False, ["load_job"] * 2 + ["coalesce"] * 8, "coalesce after 3 jobs", [{"n": 20}]),
    ],
    ids=["storage", "coalesce"],
)
def test_load_job_budget_of_three_jobs_and_ten_batches(
    bq_client, target_config, batch_spy, caplog, storage_endpoint, methods, over, states
):
    config = {**target_config, "write_method": "load_job", "batch_size": 2, "max_load_jobs_per_table": 3}
    if not storage_endpoint:
        config.pop("storage_api_endpoint")
    lines = [nested_schema_line({"type": "object", "properties": {"id": {"type": "integer"}}})]
    lines += [record_line({"id": i}) for i in range(1, 21)]
    lines.insert(10, state_line({"n": 9}))  # after the 5th batch's first record: safe once batch 5 commits
    assert run_target(config, [*lines, state_line({"n": 20})]) == states
    assert [b["method"] for b in batch_spy] == methods
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items")
    assert sorted(json.loads(r["raw_data"])["id"] for r in rows) == list(range(1, 21))
    summary = next(r for r in caplog.records if "table_summary" in r.getMessage()).getMessage()
    assert '"load_jobs":3,' in summary
    assert f'"over_job_budget":"{over}"' in summary


def test_partition_count_divides_the_budget(target_config, batch_spy, monkeypatch):
    monkeypatch.setenv("CLOUD_RUN_TASK_COUNT", "2")
    config = {**target_config, "write_method": "load_job", "batch_size": 2}
    config.update(max_load_jobs_per_table=4, partition_count="auto")
    lines = [nested_schema_line({"type": "object", "properties": {"id": {"type": "integer"}}})]
    run_target(config, lines + [record_line({"id": i}) for i in range(1, 9)])
    assert [b["method"] for b in batch_spy] == ["load_job"] * 2 + ["storage_write"] * 2


def test_coalesced_load_uploads_chunk_by_chunk(bq_client, target_config, monkeypatch, batch_spy):
    """The coalesced job's rows reach BigQuery as the resumable upload's chunks, never as one whole body."""
    from google.cloud.bigquery import client as bigquery_client
    from google.resumable_media.requests import ResumableUpload

    monkeypatch.setattr(bigquery_client, "_DEFAULT_CHUNKSIZE", 256 * 1024)  # the smallest chunk allowed
    chunks: list[int] = []
    real = ResumableUpload.transmit_next_chunk

    def transmit(self, transport, *args, **kwargs):
        before = self.bytes_uploaded
        response = real(self, transport, *args, **kwargs)
        chunks.append(self.bytes_uploaded - before)
        return response

    monkeypatch.setattr(ResumableUpload, "transmit_next_chunk", transmit)
    config = {**target_config, "write_method": "load_job", "batch_size": 100, "max_load_jobs_per_table": 1}
    config.pop("storage_api_endpoint")
    lines = [nested_schema_line({"type": "object", "properties": {"id": {"type": "integer"}}})]
    lines += [record_line({"id": i, "pad": "x" * 1000}) for i in range(1, 1001)]
    run_target(config, lines)
    assert [b["method"] for b in batch_spy] == ["coalesce"] * 10
    assert len(chunks) >= 4
    assert set(chunks[:-1]) == {256 * 1024}
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items")
    assert sorted(json.loads(r["raw_data"])["id"] for r in rows) == list(range(1, 1001))


@pytest.mark.parametrize(
    ("write_method", "methods"),
    [("smart", ["load_job", "streaming"]), ("load_job", ["load_job", "load_job"]), ("streaming", ["streaming"] * 2)],
)
def test_write_method_forces_the_path_whatever_the_batch_size(
    bq_client, target_config, batch_spy, write_method, methods
):
    """150 rows then 50 with streaming_threshold 100: smart picks by size, the others always take their path."""
    config = {**target_config, "write_method": write_method, "batch_size": 150}
    lines = [nested_schema_line({"type": "object", "properties": {"id": {"type": "integer"}}})]
    run_target(config, lines + [record_line({"id": i}) for i in range(1, 201)])
    assert [b["method"] for b in batch_spy] == methods
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items")
    assert sorted(json.loads(r["raw_data"])["id"] for r in rows) == list(range(1, 201))
