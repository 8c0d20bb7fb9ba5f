"""Helpers shared by the tests: paths, running the plugins, reading tables, test servers.

Test modules import what they need from here (``from helpers import ...``); no test module
imports another. Fixtures live in ``conftest.py``.
"""

from __future__ import annotations

import http.server
import io
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from plugin_kit.concurrency import AheadTuner
from tap_generic_api.tap import TapGenericAPI
from target_bigquery_smart.target import TargetBigQuerySmart

ROOT = Path(__file__).resolve().parent.parent  # the repository
BIN = Path(sys.executable).parent  # the console scripts installed with the project

#: The API URL the requests-mock tests answer for.
API = "https://api.example.com/v1/items"
#: A rate limit that never slows a test down.
FAST = {"requests_per_second": 1000}
#: The bearer token :func:`bearer_tap` sends; must never appear in any output (see conftest).
BEARER_SECRET = "sk_live_NEVERLOG_5f3a9"
#: The key :func:`query_key_tap` sends as the ``appid`` query parameter.
QUERY_KEY_SECRET = "SUPERSECRET-NEVERLOG-zq81x"
#: A target config whose BigQuery endpoint refuses connections.
UNREACHABLE_TARGET = {"project": "p", "dataset": "d", "api_endpoint": "http://127.0.0.1:9"}


# --- the tap in-process ---------------------------------------------------------------------


def plain_tap(**config) -> TapGenericAPI:
    """Return a tap of one stream ``items`` at :data:`API`, without credentials."""
    base = {"url": API, "destination": {"table": "items"}, "rate_limit": FAST}
    base.update(config)
    return TapGenericAPI(config=base, parse_env_config=False)


def bearer_tap(url: str = API, state: dict | None = None, **config) -> TapGenericAPI:
    """Return a tap of one stream ``items`` at ``url`` sending :data:`BEARER_SECRET` as a bearer token."""
    base = {
        "url": url,
        "destination": {"table": "items", "key_fields": ["id"]},
        "auth": {"type": "bearer", "provider": "VENDOR"},
        "secrets": {"vendor": BEARER_SECRET},
        "rate_limit": FAST,
    }
    base.update(config)
    return TapGenericAPI(config=base, parse_env_config=False, state=state)


def query_key_tap(**config) -> TapGenericAPI:
    """Return a tap of one stream ``items`` sending :data:`QUERY_KEY_SECRET` as ``appid``, without retries."""
    base = {
        "url": API,
        "destination": {"table": "items", "key_fields": ["id"]},
        "auth": {"type": "query", "provider": "X", "param_name": "appid"},
        "secrets": {"x": QUERY_KEY_SECRET},
        "rate_limit": {**FAST, "max_retries": 0},
    }
    base.update(config)
    return TapGenericAPI(config=base, parse_env_config=False)


def extract(tap: TapGenericAPI, name: str = "items") -> list[dict]:
    """Return the records stream ``name`` of ``tap`` yields (no output written)."""
    return list(tap.streams[name].get_records(None))


def sync_lines(tap: TapGenericAPI) -> list[str]:
    """Run ``tap.sync_all()``; return the lines it wrote to stdout."""
    out = io.StringIO()
    with redirect_stdout(out):
        tap.sync_all()
    return out.getvalue().splitlines()


def record_lines(tap: TapGenericAPI) -> list[str]:
    """Run ``tap.sync_all()``; return the RECORD lines it wrote, as written."""
    return [line for line in sync_lines(tap) if line.startswith('{"type":"RECORD"')]


def sync_messages(tap: TapGenericAPI) -> list[dict]:
    """Run ``tap.sync_all()``; return the Singer messages it wrote, decoded."""
    return [json.loads(line) for line in sync_lines(tap)]


def sync_error(tap: TapGenericAPI, kind: type[BaseException]) -> str:
    """Run ``tap`` expecting it to stop with ``kind``; return the error's text."""
    with redirect_stdout(io.StringIO()), pytest.raises(kind) as info:
        tap.sync_all()
    return str(info.value)


