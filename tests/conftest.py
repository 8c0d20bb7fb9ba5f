"""Shared fixtures: the local BigQuery emulator, a Datasette API, and pipeline runners."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent  # the repository
sys.path.insert(0, str(ROOT / "scripts"))

from local_services import BigQueryEmulator, DatasetteAPI, shared_emulator  # noqa: E402

BIN = Path(sys.executable).parent

#: Tests use secrets containing this marker; none may reach captured output or logs.
LEAK_MARKER = "NEVERLOG"


@pytest.fixture(autouse=True)
def _no_secret_in_output(request, caplog, capsys):
    """Fail any test whose captured stdout, stderr or logs (any level) contain a secret.

    Modules loading thousands of rows set ``CAPTURE_DEBUG_LOGS = False``: the SDK logs each
    record at DEBUG, which would only slow them down.
    """
    if getattr(request.module, "CAPTURE_DEBUG_LOGS", True):
        caplog.set_level(logging.DEBUG)
    yield
    out, err = capsys.readouterr()
    sys.stdout.write(out)
    sys.stderr.write(err)
    for where, text in (("logs", caplog.text), ("stdout", out), ("stderr", err)):
        assert LEAK_MARKER not in text, f"a secret leaked into {where}"


@pytest.fixture(autouse=True)
def _fresh_log_redaction():
    """Give each test the log record factory it started with.

    The plugins install their secret masking process-wide (as they should in a run); a secret
    one test registers, such as a one-letter token, must not mask words in later tests' logs.
    """
    factory = logging.getLogRecordFactory()
    yield
    logging.setLogRecordFactory(factory)


@pytest.fixture(scope="session")
def httpserver_listen_address():
    """pytest-httpserver listens on loopback only."""
    return ("127.0.0.1", 0)


@pytest.fixture
def no_proxy_environment(monkeypatch):
    """Remove every proxy variable (any case), so a test sets exactly the ones it needs."""
    for name in list(os.environ):
        if name.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def bq_emulator() -> BigQueryEmulator:
    """The process-wide emulator (also used by the SDK standard suites at import time)."""
    return shared_emulator()


@pytest.fixture(scope="session")
def bq_client(bq_emulator):
    return bq_emulator.client()


@pytest.fixture
def dataset(bq_client) -> str:
    """A fresh, empty dataset name for one test (created by the target when it loads)."""
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def datasette_10k():
    with DatasetteAPI(10_000) as api:
        yield api


@pytest.fixture
def target_config(bq_emulator, dataset) -> dict[str, Any]:
    return {
        "project": bq_emulator.project,
        "dataset": dataset,
        "api_endpoint": bq_emulator.endpoint,
        "org_slug": "acme",
    }


@dataclass
class PipelineRun:
    """Outcome of ``tap-generic-api | target-bigquery-smart`` run as real processes."""

    tap_returncode: int
    target_returncode: int
    states: list[dict]
    tap_stderr: str
    target_stderr: str


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
