"""The tap in a partitioned run: whole streams dealt out to tasks, the share lines, config errors."""

from __future__ import annotations

import json

from helpers import run_cli, sync_messages

from tap_generic_api.partitions.plan import SHARE_LOG_PREFIX
from tap_generic_api.tap import TapGenericAPI


def _streams(httpserver) -> list[dict]:
    for name in ("a", "b", "c"):
        httpserver.expect_request(f"/{name}").respond_with_json([{"id": f"{name}1"}])
    return [{"name": name, "url": httpserver.url_for(f"/{name}")} for name in ("a", "b", "c")]


def _shares(caplog) -> list[dict]:
    return [
        json.loads(r.getMessage()[len(SHARE_LOG_PREFIX) :])
        for r in caplog.records
        if r.getMessage().startswith(SHARE_LOG_PREFIX)
    ]


def test_streams_without_windows_run_whole_in_one_task_each(httpserver, caplog):
    streams = _streams(httpserver)
    tap = TapGenericAPI(config={"streams": streams, "partition": {"index": 1, "count": 2}}, parse_env_config=False)
    messages = sync_messages(tap)
    # Task 1 of 2 takes the second stream only (a -> 0, b -> 1, c -> 0).
    assert [m["record"] for m in messages if m["type"] == "RECORD"] == [{"id": "b1"}]
    assert [request.path for request, _ in httpserver.log] == ["/b"]
    assert [(s["stream"], s["owner"], s["taken"]) for s in _shares(caplog)] == [
        ("a", 0, False),
        ("b", 1, True),
        ("c", 0, False),
    ]
    assert "Stream 'b' has no date_window_size and cannot be split: it runs whole in task 1 of 2." in caplog.text
    final = [m for m in messages if m["type"] == "STATE"][-1]["value"]["bookmarks"]
    assert final["b"]["partition"] == {"kind": "stream", "index": 1, "count": 2, "owner": 1, "complete": True}


def test_a_lone_stream_that_cannot_be_split_runs_in_task_0_only(httpserver, caplog, monkeypatch):
    httpserver.expect_request("/a").respond_with_json([{"id": 1}])
    config = {"name": "a", "url": httpserver.url_for("/a"), "partition": "auto"}
    records = {}
    for index in range(3):
        monkeypatch.setenv("CLOUD_RUN_TASK_INDEX", str(index))
        monkeypatch.setenv("CLOUD_RUN_TASK_COUNT", "3")
        tap = TapGenericAPI(config=config, parse_env_config=False)
        records[index] = [m["record"] for m in sync_messages(tap) if m["type"] == "RECORD"]
    assert records == {0: [{"id": 1}], 1: [], 2: []}
    assert len(httpserver.log) == 1


def test_an_index_out_of_range_is_a_config_error_naming_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("JOB_COMPLETION_INDEX", "8")
    monkeypatch.setenv("JOB_COMPLETION_COUNT", "8")
    monkeypatch.delenv("CLOUD_RUN_TASK_COUNT", raising=False)
    monkeypatch.delenv("CLOUD_RUN_TASK_INDEX", raising=False)
    result = run_cli(tmp_path, "tap-generic-api", {"name": "x", "url": "http://127.0.0.1:9/x", "partition": "auto"})
    assert result.returncode == 1
    assert "JOB_COMPLETION_INDEX must be from 0 to 7 (JOB_COMPLETION_COUNT is 8), got 8." in result.stderr
    assert "Traceback" not in result.stderr
