"""Nothing lost, nothing twice: STATE timing, bad input, lost responses, crash and resume."""

from __future__ import annotations

import io
import json
import logging
import os
import queue
import signal
import socket
import socketserver
import subprocess
import threading
import time
import uuid
from contextlib import redirect_stdout

import pytest
import requests
from helpers import BIN, record_line, run_pipeline, run_target, schema_line, state_line, table_rows
from local_services import DATASETTE_TOKEN

from target_bigquery_smart import loader, sinks
from target_bigquery_smart.target import TargetBigQuerySmart

pytestmark = pytest.mark.emulator
CAPTURE_DEBUG_LOGS = False


class TargetProcess:
    """target-bigquery-smart as a child process fed line by line."""

    def __init__(self, tmp_path, config):
        path = tmp_path / f"target-{uuid.uuid4().hex[:6]}.json"
        path.write_text(json.dumps(config))
        self.proc = subprocess.Popen(
            [str(BIN / "target-bigquery-smart"), "--config", str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)

    def send(self, lines):
        self.proc.stdin.write("\n".join(lines) + "\n")
        self.proc.stdin.flush()

    def next_state(self, timeout=60):
        return json.loads(self.lines.get(timeout=timeout))

    def finish(self, timeout=120):
        self.proc.stdin.close()
        self.proc.wait(timeout=timeout)
        return self.proc.returncode, self.proc.stderr.read()


def test_five_states_for_five_thousand_records_each_after_its_rows(tmp_path, target_config, bq_client):
    target = TargetProcess(tmp_path, {**target_config, "batch_size": 1000})
    project, dataset = target_config["project"], target_config["dataset"]
    target.send([schema_line()])
    for block in range(5):
        target.send([record_line({"id": block * 1000 + i}) for i in range(1000)])
        target.send([state_line({"block": block})])
        state = target.next_state()
        assert state == {"block": block}
        # The STATE is out: its rows must already be queryable.
        assert len(table_rows(bq_client, project, dataset, "items")) == (block + 1) * 1000
    returncode, stderr = target.finish()
    assert returncode == 0, stderr
    assert target.lines.empty()  # exactly 5 STATE lines


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ('{"type": "RECORD", "stream": "items", "record": {"id": ', "Input line 1504 is not valid JSON"),
        (record_line({"id": 1}, stream="ghost"), "Input line 1504 (stream 'ghost')"),
        (record_line({"name": "no id"}), "Stream 'items': record 1501 lacks key property ['id']"),
        ("42", "Input line 1504 is not a Singer message (a JSON object with a 'type'): it is int '42'"),
    ],
)
def test_bad_input_stops_with_line_number_after_committing_what_was_read(
    tmp_path, target_config, bq_client, bad_line, message
):
    target = TargetProcess(tmp_path, {**target_config, "batch_size": 1000})
    target.send([schema_line()] + [record_line({"id": i}) for i in range(1000)] + [state_line({"n": 1})])
    target.send([record_line({"id": i}) for i in range(1000, 1500)] + [state_line({"n": 2}), bad_line])
    returncode, stderr = target.finish()
    assert returncode == 1
    assert message in stderr
    assert "Traceback" not in stderr
    states = []
    while not target.lines.empty():
        states.append(json.loads(target.lines.get()))
    assert states == [{"n": 1}, {"n": 2}]
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items")
    assert sorted(json.loads(r["raw_data"])["id"] for r in rows) == list(range(1500))


def test_streaming_insert_retried_after_lost_response_leaves_each_row_once(target_config, bq_client, monkeypatch):
    from google.cloud.bigquery import _http

    real = _http.Connection.api_request
    lost = []

    def flaky(self, method, path, *args, **kwargs):
        response = real(self, method, path, *args, **kwargs)
        if path.endswith("/insertAll") and not lost:
            lost.append(path)
            raise requests.exceptions.ConnectionError("connection reset after the server answered")
        return response

    monkeypatch.setattr(_http.Connection, "api_request", flaky)
    run_target(target_config, [schema_line()] + [record_line({"id": i}) for i in range(40)])
    assert lost  # the first insertAll really was sent, then its answer was lost
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items")
    assert sorted(json.loads(r["raw_data"])["id"] for r in rows) == list(range(40))