def virtual_clock_tuner(latency: float, work: float) -> type[AheadTuner]:
    """Return an :class:`AheadTuner` class fed an API's timings on a virtual clock.

    Each page takes ``latency`` virtual seconds divided by the requests ahead (requests in
    flight together arrive together) and ``work`` seconds to write, whatever the machine's
    speed: the real tuner then decides the same way on every run. Each instance made is
    appended to the class's ``made``; an instance's ``now`` is the virtual time so far and
    its ``ahead_by_page`` the requests ahead it chose after each page.
    """

    class VirtualClockTuner(AheadTuner):
        made: list[VirtualClockTuner] = []

        def __init__(self, most: int) -> None:
            super().__init__(most)
            self.now = 0.0
            self.ahead_by_page: list[int] = []
            self.made.append(self)

        def page_arrived(self, asked: float, arrived: float) -> None:
            asked = self.now
            self.now += latency / max(1, self.ahead)
            super().page_arrived(asked, self.now)
            self.ahead_by_page.append(self.ahead)
            self.now += work

    return VirtualClockTuner


# --- the target in-process ------------------------------------------------------------------


SCHEMA = {"type": "object", "properties": {"id": {}}, "additionalProperties": True}


def schema_line(stream="items", keys=("id",)):
    return json.dumps({"type": "SCHEMA", "stream": stream, "schema": SCHEMA, "key_properties": list(keys)})


def record_line(record, stream="items"):
    return json.dumps({"type": "RECORD", "stream": stream, "record": record})


def state_line(value):
    return json.dumps({"type": "STATE", "value": value})


def spoil_row(monkeypatch: pytest.MonkeyPatch, record_id: int, column: str, value: object) -> None:
    """Make the target set ``column`` to ``value`` in the shaped row of the record whose ``id`` is ``record_id``.

    For a row the target's own checks pass but BigQuery refuses (a column the table lacks, a value
    its type cannot hold): the refusal must come from BigQuery itself.
    """
    from target_bigquery_smart import shaping

    real = shaping.RowShaper.shape
    real_raw_row = shaping.RowShaper.raw_row

    def shape(self, record):
        row, problems = real(self, record)
        values = record.decoded() if hasattr(record, "decoded") else record  # raw layout: the record as text
        if values.get("id") == record_id:
            row[column] = value
        return row, problems

    def raw_row(self, text):
        row = real_raw_row(self, text)
        if json.loads(text).get("id") == record_id:
            row[column] = value
        return row

    monkeypatch.setattr(shaping.RowShaper, "shape", shape)
    monkeypatch.setattr(shaping.RowShaper, "raw_row", raw_row)


def run_target(config, lines) -> list[dict]:
    """Run the target in-process on ``lines``; return the STATE values it wrote."""
    target = TargetBigQuerySmart(config=config, parse_env_config=False)
    out = io.StringIO()
    with redirect_stdout(out):
        target.listen(file_input=io.StringIO("\n".join(lines) + "\n"))
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


# --- the plugins as processes ---------------------------------------------------------------


def run_cli(tmp_path: Path, program: str, config: dict, **kwargs) -> subprocess.CompletedProcess:
    """Run ``program --config`` (written from ``config``) to its end; stderr as text."""
    path = tmp_path / f"{program}.json"
    path.write_text(json.dumps(config))
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    command = [str(BIN / program), "--config", str(path)]
    return subprocess.run(command, stderr=subprocess.PIPE, text=True, timeout=60, check=False, **kwargs)


def start_tap(tmp_path: Path, config: dict, *, text: bool = True) -> subprocess.Popen:
    """Start tap-generic-api on ``config`` with stdout and stderr piped (to signal it, or read it live)."""
    path = tmp_path / "tap.json"
    path.write_text(json.dumps(config))
    command = [str(BIN / "tap-generic-api"), "--config", str(path)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=text)


def run_target_cli(target_config: dict, tmp_path: Path, data: bytes, env=None) -> subprocess.CompletedProcess:
    """Run target-bigquery-smart on ``data`` as its standard input; output captured as bytes."""
    config = tmp_path / "target.json"
    config.write_text(json.dumps(target_config))
    command = [str(BIN / "target-bigquery-smart"), "--config", str(config)]
    return subprocess.run(command, input=data, capture_output=True, env=env, check=False)


