"""What is lost and what is written twice, per write mode, when a run is killed or BigQuery fails.

Each test proves sentences of docs/GUARANTEES.md. The target runs as a real process where a
signal or the end of its input is the failure; the kill follows a STATE line read from its
stdout, or rows seen in the table, never a sleep.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, redirect_stdout

import pytest
import requests
from google.api_core import exceptions as api_exceptions
from helpers import BIN, spoil_row, table_rows

from target_bigquery_smart import errors, loader
from target_bigquery_smart.target import TargetBigQuerySmart

pytestmark = pytest.mark.emulator

SCHEMA = {"type": "object", "properties": {"id": {"type": "integer"}, "v": {"type": "integer"}}}
#: Records of the first run: three full batches of 10, then 5 buffered (the kill comes before they are sent).
FIRST_RUN_IDS = range(1, 36)
#: Rows BigQuery must have before the kill: the three full batches.
COMMITTED_BEFORE_KILL = 30
#: The STATE after which the target is killed, and the one the rerun starts from.
KILL_AFTER_STATE = {"upto": 20}
#: Seconds a wait for the target or the table may take before the test fails (never reached when it works).
DEADLINE = 90


def schema_line(stream: str = "items") -> str:
    return json.dumps({"type": "SCHEMA", "stream": stream, "schema": SCHEMA, "key_properties": ["id"]})


def record_line(id_: int, v: int = 1, stream: str = "items") -> str:
    return json.dumps({"type": "RECORD", "stream": stream, "record": {"id": id_, "v": v}})


def state_line(value: dict) -> str:
    return json.dumps({"type": "STATE", "value": value})


def first_run_input() -> list[str]:
    """SCHEMA, records 1..10, STATE upto 10, 11..20, STATE upto 20, 21..35 (no STATE after them yet).

    As a tap that has sent records past its last STATE when the pipeline dies: records 21..30
    fill the third batch (committed), 31..35 are still buffered.
    """
    lines = [schema_line()]
    for block in range(2):
        lines += [record_line(i) for i in range(block * 10 + 1, block * 10 + 11)]
        lines.append(state_line({"upto": block * 10 + 10}))
    lines += [record_line(i) for i in range(21, 36)]
    return lines


def write_config(tmp_path, config: dict) -> str:
    path = tmp_path / f"target-{uuid.uuid4().hex[:6]}.json"
    path.write_text(json.dumps(config))
    return str(path)


def ids_in_table(bq_client, config: dict) -> list[int]:
    rows = table_rows(bq_client, config["project"], config["dataset"], "items")
    return sorted(json.loads(r["raw_data"])["id"] for r in rows)


def wait_for_rows(bq_client, config: dict, count: int) -> None:
    """Wait until the table holds ``count`` rows (the batch's commit is seen in BigQuery itself)."""
    deadline = time.monotonic() + DEADLINE
    while len(ids_in_table(bq_client, config)) < count:
        assert time.monotonic() < deadline, f"the table never reached {count} rows"


@contextmanager
def target_process(tmp_path, config: dict) -> Iterator[subprocess.Popen]:
    """Start the target on ``config`` with pipes for stdin, stdout and stderr (text); kill it on leaving if alive."""
    target = subprocess.Popen(
        [str(BIN / "target-bigquery-smart"), "--config", write_config(tmp_path, config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield target
    finally:
        if target.poll() is None:
            target.kill()
            target.wait()


def kill_after_state(tmp_path, bq_client, config: dict, signum: int) -> tuple[list[dict], int, str]:
    """Run the target on :func:`first_run_input`; after STATE upto 20 and 30 rows stored, send ``signum``.

    The input stays open, so the target is waiting for more lines, holding records 31..35.

    Returns:
        The STATE lines it wrote, its exit status and its stderr.
    """
    with target_process(tmp_path, config) as target:
        target.stdin.write("\n".join(first_run_input()) + "\n")
        target.stdin.flush()
        states = []
        for line in target.stdout:
            states.append(json.loads(line))
            if states[-1] == KILL_AFTER_STATE:
                break
        assert states == [{"upto": 10}, KILL_AFTER_STATE]
        # Rows 21..30 are stored, and their STATE was never received: the case that writes rows twice.
        wait_for_rows(bq_client, config, COMMITTED_BEFORE_KILL)
        os.kill(target.pid, signum)
        target.wait(timeout=DEADLINE)
        states += [json.loads(line) for line in target.stdout.read().splitlines()]
        return states, target.returncode, target.stderr.read()


def rerun_from(tmp_path, config: dict, lines: list[str]) -> list[dict]:
    """Run the target to the end of ``lines``; return its STATE lines (it must exit 0)."""
    done = subprocess.run(
        [str(BIN / "target-bigquery-smart"), "--config", write_config(tmp_path, config)],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return [json.loads(line) for line in done.stdout.splitlines()]


APPEND_PATHS = {
    "streaming_insert": {"batch_size": 10},  # 10 rows < streaming_threshold 100
    "load_job": {"batch_size": 10, "streaming_threshold": 5},
}


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "SIGTERM"])
@pytest.mark.parametrize("path", list(APPEND_PATHS))
def test_append_rerun_after_kill_loses_nothing_and_repeats_only_rows_stored_after_the_last_state(
    tmp_path, target_config, bq_client, path, signum
):
    config = {**target_config, **APPEND_PATHS[path]}
    states, returncode, stderr = kill_after_state(tmp_path, bq_client, config, signum)
    assert returncode == -signum if signum == signal.SIGKILL else 128 + signum, stderr
    assert states == [{"upto": 10}, KILL_AFTER_STATE]  # nothing more, even on SIGTERM
    # Stored: every row before the last STATE, plus the full batch after it; the buffered 31..35 are not.
    assert ids_in_table(bq_client, config) == list(range(1, 31))

    # The rerun starts after the last STATE written, as a tap given that STATE does.
    rerun = [schema_line(), *[record_line(i) for i in range(21, 36)], state_line({"upto": 35})]
    assert rerun_from(tmp_path, config, rerun) == [{"upto": 35}]

    counts = Counter(ids_in_table(bq_client, config))
    assert set(counts) == set(FIRST_RUN_IDS)  # nothing lost
    # Twice: exactly the rows stored after the last STATE (a new run: new insertIds, new job ids).
    assert sorted(i for i, n in counts.items() if n == 2) == list(range(21, 31))
    assert max(counts.values()) == 2


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "SIGTERM"])
def test_merge_rerun_after_kill_is_exact(tmp_path, target_config, bq_client, signum):
    config = {**target_config, "batch_size": 10, "write_mode": "merge"}
    states, returncode, stderr = kill_after_state(tmp_path, bq_client, config, signum)
    assert returncode == -signum if signum == signal.SIGKILL else 128 + signum, stderr
    assert states == [{"upto": 10}, KILL_AFTER_STATE]
    assert ids_in_table(bq_client, config) == list(range(1, 31))

    # The source changed in between: the rerun sends new versions of 21..35.
    rerun = [schema_line(), *[record_line(i, v=2) for i in range(21, 36)], state_line({"upto": 35})]
    assert rerun_from(tmp_path, config, rerun) == [{"upto": 35}]

    rows = table_rows(bq_client, config["project"], config["dataset"], "items")
    versions = sorted((json.loads(r["raw_data"])["id"], json.loads(r["raw_data"])["v"]) for r in rows)
    assert versions == [(i, 1 if i <= 20 else 2) for i in FIRST_RUN_IDS]  # once per key, the newest version
    tables = [t.table_id for t in bq_client.list_tables(f"{config['project']}.{config['dataset']}")]
    assert tables == ["items"]


@pytest.mark.parametrize("write_mode", ["append", "merge"])
def test_input_ending_early_commits_every_row_and_writes_only_the_last_state_received(
    tmp_path, target_config, bq_client, write_mode
):
    """The tap killed at a line boundary: the target sees its input end; it stores every row read."""
    config = {**target_config, "batch_size": 10, "write_mode": write_mode}
    states = rerun_from(tmp_path, config, first_run_input())
    assert states == [{"upto": 10}, KILL_AFTER_STATE]  # never a STATE the tap did not send
    assert ids_in_table(bq_client, config) == list(FIRST_RUN_IDS)

    rerun = [schema_line(), *[record_line(i) for i in range(21, 36)], state_line({"upto": 35})]
    assert rerun_from(tmp_path, config, rerun) == [{"upto": 35}]
    counts = Counter(ids_in_table(bq_client, config))
    assert set(counts) == set(FIRST_RUN_IDS)
    twice = sorted(i for i, n in counts.items() if n == 2)
    assert twice == (list(range(21, 36)) if write_mode == "append" else [])


def test_input_cut_mid_line_commits_the_rows_before_it_and_fails(tmp_path, target_config, bq_client):
    """The tap killed in the middle of a line: that line is an error; the rows before it are stored."""
    config = {**target_config, "batch_size": 10}
    lines = [*first_run_input(), '{"type": "RECORD", "stream": "items", "record": {"id": 3']
    done = subprocess.run(
        [str(BIN / "target-bigquery-smart"), "--config", write_config(tmp_path, config)],
        input="\n".join(lines),  # no newline at the end, as a writer killed mid-line leaves it
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )
    assert done.returncode == 1
    assert "Input line 39 is not valid JSON" in done.stderr
    assert [json.loads(line) for line in done.stdout.splitlines()] == [{"upto": 10}, KILL_AFTER_STATE]
    assert ids_in_table(bq_client, config) == list(FIRST_RUN_IDS)


def _fail_once(monkeypatch, wanted, *, after_sending: bool, error: Exception) -> list[str]:
    """Make the first BigQuery API call matching ``wanted(method, path, data)`` fail once.

    ``after_sending``: the request reaches BigQuery and is done, then the answer is lost (the
    worst case: a retry repeats a request that already took effect); else it fails unsent.
    """
    from google.cloud.bigquery import _http

    real = _http.Connection.api_request
    failed: list[str] = []

    def flaky(self, method, path, *args, **kwargs):
        if failed or not wanted(method, path, kwargs.get("data")):
            return real(self, method, path, *args, **kwargs)
        failed.append(path)
        if after_sending:
            real(self, method, path, *args, **kwargs)
        raise error

    monkeypatch.setattr(_http.Connection, "api_request", flaky)
    return failed


def run_in_process(config: dict, lines: list[str]) -> list[dict]:
    target = TargetBigQuerySmart(config=config, parse_env_config=False)
    out = io.StringIO()
    with redirect_stdout(out):
        target.listen(file_input=io.StringIO("\n".join(lines) + "\n"))
    return [json.loads(line) for line in out.getvalue().splitlines()]


FAILURES = {
    "500 after storing": (True, api_exceptions.InternalServerError("backendError")),
    "503 before storing": (False, api_exceptions.ServiceUnavailable("backendError")),
    "answer lost": (True, requests.exceptions.ConnectionError("connection reset after the server answered")),
}


@pytest.mark.parametrize("failure", list(FAILURES))
def test_a_streaming_insert_bigquery_fails_or_whose_answer_is_lost_is_retried_and_stored_once(
    target_config, bq_client, monkeypatch, failure
):
    after_sending, error = FAILURES[failure]
    failed = _fail_once(
        monkeypatch, lambda method, path, data: path.endswith("/insertAll"), after_sending=after_sending, error=error
    )
    lines = [schema_line(), *[record_line(i) for i in range(1, 21)], state_line({"upto": 20})]
    assert run_in_process({**target_config, "batch_size": 10}, lines) == [{"upto": 20}]
    assert failed  # the failure did happen
    assert ids_in_table(bq_client, target_config) == list(range(1, 21))


@pytest.mark.parametrize("failure", list(FAILURES))
def test_a_merge_bigquery_fails_or_whose_answer_is_lost_is_retried_and_exact(
    target_config, bq_client, monkeypatch, failure
):
    after_sending, error = FAILURES[failure]

    def is_merge(method, path, data):
        return method == "POST" and path.endswith("/jobs") and "MERGE" in json.dumps(data or {})

    failed = _fail_once(monkeypatch, is_merge, after_sending=after_sending, error=error)
    config = {**target_config, "batch_size": 10, "write_mode": "merge"}
    lines = [schema_line(), *[record_line(i) for i in range(1, 11)], state_line({"upto": 10})]
    lines += [record_line(i, v=2) for i in range(6, 16)] + [state_line({"upto": 15})]
    assert run_in_process(config, lines) == [{"upto": 10}, {"upto": 15}]
    assert failed
    rows = table_rows(bq_client, config["project"], config["dataset"], "items")
    versions = sorted((json.loads(r["raw_data"])["id"], json.loads(r["raw_data"])["v"]) for r in rows)
    assert versions == [(i, 1 if i <= 5 else 2) for i in range(1, 16)]


@pytest.mark.parametrize("write_mode", ["append", "merge"])
def test_a_load_job_that_fails_stops_the_run_with_nothing_of_its_batch_and_no_state_past_it(
    target_config, bq_client, monkeypatch, write_mode
):
    """A load job (in merge mode: the staging load) is all or nothing: BigQuery refusing one row fails
    the job, and the run, even with a dead-letter table."""
    # BigQuery refuses the row; the target's own checks pass it.
    spoil_row(monkeypatch, 15, "extracted_at", "not a timestamp")
    config = {
        **target_config,
        "batch_size": 10,
        "streaming_threshold": 5,
        "dead_letter_table": "dlq",
        "write_mode": write_mode,
    }
    lines = [schema_line(), *[record_line(i) for i in range(1, 11)], state_line({"upto": 10})]
    lines += [record_line(i) for i in range(11, 21)] + [state_line({"upto": 20})]
    target = TargetBigQuerySmart(config=config, parse_env_config=False)
    out = io.StringIO()
    failed = r"Load job into .*items(__staging_\w+)? \(job .*\) failed"
    with redirect_stdout(out), pytest.raises(loader.LoadError, match=failed):
        target.listen(file_input=io.StringIO("\n".join(lines) + "\n"))
    assert [json.loads(line) for line in out.getvalue().splitlines()] == [{"upto": 10}]
    assert ids_in_table(bq_client, config) == list(range(1, 11))
    # All or nothing: the refused row does not go to the dead-letter table, nor do its batch mates.
    tables = [t.table_id for t in bq_client.list_tables(f"{config['project']}.{config['dataset']}")]
    assert tables == ["items"]


def test_a_row_bigquery_refuses_without_dead_letter_table_fails_the_run_after_its_batch_mates_are_stored(
    target_config, bq_client, monkeypatch
):
    """Streaming insert: the other rows of the request are stored; no STATE after them is written."""
    spoil_row(monkeypatch, 15, "no_such_column", 1)
    config = {**target_config, "batch_size": 10}
    lines = [schema_line(), *[record_line(i) for i in range(1, 11)], state_line({"upto": 10})]
    lines += [record_line(i) for i in range(11, 21)] + [state_line({"upto": 20})]
    target = TargetBigQuerySmart(config=config, parse_env_config=False)
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(errors.RejectedRowsError, match=r"record 15 .*no such field"):
        target.listen(file_input=io.StringIO("\n".join(lines) + "\n"))
    assert [json.loads(line) for line in out.getvalue().splitlines()] == [{"upto": 10}]
    # Its batch mates were stored; a rerun from STATE upto 10 appends them a second time.
    assert ids_in_table(bq_client, config) == [i for i in range(1, 21) if i != 15]


# --- the tap's side: bookmarks ---------------------------------------------------------------

#: The API's records, in the order of their replication key ``seq``.
SOURCE = [{"id": i, "seq": i * 10} for i in range(1, 8)]


def _serve_source(httpserver) -> None:
    """Records with ``seq >= since`` (an inclusive filter, as most APIs have), 2 a page."""
    from werkzeug import Response

    def handle(request):
        since, page = int(request.args["since"]), int(request.args["page"])
        matching = [r for r in SOURCE if r["seq"] >= since]
        return Response(json.dumps(matching[(page - 1) * 2 : page * 2]), content_type="application/json")

    httpserver.expect_request("/v1/items").respond_with_handler(handle)


def _paged_config(httpserver, **changes: object) -> dict:
    """The tap config of one stream ``items`` read by ``page`` in pages of 2 from ``since={bookmark}``."""
    return {
        "url": httpserver.url_for("/v1/items"),
        "params": {"since": "{bookmark}"},
        "pagination": {"type": "page", "limit": 2},
        "replication_key": "seq",
        "start_date": 0,
        "destination": {"table": "items", "key_fields": ["id"]},
        **changes,
    }


def _sync_tap(
    monkeypatch,
    config: dict,
    *,
    state: dict | None = None,
    fails_with: type[Exception] | None = None,
    match: str | None = None,
) -> tuple[list[dict], pytest.ExceptionInfo | None]:
    """Run the tap in process with a STATE after every page of 2; return its messages and the error expected.

    Raises:
        Failed: ``fails_with`` is given and the run does not raise it (matching ``match``).
    """
    from tap_generic_api.streams import GenericAPIStream
    from tap_generic_api.tap import TapGenericAPI

    monkeypatch.setattr(GenericAPIStream, "STATE_MSG_FREQUENCY", 2)
    tap = TapGenericAPI(config=config, parse_env_config=False, state=state)
    out = io.StringIO()
    expected = pytest.raises(fails_with, match=match) if fails_with else nullcontext()
    with redirect_stdout(out), expected as info:
        tap.sync_all()
    return [json.loads(line) for line in out.getvalue().splitlines()], info


def _tap_messages(httpserver, monkeypatch, *, is_sorted: bool, state: dict | None = None) -> list[dict]:
    return _sync_tap(monkeypatch, _paged_config(httpserver, is_sorted=is_sorted), state=state)[0]


def _bookmark(state: dict) -> object:
    return state["bookmarks"]["items"].get("replication_key_value")


def test_a_sorted_streams_state_never_passes_its_records_and_a_rerun_resends_from_the_bookmark_inclusive(
    httpserver, monkeypatch
):
    _serve_source(httpserver)
    messages = _tap_messages(httpserver, monkeypatch, is_sorted=True)
    # Each STATE's bookmark is the replication key of the last RECORD written before it.
    last_seq, checked = None, []
    for message in messages:
        if message["type"] == "RECORD":
            last_seq = message["record"]["seq"]
        elif message["type"] == "STATE" and last_seq is not None:
            assert _bookmark(message["value"]) == last_seq
            checked.append(last_seq)
    assert checked[:3] == [20, 40, 60]  # after pages 1, 2 and 3: the kill below may follow any of them

    # The tap killed after its STATE of page 2: the rerun from it sends the bookmark's record again, then the rest.
    state = next(m["value"] for m in messages if m["type"] == "STATE" and _bookmark(m["value"]) == 40)
    rerun = _tap_messages(httpserver, monkeypatch, is_sorted=True, state=state)
    assert [m["record"]["id"] for m in rerun if m["type"] == "RECORD"] == [4, 5, 6, 7]


def test_an_unsorted_streams_bookmark_moves_only_when_the_stream_ends(httpserver, monkeypatch):
    _serve_source(httpserver)
    messages = _tap_messages(httpserver, monkeypatch, is_sorted=False)
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    records = [m for m in messages if m["type"] == "RECORD"]
    last_record = max(i for i, m in enumerate(messages) if m["type"] == "RECORD")
    mid_stream = [m["value"] for m in messages[:last_record] if m["type"] == "STATE"]
    assert len(mid_stream) >= 2  # STATE messages did go out mid-stream
    # A rerun from any of them starts at the beginning: every record is sent again, none is lost.
    assert {_bookmark(s) for s in mid_stream} <= {None, 0}
    assert _bookmark(states[-1]) == 70
    assert [m["record"]["id"] for m in records] == [1, 2, 3, 4, 5, 6, 7]


# --- the tap's side: an API cutting a stream short --------------------------------------------


def _serve_cut_at_page_2(httpserver, records: list[dict]) -> list[int]:
    """Pages of 2 of ``records`` (no filter); the first run's page 2 answers 204 (the API cut it short)."""
    from werkzeug import Response

    cut: list[int] = []

    def handle(request):
        page = int(request.args["page"])
        if page == 2 and not cut:
            cut.append(page)
            return Response("", status=204)
        return Response(json.dumps(records[(page - 1) * 2 : page * 2]), content_type="application/json")

    httpserver.expect_request("/v1/items").respond_with_handler(handle)
    return cut


def test_a_sorted_stream_cut_short_by_a_204_ends_with_a_warning_and_its_bookmark_at_the_last_record_read(
    httpserver, monkeypatch, caplog
):
    """The next run goes on from the last record read: records after the cut sort after it."""
    order = [1, 2, 3, 4, 5, 6, 7]
    cut = _serve_cut_at_page_2(httpserver, [{"id": i, "seq": i * 10} for i in order])
    messages = _tap_messages(httpserver, monkeypatch, is_sorted=True)
    assert cut == [2]
    assert [m["record"]["id"] for m in messages if m["type"] == "RECORD"] == order[:2]
    assert "page 2 (" in caplog.text
    assert "has an empty or null body instead of records, and no next page; the stream ends here" in caplog.text
    state = [m["value"] for m in messages if m["type"] == "STATE"][-1]
    assert _bookmark(state) == 20


def test_an_unsorted_stream_cut_short_by_a_204_writes_its_records_and_fails_without_moving_the_bookmark(
    httpserver, monkeypatch, caplog
):
    """Records after the cut may have keys below the greatest value read: moving the bookmark there would
    lose them for good, so the run fails (as at max_pages) and the next run starts from the same bookmark."""
    from tap_generic_api.errors import PaginationTruncatedError

    order = [6, 7, 1, 2, 3, 4, 5]
    records = [{"id": i, "seq": i * 10} for i in order]
    cut = _serve_cut_at_page_2(httpserver, records)
    messages, info = _sync_tap(monkeypatch, _paged_config(httpserver), fails_with=PaginationTruncatedError)
    assert cut == [2]
    assert [m["record"]["id"] for m in messages if m["type"] == "RECORD"] == [6, 7]
    assert [_bookmark(m["value"]) for m in messages if m["type"] == "STATE"] in ([], [None])
    assert str(info.value).startswith(
        "Stream 'items': cut short at page 2, which had an empty or null body and no next page. Its records are "
        "written, but the bookmark is not moved"
    )
    assert "has an empty or null body instead of records, and no next page; the stream ends here" in caplog.text
    # The rerun (the API whole again) starts from the run's start bookmark and reads every record.
    rerun = _tap_messages(httpserver, monkeypatch, is_sorted=False, state={})
    assert [m["record"]["id"] for m in rerun if m["type"] == "RECORD"] == order
    assert _bookmark([m["value"] for m in rerun if m["type"] == "STATE"][-1]) == 70


def test_a_page_failing_after_its_retries_stops_the_run_after_the_records_and_state_of_the_pages_before(
    httpserver, monkeypatch
):
    from singer_sdk.exceptions import FatalAPIError
    from werkzeug import Response

    def handle(request):
        page = int(request.args["page"])
        if page == 3:
            return Response("down", status=503)
        return Response(json.dumps(SOURCE[(page - 1) * 2 : page * 2]), content_type="application/json")

    httpserver.expect_request("/v1/items").respond_with_handler(handle)
    config = _paged_config(httpserver, is_sorted=True, rate_limit={"max_retries": 0})
    messages, _ = _sync_tap(monkeypatch, config, fails_with=FatalAPIError, match="503")
    assert [m["record"]["id"] for m in messages if m["type"] == "RECORD"] == [1, 2, 3, 4]
    assert _bookmark([m["value"] for m in messages if m["type"] == "STATE"][-1]) == 40


def test_a_row_the_target_refuses_without_dead_letter_table_fails_the_run_with_nothing_of_its_batch(
    tmp_path, target_config, bq_client
):
    """The whole batch is held back (nothing of it is sent); the rows and STATE before it stand."""
    config = {**target_config, "batch_size": 10, "flatten": True}
    schema = {"type": "object", "properties": {"id": {"type": "integer"}, "n": {"type": "integer"}}}
    head = [json.dumps({"type": "SCHEMA", "stream": "items", "schema": schema, "key_properties": ["id"]})]
    head += [json.dumps({"type": "RECORD", "stream": "items", "record": {"id": i, "n": i}}) for i in range(1, 11)]
    tail = [
        json.dumps({"type": "RECORD", "stream": "items", "record": {"id": i, "n": 2**64 if i == 15 else i}})
        for i in range(11, 21)
    ]
    with target_process(tmp_path, config) as target:
        target.stdin.write("\n".join([*head, state_line({"upto": 10})]) + "\n")
        target.stdin.flush()
        assert json.loads(target.stdout.readline()) == {"upto": 10}  # the first batch is stored
        stdout, stderr = target.communicate("\n".join([*tail, state_line({"upto": 20})]) + "\n", timeout=DEADLINE)
    assert target.returncode == 1
    assert "Stream 'items': 1 row(s) refused for " in stderr
    assert "record 15 (input line 17): n: integer 18446744073709551616 is outside INT64" in stderr
    assert stdout == ""  # no STATE past the refused batch
    rows = table_rows(bq_client, config["project"], config["dataset"], "items")
    assert sorted(r["id"] for r in rows) == list(range(1, 11))
