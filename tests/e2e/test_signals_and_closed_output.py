"""The console scripts under a signal or a closed or full stdout: a failing status and one clear line, at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time

import pytest
from helpers import BIN, UNREACHABLE_TARGET, run_cli, start_tap
from werkzeug import Response


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_ends_the_tap_with_a_failing_status(tmp_path, httpserver, signum):
    release, opened = threading.Event(), threading.Event()

    def hang(request):
        opened.set()
        release.wait(30)
        return Response("[]", content_type="application/json")

    httpserver.expect_request("/v1/items").respond_with_handler(hang)
    proc = start_tap(tmp_path, {"url": httpserver.url_for("/v1/items"), "destination": {"table": "items"}})
    try:
        assert opened.wait(30)  # the tap is waiting on its request
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=30)
    finally:
        release.set()
        proc.kill()
    assert proc.returncode == 128 + signum, stderr[-2000:]
    assert f"Stopped by signal {int(signum)}; exiting with status {128 + signum}." in stderr


def test_a_signal_does_not_wait_for_requests_ahead(tmp_path, httpserver):
    # Offset pagination fetches pages ahead on other threads; a signal must not wait for them.
    release, held = threading.Event(), threading.Event()

    def page(request):
        if request.args.get("offset", "0") == "0":
            return Response(json.dumps([{"id": i} for i in range(2)]), content_type="application/json")
        held.set()
        release.wait(60)  # longer than the test waits for the tap to end
        return Response("[]", content_type="application/json")

    httpserver.expect_request("/v1/items").respond_with_handler(page)
    config = {
        "url": httpserver.url_for("/v1/items"),
        "destination": {"table": "items"},
        "pagination": {"type": "offset", "limit": 2, "max_concurrency": 4},
        "timeout": 120,
    }
    proc = start_tap(tmp_path, config)
    try:
        assert held.wait(30)  # a later page's request is in flight
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=20)
        still_held = not release.is_set()
    finally:
        release.set()
        proc.kill()
    assert still_held
    assert proc.returncode == 143, stderr[-2000:]
    assert [json.loads(line)["record"]["id"] for line in stdout.splitlines() if '"RECORD"' in line] == [0, 1]


def test_a_closed_stdout_ends_the_tap_with_one_clear_line(tmp_path, httpserver):
    # `tap-generic-api ... | head -1`: the reader goes away after the first line.
    httpserver.expect_request("/v1/items").respond_with_json([{"id": i, "pad": "x" * 200} for i in range(5000)])
    proc = start_tap(tmp_path, {"url": httpserver.url_for("/v1/items"), "destination": {"table": "items"}}, text=False)
    assert proc.stdout.readline().startswith(b'{"type":"SCHEMA"')
    proc.stdout.close()
    stderr = proc.communicate(timeout=60)[1].decode()
    assert proc.returncode == 1
    assert stderr.strip().splitlines()[-1] == (
        "Error: stdout was closed by the program reading it; the run stopped before its end."
    )
    assert "Traceback" not in stderr
    assert "Exception ignored" not in stderr


@pytest.mark.parametrize("program", ["tap-generic-api", "target-bigquery-smart"])
def test_a_stdout_closed_at_start_is_one_clear_line(tmp_path, program):
    config = {"url": "http://127.0.0.1:9/x", "destination": {"table": "t"}}
    result = run_cli(tmp_path, program, config, preexec_fn=lambda: os.close(1))  # noqa: PLW1509 - `program >&-`
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: stdout is closed; Singer messages are written there (redirect it, e.g. > out.jsonl)."
    )


def test_a_full_stdout_ends_the_tap_with_one_clear_line(tmp_path, httpserver):
    httpserver.expect_request("/v1/items").respond_with_json([{"id": i} for i in range(10)])
    config = {"url": httpserver.url_for("/v1/items"), "destination": {"table": "items"}}
    with open("/dev/full", "w") as full:
        result = run_cli(tmp_path, "tap-generic-api", config, stdout=full)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: stdout could not be written (No space left on device); the run stopped before its end."
    )
    assert "Traceback" not in result.stderr


def test_a_closed_stdout_ends_the_target_with_one_clear_line(tmp_path):
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody reads the target's STATE
    state = '{"type":"STATE","value":{"bookmarks":{"items":{"id":1}}}}\n'
    result = run_cli(tmp_path, "target-bigquery-smart", UNREACHABLE_TARGET, stdin=None, input=state, stdout=write_end)
    os.close(write_end)
    assert result.returncode == 1, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1].startswith("Error: stdout was closed by the program reading it")
    assert "Traceback" not in result.stderr


def test_a_signal_ends_the_target_with_a_failing_status(tmp_path):
    config = tmp_path / "target.json"
    config.write_text(json.dumps({"project": "p", "dataset": "d", "api_endpoint": "http://127.0.0.1:9"}))
    proc = subprocess.Popen(
        [str(BIN / "target-bigquery-smart"), "--config", str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(3)  # started and waiting for input
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 143, stderr[-2000:]
