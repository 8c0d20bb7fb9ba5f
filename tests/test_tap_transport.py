"""The tap's HTTP transport: transient statuses, bodies, redirects, one deadline per request, strict output."""

from __future__ import annotations

import io
import json
import types
from contextlib import redirect_stdout

import backoff._sync
import pytest

from tap_generic_api.errors import ConfigError
from tap_generic_api.streams import APIRequestError
from tap_generic_api.tap import TapGenericAPI

API = "https://api.example.com/v1/items"
SECRET = "sk_live_NEVERLOG_5f3a9"  # must never appear in any output (see conftest)
FAST = {"requests_per_second": 1000}


def _tap(url=API, **config):
    base = {
        "url": url,
        "destination": {"table": "items", "key_fields": ["id"]},
        "auth": {"type": "bearer", "provider": "VENDOR"},
        "secrets": {"vendor": SECRET},
        "rate_limit": FAST,
    }
    base.update(config)
    return TapGenericAPI(config=base, parse_env_config=False)


def _extract(tap, name="items"):
    return list(tap.streams[name].get_records(None))


def _sync_lines(tap) -> list[str]:
    out = io.StringIO()
    with redirect_stdout(out):
        tap.sync_all()
    return out.getvalue().splitlines()


@pytest.fixture
def sleeps(monkeypatch):
    """Record the waits backoff asks for, without sleeping."""
    waits: list[float] = []
    monkeypatch.setattr(backoff._sync, "time", types.SimpleNamespace(sleep=waits.append))
    return waits


# --- item 4: transient statuses -------------------------------------------------------------


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 507, 520, 521, 522, 523, 524, 599])
def test_transient_statuses_are_retried(requests_mock, sleeps, status):
    requests_mock.get(API, [{"status_code": status}, {"json": [{"id": 1}]}])
    assert _extract(_tap()) == [{"id": 1}]
    assert requests_mock.call_count == 2
    assert sleeps == [1.0]


@pytest.mark.parametrize("status", [400, 404, 409, 501, 505])
def test_statuses_that_fail_again_are_not_retried(requests_mock, sleeps, status):
    requests_mock.get(API, status_code=status, text="nope")
    with pytest.raises(Exception, match=f"API error {status}"):
        _extract(_tap())
    assert requests_mock.call_count == 1
    assert sleeps == []


def test_retry_statuses_replaces_the_set(requests_mock, sleeps):
    requests_mock.get(API, [{"status_code": 409}, {"status_code": 503}])
    tap = _tap(rate_limit={**FAST, "retry_statuses": [409]})
    with pytest.raises(Exception, match="API error 503"):
        _extract(tap)
    assert requests_mock.call_count == 2  # 409 retried, 503 (not listed) fails at once
    assert sleeps == [1.0]


@pytest.mark.parametrize("value", [[200], [600], [404, 302]])
def test_retry_statuses_must_be_error_statuses(value):
    with pytest.raises(ConfigError, match=r"rate_limit\.retry_statuses must be a list of HTTP error statuses"):
        _tap(rate_limit={**FAST, "retry_statuses": value}).streams  # noqa: B018


def test_retry_statuses_is_declared_in_the_settings():
    declared = TapGenericAPI.config_jsonschema["properties"]["rate_limit"]["properties"]["retry_statuses"]
    assert declared["type"] == ["array", "null"] or declared["type"] == "array"
    assert "501 and 505" in declared["description"]