def _crash_and_resume(tmp_path, api, target_config, bq_client, write_mode):
    tap_config = {
        "url": api.table_url,
        "params": {"_shape": "objects", "_size": "1000", "_sort": "id", "id__gt": "{bookmark}"},
        "data_path": "rows",
        "auth": {"type": "bearer", "provider": "DATASETTE"},
        "secrets": {"datasette": DATASETTE_TOKEN},
        "pagination": {"type": "cursor", "param": "_next", "response_path": "next"},
        "replication_key": "id",
        "is_sorted": True,
        "start_date": 0,
        "destination": {"table": "items", "key_fields": ["id"]},
    }
    config = {**target_config, "batch_size": 1000, "write_mode": write_mode}
    tap_path, target_path = tmp_path / "tap.json", tmp_path / "target.json"
    tap_path.write_text(json.dumps(tap_config))
    target_path.write_text(json.dumps(config))
    tap = subprocess.Popen(
        [str(BIN / "tap-generic-api"), "--config", str(tap_path)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    target = subprocess.Popen(
        [str(BIN / "target-bigquery-smart"), "--config", str(target_path)],
        stdin=tap.stdout,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    tap.stdout.close()
    states = []
    for line in target.stdout:
        states.append(json.loads(line))
        if len(states) == 3:
            os.kill(target.pid, signal.SIGKILL)
            break
    target.wait(timeout=60)
    tap.kill()
    tap.wait(timeout=60)
    assert len(states) == 3, "the target ended before its third STATE"
    bookmark = states[-1]["bookmarks"]["items"]["replication_key_value"]
    assert 0 < bookmark < 10_000

    resumed = run_pipeline(tmp_path, tap_config, config, state=states[-1])
    assert resumed.tap_returncode == 0, resumed.tap_stderr[-2000:]
    assert resumed.target_returncode == 0, resumed.target_stderr[-2000:]
    rows = table_rows(bq_client, config["project"], config["dataset"], "items")
    return [json.loads(r["raw_data"])["id"] for r in rows]


@pytest.mark.slow
@pytest.mark.parametrize("write_mode", ["append", "merge"])
def test_crash_and_resume(tmp_path, datasette_10k, target_config, bq_client, write_mode):
    ids = _crash_and_resume(tmp_path, datasette_10k, target_config, bq_client, write_mode)
    assert set(ids) == set(range(1, 10_001))  # never missing
    if write_mode == "merge":
        assert len(ids) == 10_000  # exactly once by key


def test_an_unreachable_endpoint_is_one_clear_error_not_an_input_line(target_config, monkeypatch):
    import socket

    from helpers import record_line, run_target, schema_line

    from target_bigquery_smart import target as target_module

    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(target_module, "FIRST_CALL_TIMEOUT_SECONDS", 1.0)
    config = {**target_config, "api_endpoint": f"http://127.0.0.1:{port}"}
    with pytest.raises(target_module.BigQueryUnreachableError) as info:
        run_target(config, [schema_line(), record_line({"id": 1})])
    message = str(info.value)
    assert message.startswith(f"Cannot reach http://127.0.0.1:{port} to read table ")
    assert "(retried for 1 s)" in message
    assert "Input line" not in message


def test_a_batch_message_is_refused_before_its_state_goes_out(target_config):
    from helpers import run_target, schema_line, state_line

    from target_bigquery_smart.reader import InputError

    batch = json.dumps(
        {
            "type": "BATCH",
            "stream": "items",
            "encoding": {"format": "jsonl", "compression": "gzip"},
            "manifest": ["file:///tmp/items-batch.json.gz"],
        }
    )
    with pytest.raises(InputError, match=r"Input line 2 .*BATCH messages are not supported \(stream 'items'\)"):
        run_target(target_config, [schema_line(), batch, state_line({"n": 1})])


class _SwitchableProxy:
    """A TCP proxy on 127.0.0.1 to the emulator; after ``hang()`` it accepts and never answers."""

    def __init__(self, upstream: str):
        host, port = upstream.rsplit("//", 1)[1].split(":")
        self.hanging = threading.Event()
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                if proxy.hanging.is_set():
                    proxy.stop.wait(120)
                    return
                with socket.create_connection((host, int(port))) as up:
                    pump = threading.Thread(target=self._copy, args=(up, self.request), daemon=True)
                    pump.start()
                    self._copy(self.request, up)
                    pump.join(5)

            @staticmethod
            def _copy(src, dst):
                try:
                    while data := src.recv(65536):
                        if not proxy.hanging.is_set():  # kept connections go silent too
                            dst.sendall(data)
                except OSError:
                    pass
                finally:
                    try:
                        dst.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass

        self.stop = threading.Event()
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def hang(self):
        self.hanging.set()

    def close(self):
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


def test_a_signal_ends_the_target_while_bigquery_does_not_answer(tmp_path, target_config):
    proxy = _SwitchableProxy(target_config["api_endpoint"])
    target = TargetProcess(tmp_path, {**target_config, "api_endpoint": proxy.endpoint, "batch_size": 2})
    try:
        target.send([schema_line(), record_line({"id": 1}), record_line({"id": 2}), state_line({"upto": 2})])
        assert target.next_state() == {"upto": 2}  # the first batch is stored
        proxy.hang()  # BigQuery stops answering: the next batch's requests wait and retry
        target.send([record_line({"id": 3}), record_line({"id": 4}), record_line({"id": 5})])
        time.sleep(3)
        target.proc.send_signal(signal.SIGTERM)
        target.proc.wait(timeout=20)  # not after the client's retries (up to 600 s)
    finally:
        target.proc.kill()
        proxy.close()
    assert target.proc.returncode == 143
    assert target.lines.empty()  # no STATE for the batch that was not stored


def test_a_batch_bigquery_does_not_answer_is_one_clear_error_naming_its_records(
    tmp_path, target_config, bq_client, monkeypatch
):
    real, calls = loader.bigquery.Client.insert_rows_json, []

    def refused_after_the_first(self, *args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise requests.ConnectionError("HTTPConnectionPool(host='127.0.0.1'): Max retries exceeded")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(loader.bigquery.Client, "insert_rows_json", refused_after_the_first)
    lines = [schema_line(), *[record_line({"id": i}) for i in range(1, 3)], state_line({"upto": 2})]
    lines += [*[record_line({"id": i}) for i in range(3, 5)], state_line({"upto": 4}), record_line({"id": 5})]
    target = TargetBigQuerySmart(config={**target_config, "batch_size": 2}, parse_env_config=False)
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(loader.LoadError) as info:
        target.listen(file_input=io.StringIO("\n".join(lines) + "\n"))
    assert str(info.value) == (
        "Stream 'items': records 3 to 4 were not stored; BigQuery did not accept or answer the request "
        "(ConnectionError: HTTPConnectionPool(host='127.0.0.1'): Max retries exceeded). No STATE after them "
        "was written: the next run sends them again."
    )
    assert [json.loads(line) for line in out.getvalue().splitlines()] == [{"upto": 2}]
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items")
    assert sorted(json.loads(r["raw_data"])["id"] for r in rows) == [1, 2]


def test_a_batch_bigquery_is_slow_to_confirm_is_warned_about_while_the_target_waits(
    target_config, bq_client, monkeypatch
):
    """The reading thread says which records it waits for, every SLOW_COMMIT_WARNING_SECONDS."""
    monkeypatch.setattr(sinks, "SLOW_COMMIT_WARNING_SECONDS", 0.2)
    warnings, released = [], threading.Event()

    class Collect(logging.Handler):
        def emit(self, record):
            if "has not confirmed" in record.getMessage():
                warnings.append(record.getMessage())
                if len(warnings) == 2:
                    # The test, not the machine's speed, decides when waiting is slow: from the
                    # second warning on (logged on the reading thread, before it waits again),
                    # no wait is long enough to warn, however busy the machine.
                    monkeypatch.setattr(sinks, "SLOW_COMMIT_WARNING_SECONDS", 3600.0)
                    released.set()

    real = loader.insert_rows_smart

    def slow_first_batch(client, table, rows, row_ids, **kwargs):
        if json.loads(rows[0]["raw_data"])["id"] == 1:
            assert released.wait(30)  # held until the reading thread has warned twice
        return real(client, table, rows, row_ids, **kwargs)

    monkeypatch.setattr(sinks.loader, "insert_rows_smart", slow_first_batch)
    handler = Collect()
    logging.getLogger().addHandler(handler)
    try:
        lines = [schema_line(), *[record_line({"id": i}) for i in range(1, 6)], state_line({"upto": 5})]
        states = run_target({**target_config, "batch_size": 2}, lines)
    finally:
        logging.getLogger().removeHandler(handler)
    assert warnings == [
        f"Stream 'items': BigQuery has not confirmed records 1 to 2 after {seconds} s; still waiting (a load job "
        "may take minutes; a BigQuery that does not answer is retried for up to 10 minutes before the run fails). "
        "No STATE after these records is written until then."
        for seconds in ("0.2", "0.4")
    ]
    assert states == [{"upto": 5}]
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items")
    assert sorted(json.loads(r["raw_data"])["id"] for r in rows) == [1, 2, 3, 4, 5]


def test_tls_to_a_plain_http_endpoint_is_one_clear_error_not_a_traceback(target_config):
    from target_bigquery_smart import target as target_module

    endpoint = target_config["api_endpoint"].replace("http://", "https://")
    with pytest.raises(target_module.BigQueryUnreachableError) as info:
        run_target({**target_config, "api_endpoint": endpoint}, [schema_line(), record_line({"id": 1})])
    table = f"{target_config['project']}.{target_config['dataset']}.items"
    assert str(info.value).startswith(f"Cannot reach {endpoint} to read table {table}: SSLError: ")
    assert str(info.value).endswith(". Check api_endpoint, the network, the proxy and the credentials.")
