"""Shared fixtures: the local BigQuery emulator, a Datasette API, spies on the target's loads.

Helpers that tests call directly are in ``helpers.py``; ``tests`` and ``scripts`` are on the
import path (``pythonpath`` in pyproject.toml).
"""

from __future__ import annotations

import logging
import os
import sys
import types
import uuid
from typing import Any

import backoff._sync
import pytest
from child_api import ChildAPI
from helpers import PAGED_SPEC, PAGED_TOKEN
from local_services import BigQueryEmulator, DatasetteAPI, shared_emulator
from paged_apis import PagedAPIs
from prism_mock import PrismMock

from target_bigquery_smart import loader, sinks

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
    """The process-wide emulator, started by the first test that needs it, stopped at exit."""
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
def child_api():
    """Start a loopback posts/comments API (``child_api.ChildAPI(counts, hold)``); stopped after the test."""
    servers: list[ChildAPI] = []

    def start(counts: dict[int, int], hold: int = 0) -> ChildAPI:
        servers.append(ChildAPI(counts, hold).start())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def paged_apis():
    """The local list APIs of scripts/paged_apis.py: 95 items per style, bearer token PAGED_TOKEN."""
    with PagedAPIs(95, token=PAGED_TOKEN) as apis:
        yield apis


@pytest.fixture(scope="session")
def prism():
    """Prism mocking examples/openapi/paged_apis.yaml (scripts/prism_mock.py)."""
    with PrismMock(PAGED_SPEC) as mock:
        yield mock


@pytest.fixture
def target_config(bq_emulator, dataset) -> dict[str, Any]:
    return {
        "project": bq_emulator.project,
        "dataset": dataset,
        "api_endpoint": bq_emulator.endpoint,
        "storage_api_endpoint": bq_emulator.storage_endpoint,
        "org_slug": "acme",
    }


@pytest.fixture
def sleeps(monkeypatch):
    """Record the waits backoff asks for, without sleeping."""
    waits: list[float] = []
    monkeypatch.setattr(backoff._sync, "time", types.SimpleNamespace(sleep=waits.append))
    return waits


@pytest.fixture
def insert_spy(monkeypatch):
    """Record every streaming insert (row count, row_ids) and pass it to the real client."""
    calls = []
    real = loader.bigquery.Client.insert_rows_json

    def spy(self, table, rows, row_ids=None, **kwargs):
        calls.append({"rows": len(rows), "row_ids": list(row_ids or [])})
        return real(self, table, rows, row_ids=row_ids, **kwargs)

    monkeypatch.setattr(loader.bigquery.Client, "insert_rows_json", spy)
    return calls


@pytest.fixture
def batch_spy(monkeypatch):
    """Record each batch handed to insert_rows_smart (size and method), calling the real one."""
    batches = []
    real = loader.insert_rows_smart

    def spy(client, table, rows, row_ids, **kwargs):
        result = real(client, table, rows, row_ids, **kwargs)
        batches.append({"rows": len(rows), "method": result.method})
        return result

    monkeypatch.setattr(sinks.loader, "insert_rows_smart", spy)
    return batches