@dataclass
class PipelineRun:
    """Outcome of ``tap-generic-api | target-bigquery-smart`` run as real processes."""

    tap_returncode: int
    target_returncode: int
    states: list[dict]
    tap_stderr: str
    target_stderr: str


#: Bearer token of the ``paged_apis`` fixture (scripts/paged_apis.py).
PAGED_TOKEN = "paged-NEVERLOG-token"
#: The OpenAPI description of scripts/paged_apis.py.
PAGED_SPEC = Path(__file__).resolve().parent.parent / "examples" / "openapi" / "paged_apis.yaml"


def run_pipeline(
    tmp_path: Path, tap_config: dict, target_config: dict, state: dict | None = None, timeout: float = 300
) -> PipelineRun:
    """Run the two console scripts joined by a pipe; return exit codes, STATE lines, logs."""
    tap_path = tmp_path / f"tap-{uuid.uuid4().hex[:6]}.json"
    target_path = tmp_path / f"target-{uuid.uuid4().hex[:6]}.json"
    tap_path.write_text(json.dumps(tap_config))
    target_path.write_text(json.dumps(target_config))
    tap_cmd = [str(BIN / "tap-generic-api"), "--config", str(tap_path)]
    if state is not None:
        state_path = tmp_path / f"state-{uuid.uuid4().hex[:6]}.json"
        state_path.write_text(json.dumps(state))
        tap_cmd += ["--state", str(state_path)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    tap_err = tmp_path / f"tap-{uuid.uuid4().hex[:6]}.log"
    with tap_err.open("wb") as tap_err_file:
        tap = subprocess.Popen(tap_cmd, stdout=subprocess.PIPE, stderr=tap_err_file, env=env)
        target = subprocess.run(
            [str(BIN / "target-bigquery-smart"), "--config", str(target_path)],
            stdin=tap.stdout,
            capture_output=True,
            env=env,
            timeout=timeout,
            check=False,
        )
        tap.stdout.close()
        tap.wait(timeout=timeout)
    states = [json.loads(line) for line in target.stdout.decode().splitlines() if line.strip()]
    return PipelineRun(tap.returncode, target.returncode, states, tap_err.read_text(), target.stderr.decode())


def table_rows(client, project: str, dataset: str, table: str, order_by: str = "") -> list[dict]:
    """Return every row of a table as dicts."""
    sql = f"SELECT * FROM `{project}.{dataset}.{table}` {order_by}"
    return [dict(row.items()) for row in client.query_and_wait(sql)]


def metric_points(log_text: str, metric: str) -> list[dict]:
    """Return the METRIC points named ``metric`` found in a plugin's log output."""
    points = []
    for line in log_text.splitlines():
        if "METRIC: " in line:
            point = json.loads(line.split("METRIC: ", 1)[1])
            if point.get("metric") == metric:
                points.append(point)
    return points


# --- servers --------------------------------------------------------------------------------


class BigQueryProxy:
    """An HTTP proxy on 127.0.0.1 to the emulator that can change what BigQuery answers.

    ``answer(method, path, status, body)`` returns the (status, body) the client gets; the
    default passes the emulator's answer on. A request for which ``lost(method, path)`` is true
    never reaches the emulator and is answered 204. Every request is recorded as ``(method, path)``.
    """

    def __init__(self, upstream: str, answer: Callable[[str, str, int, bytes], tuple[int, bytes]] | None = None):
        self.requests: list[tuple[str, str]] = []
        self.answer = answer or (lambda method, path, status, body: (status, body))
        self.lost: Callable[[str, str], bool] = lambda method, path: False
        proxy = self
        session = requests.Session()
        session.trust_env = False

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                proxy.requests.append((self.command, self.path))
                if proxy.lost(self.command, self.path):
                    self.send_response(204)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "accept-encoding")}
                up = session.request(self.command, upstream + self.path, data=body, headers=headers, timeout=60)
                status, content = proxy.answer(self.command, self.path, up.status_code, up.content)
                self.send_response(status)
                self.send_header("Content-Type", up.headers.get("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class FakeClock:
    """Monotonic seconds that move only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
