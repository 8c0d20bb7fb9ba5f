"""Production HTTP behaviour: retries and waits, rate limit, link safety, OAuth2, incremental."""

from __future__ import annotations

import datetime
import email.utils
import io
import json
import time
import types
from contextlib import redirect_stdout

import backoff._sync
import pytest
import requests

from plugin_kit.errors import ConfigError
from plugin_kit.proxies import proxy_passwords
from tap_generic_api import streams as tap_streams
from tap_generic_api.errors import (
    APIRequestError,
    BookmarkTypeError,
    ForeignHostError,
    PaginationLoopError,
    PaginationTruncatedError,
    RetryWaitTooLongError,
)
from tap_generic_api.http.ratelimit import RateLimiters, rates_for
from tap_generic_api.paging import loops as tap_loops
from tap_generic_api.tap import TapGenericAPI

API = "https://api.example.com/v1/items"
SECRET = "sk_live_NEVERLOG_5f3a9"  # must never appear in any output (see conftest)
FAST = {"requests_per_second": 1000}


def _tap(state=None, **config):
    base = {
        "url": API,
        "destination": {"table": "items", "key_fields": ["id"]},
        "auth": {"type": "bearer", "provider": "VENDOR"},
        "secrets": {"vendor": SECRET},
        "rate_limit": FAST,
    }
    base.update(config)
    return TapGenericAPI(config=base, parse_env_config=False, state=state)


def _extract(tap, name="items"):
    return list(tap.streams[name].get_records(None))


def _sync(tap):
    out = io.StringIO()
    with redirect_stdout(out):
        tap.sync_all()
    return [json.loads(line) for line in out.getvalue().splitlines()]


def _sync_error(tap, kind):
    """Run ``tap`` expecting it to stop with ``kind``; return the error's text."""
    with redirect_stdout(io.StringIO()), pytest.raises(kind) as info:
        tap.sync_all()
    return str(info.value)


@pytest.fixture
def sleeps(monkeypatch):
    """Record the waits backoff asks for, without sleeping."""
    waits: list[float] = []
    monkeypatch.setattr(backoff._sync, "time", types.SimpleNamespace(sleep=waits.append))
    return waits


# --- retries -------------------------------------------------------------------


def test_429_with_retry_after_seconds_waits_that_long(requests_mock, sleeps):
    requests_mock.get(API, [{"status_code": 429, "headers": {"Retry-After": "2"}}, {"json": [{"id": 1}]}])
    assert _extract(_tap()) == [{"id": 1}]
    assert requests_mock.call_count == 2
    assert sleeps == [2.0]


def test_429_with_retry_after_http_date(requests_mock, sleeps):
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    requests_mock.get(API, [{"status_code": 429, "headers": {"Retry-After": when}}, {"json": []}])
    _extract(_tap())
    assert requests_mock.call_count == 2
    assert len(sleeps) == 1
    assert 27.5 <= sleeps[0] <= 30.0


def test_429_without_retry_after_backs_off_exponentially(requests_mock, sleeps):
    requests_mock.get(API, [{"status_code": 429}] * 3 + [{"json": []}])
    _extract(_tap())
    assert sleeps == [1.0, 2.0, 4.0]


def test_503_four_times_with_max_retries_3_gives_up_with_clear_error(requests_mock, sleeps):
    requests_mock.get(API, status_code=503, reason="Service Unavailable", text=f"down for maintenance {SECRET}")
    tap = _tap(auth={"type": "query", "provider": "VENDOR"}, rate_limit={**FAST, "max_retries": 3})
    with pytest.raises(APIRequestError) as info:
        _extract(tap)
    assert requests_mock.call_count == 4
    assert sleeps == [1.0, 2.0, 4.0]
    message = str(info.value)
    assert "Stream 'items': API error 503 Service Unavailable" in message
    assert "for https://api.example.com/v1/items?api_key=***:" in message
    assert "down for maintenance ***" in message
    assert "gave up after 4 attempts" in message
    assert SECRET not in message


@pytest.mark.parametrize("status", [500, 502, 504])
def test_other_retryable_5xx(requests_mock, sleeps, status):
    requests_mock.get(API, [{"status_code": status}, {"json": [{"id": 1}]}])
    assert len(_extract(_tap())) == 1
    assert requests_mock.call_count == 2


@pytest.mark.parametrize("status", [400, 403, 404, 422, 501])
def test_other_errors_fail_at_once(requests_mock, sleeps, status):
    requests_mock.get(API, status_code=status, text="nope")
    with pytest.raises(Exception, match=f"API error {status}"):
        _extract(_tap())
    assert requests_mock.call_count == 1
    assert sleeps == []


def test_401_says_the_credential_is_invalid_or_expired(requests_mock, sleeps):
    requests_mock.get(API, status_code=401, reason="Unauthorized", json={"error": f"bad token {SECRET}"})
    with pytest.raises(Exception, match="credential is invalid or expired") as info:
        _extract(_tap())
    assert SECRET not in str(info.value)
    assert requests_mock.call_count == 1


def test_403_says_the_credential_may_lack_permission_and_html_scripts_are_dropped(requests_mock, sleeps):
    page = "<html><head><script>var x = 'noise';</script></head><body><h1>Forbidden</h1></body></html>"
    requests_mock.get(API, status_code=403, reason="Forbidden", text=page, headers={"Content-Type": "text/html"})
    with pytest.raises(Exception, match="not allowed to read this resource") as info:
        _extract(_tap())
    assert "Forbidden" in str(info.value)
    assert "noise" not in str(info.value)


def test_retry_on_429_false_fails_at_once(requests_mock, sleeps):
    requests_mock.get(API, status_code=429, headers={"Retry-After": "1"})
    with pytest.raises(Exception, match=r"API error 429.*retry_on_429 is false"):
        _extract(_tap(rate_limit={**FAST, "retry_on_429": False}))
    assert requests_mock.call_count == 1


def test_absurd_retry_after_is_an_error_not_a_hang(requests_mock, sleeps):
    requests_mock.get(API, status_code=429, headers={"Retry-After": "86400"})
    with pytest.raises(RetryWaitTooLongError, match=r"asks to wait 86400 s .*max_retry_wait \(300 s\)"):
        _extract(_tap())
    assert requests_mock.call_count == 1
    assert sleeps == []


def test_connection_errors_are_retried_then_reported_without_secret(requests_mock, sleeps):
    requests_mock.get(API, exc=requests.exceptions.ConnectionError(f"refused for {API}?api_key={SECRET}"))
    with pytest.raises(APIRequestError) as info:
        _extract(_tap(auth={"type": "query", "provider": "VENDOR"}, rate_limit={**FAST, "max_retries": 2}))
    assert requests_mock.call_count == 3
    assert sleeps == [1.0, 2.0]
    assert "failed after 3 attempts: ConnectionError" in str(info.value)
    assert SECRET not in str(info.value)


def test_a_request_error_that_is_not_retried_does_not_claim_retries(requests_mock, sleeps):
    requests_mock.get(API, exc=requests.exceptions.TooManyRedirects("Exceeded 30 redirects."))
    with pytest.raises(APIRequestError) as info:
        _extract(_tap())
    assert requests_mock.call_count == 1
    assert sleeps == []
    assert str(info.value) == (f"Stream 'items': request to {API} failed: TooManyRedirects: Exceeded 30 redirects.")


def test_timeouts_are_retried(requests_mock, sleeps):
    requests_mock.get(API, [{"exc": requests.exceptions.ReadTimeout("slow")}, {"json": [{"id": 1}]}])
    assert len(_extract(_tap())) == 1
    assert sleeps == [1.0]


# --- rate limit -----------------------------------------------------------------


def test_fifty_requests_at_ten_per_second_take_at_least_4_9_seconds(requests_mock):
    pages = [{"json": [{"id": i}]} for i in range(49)] + [{"json": []}]
    requests_mock.get(API, pages)
    tap = _tap(pagination={"type": "page", "limit": 1, "max_concurrency": 1}, rate_limit={"requests_per_second": 10})
    started = time.monotonic()
    assert len(_extract(tap)) == 49
    elapsed = time.monotonic() - started
    assert requests_mock.call_count == 50
    assert elapsed >= 4.9


@pytest.mark.parametrize(
    ("per_second", "rates"),
    [
        (10, [(1, 100), (10, 1000)]),
        (25, [(2, 80), (25, 1000)]),
        (50, [(5, 100), (50, 1000)]),
        (1000, [(100, 100), (1000, 1000)]),
        (2.5, [(1, 400), (5, 2000)]),
        (0.3, [(1, 3333), (3, 10000)]),
        (0.7, [(1, 1428), (7, 10000)]),
        (0.77, [(1, 1299)]),
    ],
)
def test_limits_count_over_a_tenth_of_a_second_and_a_second(per_second, rates):
    assert [(r.limit, r.interval) for r in rates_for(per_second)] == rates


def _acquired_at(per_second, count):
    """Acquire a fresh limiter ``count`` times; return when each acquisition returned."""
    limiter = RateLimiters().get(per_second)
    times = []
    for _ in range(count):
        RateLimiters.acquire(limiter)
        times.append(time.monotonic())
    return times


def test_a_limit_that_is_not_a_multiple_of_ten_is_never_passed_in_any_second():
    times = _acquired_at(25, 60)
    assert all(times[i + 25] - times[i] >= 0.999 for i in range(len(times) - 25))


def test_a_high_limit_is_never_passed_in_any_tenth_of_a_second():
    times = _acquired_at(500, 200)
    # never more than 50 in any 100 ms (how fast it goes is the benchmark's business)
    assert all(times[i + 50] - times[i] >= 0.099 for i in range(len(times) - 50))


def test_rate_limit_is_shared_across_streams(requests_mock):
    requests_mock.get("https://api.example.com/a", json=[{"id": 1}])
    requests_mock.get("https://api.example.com/b", json=[{"id": 2}])
    config = {
        "rate_limit": {"requests_per_second": 5},
        "streams": [
            {"url": "https://api.example.com/a", "destination": {"table": "a"}},
            {"url": "https://api.example.com/b", "destination": {"table": "b"}},
        ],
    }
    tap = TapGenericAPI(config=config, parse_env_config=False)
    started = time.monotonic()
    for _ in range(3):
        _extract(tap, "a")
        _extract(tap, "b")
    # 6 requests through one limiter at 5/s: at least 5 intervals of 0.2 s.
    assert time.monotonic() - started >= 0.99


# --- pagination safety ---------------------------------------------------------------


def test_cursor_cycle_a_b_a_stops_after_three_requests(requests_mock):
    requests_mock.get(
        API,
        [
            {"json": {"data": [{"id": 1}], "next": "A"}},
            {"json": {"data": [{"id": 2}], "next": "B"}},
            {"json": {"data": [{"id": 3}], "next": "A"}},
            {"json": {"data": [{"id": 4}], "next": "C"}},
        ],
    )
    tap = _tap(data_path="data", pagination={"type": "cursor", "param": "c", "response_path": "next"})
    with pytest.raises(PaginationLoopError, match="returned 'A' which was already requested"):
        _extract(tap)
    assert requests_mock.call_count == 3


def test_cursor_echoed_back_on_last_page_ends_cleanly(requests_mock, caplog):
    requests_mock.get(
        API,
        [
            {"json": {"data": [{"id": 1}], "next": "A"}},
            {"json": {"data": [{"id": 2}], "next": "A"}},
        ],
    )
    tap = _tap(data_path="data", pagination={"type": "cursor", "param": "c", "response_path": "next"})
    assert len(_extract(tap)) == 2
    assert requests_mock.call_count == 2
    assert "same pagination token again ('A')" in caplog.text


def test_endless_api_stops_at_max_pages(requests_mock, caplog):
    counter = iter(range(10**6))
    requests_mock.get(API, json=lambda request, context: {"data": [{"id": 1}], "next": f"c{next(counter)}"})
    tap = _tap(data_path="data", pagination={"type": "cursor", "param": "c", "response_path": "next", "max_pages": 25})
    assert len(_extract(tap)) == 25
    assert requests_mock.call_count == 25
    assert "Stream 'items': stopped after 25 pages" in caplog.text
    assert "may be truncated" in caplog.text


def test_empty_page_with_cursor_continues(requests_mock):
    requests_mock.get(
        API,
        [
            {"json": {"data": [], "next": "A"}},
            {"json": {"data": [{"id": 1}], "next": None}},
        ],
    )
    tap = _tap(data_path="data", pagination={"type": "cursor", "param": "c", "response_path": "next"})
    assert _extract(tap) == [{"id": 1}]
    assert requests_mock.call_count == 2


def test_next_link_to_another_host_is_refused(requests_mock):
    requests_mock.get(API, json=[{"id": 1}], headers={"Link": '<https://evil.example/steal?page=2>; rel="next"'})
    evil = requests_mock.get("https://evil.example/steal", json=[])
    with pytest.raises(ForeignHostError, match="host 'evil.example', not the configured host 'api.example.com'"):
        _extract(_tap(pagination={"type": "link"}))
    assert evil.call_count == 0


def test_next_link_to_allowed_host_is_followed(requests_mock):
    requests_mock.get(API, json=[{"id": 1}], headers={"Link": '<https://cdn.example.com/p2>; rel="next"'})
    requests_mock.get("https://cdn.example.com/p2", json=[{"id": 2}])
    assert len(_extract(_tap(pagination={"type": "link"}, allowed_hosts=["cdn.example.com"]))) == 2


def test_next_link_relative_and_params_not_repeated_and_escapes_kept(requests_mock):
    requests_mock.get(
        API,
        [
            {"json": {"items": [{"id": 1}], "next": "items?cursor=a%2Fb%3D&status=open"}},
            {"json": {"items": [{"id": 2}]}},
        ],
    )
    tap = _tap(
        data_path="items",
        params={"status": "open", "expand": "all"},
        pagination={"type": "link", "response_path": "next", "limit": 50, "limit_param": "per_page"},
    )
    assert len(_extract(tap)) == 2
    urls = [r.url for r in requests_mock.request_history]
    assert urls[0] == f"{API}?status=open&expand=all&per_page=50"
    assert urls[1] == f"{API}?cursor=a%2Fb%3D&status=open&expand=all&per_page=50"


# --- OAuth2 ------------------------------------------------------------------------


TOKEN_URL = "https://auth.example.com/oauth/token"


def _oauth_config(**auth):
    return {
        "auth": {"type": "oauth2", "token_url": TOKEN_URL, "client_id": "cid", "client_secret": SECRET, **auth},
        "secrets": {},
        "streams": [
            {"url": "https://api.example.com/a", "destination": {"table": "a"}},
            {"url": "https://api.example.com/b", "destination": {"table": "b"}},
        ],
        "rate_limit": FAST,
    }


def test_oauth2_client_credentials_one_token_for_all_streams(requests_mock):
    token = requests_mock.post(TOKEN_URL, json={"access_token": "at-1", "expires_in": 3600})
    requests_mock.get("https://api.example.com/a", json=[{"id": 1}])
    requests_mock.get("https://api.example.com/b", json=[{"id": 2}])
    tap = TapGenericAPI(config=_oauth_config(scopes="read write"), parse_env_config=False)
    _extract(tap, "a")
    _extract(tap, "b")
    _extract(tap, "a")
    assert token.call_count == 1
    form = dict(pair.split("=") for pair in token.last_request.text.split("&"))
    assert form["grant_type"] == "client_credentials"
    assert form["client_id"] == "cid"
    assert form["scope"] == "read+write"
    api_calls = [r for r in requests_mock.request_history if r.url != TOKEN_URL]
    assert {r.headers["Authorization"] for r in api_calls} == {"Bearer at-1"}


def test_oauth2_refresh_token_grant_renews_once_on_401(requests_mock):
    token = requests_mock.post(
        TOKEN_URL,
        [
            {"json": {"access_token": "at-1", "expires_in": 3600}},
            {"json": {"access_token": "at-2", "expires_in": 3600, "refresh_token": "rt-2"}},
        ],
    )
    api = requests_mock.get("https://api.example.com/a", [{"status_code": 401}, {"json": [{"id": 1}]}])
    config = _oauth_config(refresh_token="rt-1")
    config["auth"].pop("client_secret")
    config["auth"]["client_id"] = None
    tap = TapGenericAPI(config=config, parse_env_config=False)
    assert _extract(tap, "a") == [{"id": 1}]
    assert token.call_count == 2
    assert "grant_type=refresh_token" in token.request_history[0].text
    assert "refresh_token=rt-1" in token.request_history[0].text
    assert [r.headers["Authorization"] for r in api.request_history] == ["Bearer at-1", "Bearer at-2"]


def test_oauth2_token_expiring_within_margin_is_renewed(requests_mock):
    token = requests_mock.post(
        TOKEN_URL,
        [
            {"json": {"access_token": "at-1", "expires_in": 30}},
            {"json": {"access_token": "at-2", "expires_in": 3600}},
        ],
    )
    requests_mock.get("https://api.example.com/a", json=[])
    tap = TapGenericAPI(config=_oauth_config(), parse_env_config=False)
    _extract(tap, "a")
    _extract(tap, "a")  # 30 s lifetime minus a 3 s margin: still fine
    assert token.call_count == 1
    auth = tap.streams["a"].authenticator
    auth.last_refreshed -= datetime.timedelta(seconds=28)
    _extract(tap, "a")
    assert token.call_count == 2


def test_oauth2_plain_token_is_a_bearer_token(requests_mock):
    requests_mock.get(API, json=[])
    _extract(_tap(auth={"type": "oauth2", "provider": "VENDOR"}))
    assert requests_mock.last_request.headers["Authorization"] == f"Bearer {SECRET}"


def test_oauth2_token_endpoint_error_is_clear_and_masked(requests_mock):
    requests_mock.post(TOKEN_URL, status_code=400, json={"error": "invalid_client", "echo": SECRET})
    requests_mock.get("https://api.example.com/a", json=[])
    tap = TapGenericAPI(config=_oauth_config(), parse_env_config=False)
    with pytest.raises(Exception, match="OAuth2 token request to .* failed with status 400") as info:
        _extract(tap, "a")
    assert SECRET not in str(info.value)


def test_oauth2_token_endpoint_outage_is_retried_like_a_request(requests_mock, sleeps):
    token = requests_mock.post(
        TOKEN_URL,
        [{"status_code": 503, "text": "down"}, {"json": {"access_token": "at-1", "expires_in": 3600}}],
    )
    requests_mock.get("https://api.example.com/a", json=[{"id": 1}])
    tap = TapGenericAPI(config=_oauth_config(), parse_env_config=False)
    assert _extract(tap, "a") == [{"id": 1}]
    assert token.call_count == 2
    assert sleeps == [1.0]


def test_oauth2_token_endpoint_down_for_good_gives_up_with_the_status(requests_mock, sleeps):
    requests_mock.post(TOKEN_URL, status_code=502, text="bad gateway")
    requests_mock.get("https://api.example.com/a", json=[])
    tap = TapGenericAPI(config=_oauth_config(), parse_env_config=False)
    with pytest.raises(Exception, match=r"OAuth2 token request to .* failed with status 502.*gave up after 4 attempts"):
        _extract(tap, "a")
    assert sleeps == [1.0, 2.0, 4.0]


# --- incremental ---------------------------------------------------------------------


def test_second_incremental_run_sends_bookmark_and_emits_only_new_records(requests_mock):
    def api(request, context):
        since = request.qs["updated_since"][0].upper()
        records = [
            {"id": 1, "updated_at": "2026-01-02T00:00:00Z"},
            {"id": 2, "updated_at": "2026-01-03T00:00:00Z"},
        ]
        if since >= "2026-01-03":
            # A sloppy API: it also returns one old record the filter should have dropped.
            records = [records[0], {"id": 3, "updated_at": "2026-01-04T00:00:00Z"}]
        return records

    requests_mock.get(API, json=api)
    config = {
        "replication_key": "updated_at",
        "start_date": "2026-01-01T00:00:00Z",
        "params": {"updated_since": "{bookmark}", "until": "{end_date_unix}"},
    }
    first = _sync(_tap(**config))
    assert [m["record"]["id"] for m in first if m["type"] == "RECORD"] == [1, 2]
    assert requests_mock.request_history[0].qs["updated_since"] == ["2026-01-01t00:00:00z"]
    state = [m for m in first if m["type"] == "STATE"][-1]["value"]
    assert state["bookmarks"]["items"]["replication_key_value"] == "2026-01-03T00:00:00Z"

    second = _sync(_tap(state=state, **config))
    assert requests_mock.request_history[-1].qs["updated_since"] == ["2026-01-03t00:00:00z"]
    assert [m["record"]["id"] for m in second if m["type"] == "RECORD"] == [3]
    state2 = [m for m in second if m["type"] == "STATE"][-1]["value"]
    assert state2["bookmarks"]["items"]["replication_key_value"] == "2026-01-04T00:00:00Z"


def test_unix_start_date_variables(requests_mock):
    requests_mock.get(API, json=[])
    tap = _tap(
        start_date="2024-01-01T00:00:00Z",
        replication_key="created",
        params={"created[gte]": "{start_date_unix}", "created[lte]": "{end_date_unix}"},
    )
    _extract(tap)
    qs = requests_mock.last_request.qs
    assert qs["created[gte]"] == ["1704067200"]
    assert abs(int(qs["created[lte]"][0]) - time.time()) < 60


def test_a_bookmark_that_is_not_a_date_is_sent_as_it_is(requests_mock):
    requests_mock.get(API, json=[{"id": 9, "seq": "evt_00042"}])
    state = {"bookmarks": {"items": {"replication_key": "seq", "replication_key_value": "evt_00041"}}}
    config = {"replication_key": "seq", "start_date": "0", "params": {"after": "{bookmark}"}}
    messages = _sync(_tap(state=state, **config))
    assert requests_mock.last_request.qs["after"] == ["evt_00041"]
    assert [m["record"] for m in messages if m["type"] == "RECORD"] == [{"id": 9, "seq": "evt_00042"}]


def test_start_date_unix_of_a_bookmark_that_is_not_a_date_is_a_clear_error(requests_mock):
    state = {"bookmarks": {"items": {"replication_key": "seq", "replication_key_value": "evt_00041"}}}
    config = {"replication_key": "seq", "start_date": "0", "params": {"after": "{start_date_unix}"}}
    with pytest.raises(ConfigError, match=r"\{start_date_unix\} needs a date, .* is 'evt_00041'"):
        _sync(_tap(state=state, **config))
    assert requests_mock.call_count == 0


# --- many streams, POST, schema --------------------------------------------------------


def test_two_streams_each_send_their_own_credential(requests_mock):
    requests_mock.get("https://api.example.com/a", json=[])
    requests_mock.get("https://other.example.com/b", json=[])
    config = {
        "secrets": {"vendor_a": "key-A", "vendor_b": "key-B"},
        "auth": {"type": "bearer", "provider": "VENDOR_A"},
        "streams": [
            {"url": "https://api.example.com/a", "destination": {"table": "a"}},
            {
                "url": "https://other.example.com/b",
                "destination": {"table": "b"},
                "auth": {"type": "header", "provider": "VENDOR_B", "header_name": "X-Key"},
            },
        ],
        "rate_limit": FAST,
    }
    tap = TapGenericAPI(config=config, parse_env_config=False)
    _extract(tap, "a")
    _extract(tap, "b")
    a, b = requests_mock.request_history
    assert a.headers["Authorization"] == "Bearer key-A"
    assert "X-Key" not in a.headers
    assert b.headers["X-Key"] == "key-B"
    assert b.headers.get("Authorization", "").startswith("Bearer key-A") is False


def test_post_with_templated_body_and_cursor_in_body(requests_mock):
    requests_mock.post(
        API,
        [
            {"json": {"results": [{"id": 1}], "paging": {"next": "t2"}}},
            {"json": {"results": [{"id": 2}], "paging": {}}},
        ],
    )
    tap = _tap(
        method="POST",
        body={"filter": {"org": "{org_slug}", "since": "{start_date_unix}"}, "sort": ["id"]},
        start_date="2024-01-01T00:00:00Z",
        org_slug="acme",
        data_path="results",
        pagination={
            "type": "cursor",
            "param": "after",
            "response_path": "paging.next",
            "limit": 100,
            "location": "body",
        },
    )
    assert len(_extract(tap)) == 2
    bodies = [r.json() for r in requests_mock.request_history]
    assert bodies[0] == {"filter": {"org": "acme", "since": 1704067200}, "sort": ["id"], "limit": 100}
    assert bodies[1] == {"filter": {"org": "acme", "since": 1704067200}, "sort": ["id"], "limit": 100, "after": "t2"}
    assert all(r.qs == {} for r in requests_mock.request_history)


def test_infer_schema_from_first_pages(requests_mock):
    requests_mock.get(
        API,
        [
            {"json": {"data": [{"id": 1, "amount": 1, "tags": ["a"], "meta": {"x": None}}], "next": "p2"}},
            {"json": {"data": [{"id": 2, "amount": 2.5, "note": None, "meta": {"x": "s"}}]}},
        ],
    )
    tap = _tap(
        data_path="data", infer_schema=True, pagination={"type": "cursor", "param": "c", "response_path": "next"}
    )
    schema = tap.streams["items"].schema
    props = schema["properties"]
    assert props["id"] == {"type": ["integer", "null"]}
    assert props["amount"] == {"type": ["number", "null"]}
    assert props["tags"] == {"type": ["array", "null"], "items": {"type": ["string", "null"]}}
    assert props["note"] == {"type": ["string", "null"]}
    assert props["meta"] == {"type": ["object", "null"], "properties": {"x": {"type": ["string", "null"]}}}


def test_stream_given_schema_is_emitted(requests_mock):
    requests_mock.get(API, json=[{"id": 1, "name": "a"}])
    schema = {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}
    messages = _sync(_tap(schema=schema))
    assert messages[0]["schema"]["properties"] == schema["properties"]


def test_query_secret_never_logged_at_debug_over_real_http(httpserver, caplog):
    """Real HTTP on loopback: urllib3 logs request lines at DEBUG; the key must be masked."""
    httpserver.expect_request("/items", query_string={"api_key": SECRET}).respond_with_json(
        {"data": [{"id": 1}], "echo": SECRET}
    )
    httpserver.expect_request("/boom").respond_with_data(f"error for {SECRET}", status=418)
    config = {
        "auth": {"type": "query", "provider": "VENDOR"},
        "secrets": {"vendor": SECRET},
        "data_path": "data",
        "rate_limit": FAST,
        "streams": [
            {"url": httpserver.url_for("/items"), "destination": {"table": "items"}},
            {"url": httpserver.url_for("/boom"), "destination": {"table": "boom"}},
        ],
    }
    tap = TapGenericAPI(config=config, parse_env_config=False)
    assert _extract(tap, "items") == [{"id": 1}]
    with pytest.raises(Exception, match="API error 418") as info:
        _extract(tap, "boom")
    assert SECRET not in str(info.value)
    assert "api_key=" in caplog.text  # urllib3's DEBUG request line was logged ...
    assert SECRET not in caplog.text  # ... with the key masked


def test_offset_pages_fetched_concurrently_come_out_in_order_and_stop_at_the_short_page():
    """A real threaded server on loopback: responses arrive in any order, records go out in page order."""
    import threading

    from pytest_httpserver import HTTPServer
    from werkzeug import Response

    in_flight, peak, lock, offsets = [0], [0], threading.Lock(), []

    def page(request):
        offset = int(request.args["offset"])
        with lock:
            offsets.append(offset)
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.15 if offset % 20 == 0 else 0.05)  # some pages answer late
        with lock:
            in_flight[0] -= 1
        body = [{"id": i} for i in range(offset, min(offset + 10, 395))]
        return Response(json.dumps(body), content_type="application/json")

    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.expect_request("/v1/items").respond_with_handler(page)
    server.start()
    try:
        tap = _tap(url=server.url_for("/v1/items"), pagination={"type": "offset", "limit": 10, "max_concurrency": 4})
        ids = [r["id"] for r in _extract(tap)]
    finally:
        server.clear()
        server.stop()
    assert ids == list(range(395))
    assert sorted(offsets)[:40] == list(range(0, 400, 10))  # 390 is the short last page
    assert len(offsets) <= 43  # at most max_concurrency - 1 requests past the end
    assert peak[0] == 4  # a slow API: the requests ahead grew to max_concurrency


def test_concurrent_pages_respect_the_shared_rate_limit(requests_mock):
    def page(request, context):
        number = int(request.qs["page"][0])
        return [{"id": number * 10 + i} for i in range(5)] if number <= 20 else []

    requests_mock.get(API, json=page)
    tap = _tap(pagination={"type": "page", "limit": 5, "max_concurrency": 8}, rate_limit={"requests_per_second": 20})
    started = time.monotonic()
    assert len(_extract(tap)) == 100
    # At least 21 requests at 20 per second: 1 s at the least, whatever the concurrency.
    assert time.monotonic() - started >= 1.0


class _AlwaysAhead:
    """An AheadTuner that keeps every request ahead that max_concurrency allows."""

    def __init__(self, most):
        self.ahead = self.most_ahead = most

    def page_arrived(self, asked, arrived):
        pass


def test_requests_ahead_still_waiting_when_the_pages_end_are_never_sent(requests_mock, monkeypatch):
    """Requests past the last page that still wait for the rate limiter are dropped, not sent."""
    import threading

    monkeypatch.setattr(tap_loops, "AheadTuner", _AlwaysAhead)
    asking, waiting, released = threading.local(), threading.Event(), threading.Event()
    prepare = tap_streams.GenericAPIStream._prepare

    def prepare_page(self, rendered, paginator, token):
        asking.page = token  # this thread's page number, for the limiter below
        return prepare(self, rendered, paginator, token)

    def acquire(limiter):  # the limiter lets pages 1 to 11 through and holds the ones after
        if getattr(asking, "page", 0) > 11:
            waiting.set()
            assert released.wait(10)

    monkeypatch.setattr(tap_streams.GenericAPIStream, "_prepare", prepare_page)

    monkeypatch.setattr(RateLimiters, "acquire", staticmethod(acquire))

    def page(request, context):
        number = int(request.qs["page"][0])
        if number == 11:  # the end: answered once a request past it waits for the limiter (or after 1 s)
            waiting.wait(1)
        return [{"id": number * 10 + i} for i in range(5)] if number <= 10 else []

    requests_mock.get(API, json=page)
    tap = _tap(pagination={"type": "page", "limit": 5, "max_concurrency": 8})
    assert len(_extract(tap)) == 50
    released.set()
    time.sleep(0.3)
    assert sorted(int(r.qs["page"][0]) for r in requests_mock.request_history) == list(range(1, 12))


def test_concurrent_offsets_when_the_api_ignores_limit_give_each_record_once(requests_mock):
    def page(request, context):
        offset = int(request.qs["offset"][0])
        return [{"id": i} for i in range(offset, min(offset + 15, 100))]  # ignores limit=10

    requests_mock.get(API, json=page)
    tap = _tap(pagination={"type": "offset", "limit": 10, "max_concurrency": 4})
    assert [r["id"] for r in _extract(tap)] == list(range(100))


def test_redirect_to_another_host_is_followed_without_the_key(requests_mock):
    requests_mock.get(API, status_code=302, headers={"Location": "https://elsewhere.example/steal"})
    elsewhere = requests_mock.get("https://elsewhere.example/steal", json=[{"id": 1}])
    assert _extract(_tap(auth={"type": "header", "provider": "VENDOR"})) == [{"id": 1}]
    assert elsewhere.call_count == 1
    assert "X-API-Key" not in elsewhere.last_request.headers


def test_redirect_on_the_same_host_is_followed_with_credentials(requests_mock):
    requests_mock.get(API, status_code=301, headers={"Location": "/v2/items"})
    moved = requests_mock.get("https://api.example.com/v2/items", json=[{"id": 1}])
    assert _extract(_tap(auth={"type": "header", "provider": "VENDOR"})) == [{"id": 1}]
    assert moved.last_request.headers["X-API-Key"] == SECRET


def test_the_connection_pool_holds_max_concurrency_connections():
    tap = _tap(pagination={"type": "page", "limit": 5, "max_concurrency": 16})
    assert tap.streams["items"].requests_session.get_adapter(API)._pool_maxsize == 16
    assert _tap().streams["items"].requests_session.get_adapter(API)._pool_maxsize == 10


@pytest.fixture
def loopback_server():
    """A threaded HTTP server on 127.0.0.1 that records each request target and serves offset pages.

    A request sent through it as a proxy arrives with an absolute target
    (``http://host:port/path?...``), a direct one with the path only.
    """
    import http.server
    import threading
    import urllib.parse

    targets: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            targets.append(self.path)
            offset = int(urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)["offset"][0])
            body = json.dumps([{"id": i} for i in range(offset, min(offset + 2, 5))]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", targets
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("bypass", [False, True])
def test_proxy_from_the_environment_is_used_unless_no_proxy_names_the_host(
    loopback_server, monkeypatch, bypass, no_proxy_environment
):
    base, targets = loopback_server
    monkeypatch.setenv("HTTP_PROXY", base)  # the server is its own proxy: the target's form tells
    if bypass:
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    lookups = []
    real_lookup = requests.utils.get_environ_proxies
    monkeypatch.setattr(
        requests.utils, "get_environ_proxies", lambda *a, **k: lookups.append(a) or real_lookup(*a, **k)
    )
    tap = _tap(url=f"{base}/v1/items", pagination={"type": "offset", "limit": 2, "max_concurrency": 1})
    assert [r["id"] for r in _extract(tap)] == [0, 1, 2, 3, 4]
    prefix = "" if bypass else base
    assert targets == [f"{prefix}/v1/items?limit=2&offset={n}" for n in (0, 2, 4)]
    # The environment is read for the first request only (requests reads it on every send).
    assert len(lookups) == (0 if bypass else 1)


def test_a_malformed_proxy_is_a_config_error_naming_the_variable_without_its_password(
    monkeypatch, no_proxy_environment
):
    monkeypatch.setenv("HTTP_PROXY", "http://proxyuser:PXPASS-77k@127.0.0.1:99999")  # port out of range
    with pytest.raises(ConfigError) as info:
        _tap(url="http://api.example.test/v1/items").streams  # noqa: B018 (builds the streams)
    assert str(info.value) == (
        "The proxy for http://api.example.test from HTTP_PROXY is not a usable URL: http://***@127.0.0.1:99999. "
        "Fix or unset it, or exempt the host with NO_PROXY."
    )
    monkeypatch.setenv("NO_PROXY", "api.example.test")  # not used for this host: no error
    assert "items" in _tap(url="http://api.example.test/v1/items").streams


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("All_Proxy", "http://u:PXPASS-77k@127.0.0.1:abc", "is not a usable URL: http://***@127.0.0.1:abc"),
        ("HTTP_PROXY", "http://u:PXPASS-77k@[::1", "is not a usable URL: (not shown)"),
    ],
)
def test_proxy_variables_of_any_case_are_named_and_masked(monkeypatch, no_proxy_environment, name, value, problem):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        _tap(url="http://api.example.test/v1/items").streams  # noqa: B018 (builds the streams)
    assert str(info.value) == (
        f"The proxy for http://api.example.test from {name} {problem}. Fix or unset it, or exempt the host "
        "with NO_PROXY."
    )


def test_proxy_passwords_are_masked_as_written_and_decoded():
    environ = {
        "HTTPS_PROXY": "http://user:p%40ss-word9@proxy:3128",
        "http_proxy": "tok-en-only-77@proxy:3128",
        "All_Proxy": "http://u:ipv6-pass-55@[::1",  # malformed: still masked
        "HOME": "/root:x@y",
    }
    assert sorted(proxy_passwords(environ)) == ["ipv6-pass-55", "p%40ss-word9", "p@ss-word9", "tok-en-only-77"]


def _sync_lines(tap):
    out = io.StringIO()
    with redirect_stdout(out):
        tap.sync_all()
    return [line for line in out.getvalue().splitlines() if line.startswith('{"type":"RECORD"')]


def test_records_go_out_as_the_api_wrote_them(requests_mock):
    """Without a replication key, a record's text is copied, not decoded and encoded again."""
    first = '{"id": 1, "price": 1.10, "name": "\\u00e9t\\u00e9", "big": 123456789012345678901234567890}'
    second = '{"id":2,"nested":{"a":[1,2.50,null]},"e":1E+2}'
    requests_mock.get(API, text=f'{{"rows": [{first}, {second}], "total": 2}}\n')
    lines = _sync_lines(_tap(data_path="rows"))
    prefix = '{"type":"RECORD","stream":"items","record":'
    assert [line[: line.index(',"time_extracted":')] for line in lines] == [prefix + first, prefix + second]
    assert [json.loads(line)["record"]["id"] for line in lines] == [1, 2]


def test_records_with_line_breaks_inside_are_written_one_per_line(requests_mock):
    requests_mock.get(API, text=json.dumps({"rows": [{"id": 1, "a": "x"}, {"id": 2}]}, indent=2))
    lines = _sync_lines(_tap(data_path="rows"))
    prefix = '{"type":"RECORD","stream":"items","record":'
    assert [line[: line.index(',"time_extracted":')] for line in lines] == [
        prefix + '{"id":1,"a":"x"}',
        prefix + '{"id":2}',
    ]


def test_a_replication_key_stream_still_reads_its_records(requests_mock):
    requests_mock.get(API, text='{"rows": [{"id": 1, "ts": "2026-01-02"}, {"id": 2, "ts": "2026-01-03"}]}')
    tap = _tap(data_path="rows", replication_key="ts", start_date="2026-01-01")
    messages = _sync(tap)
    assert [m["record"]["id"] for m in messages if m["type"] == "RECORD"] == [1, 2]
    state = [m for m in messages if m["type"] == "STATE"][-1]["value"]
    assert state["bookmarks"]["items"]["replication_key_value"] == "2026-01-03"


def test_flattening_enabled_flattens_the_records_as_well_as_the_schema(requests_mock):
    requests_mock.get(API, text='{"rows": [{"id": 1, "b": {"x": 1, "y": 2}}]}')
    schema = {"type": "object", "properties": {"id": {"type": "integer"}, "b": {"type": "object"}}}
    schema["properties"]["b"]["properties"] = {"x": {"type": "integer"}, "y": {"type": "integer"}}
    tap = _tap(data_path="rows", schema=schema, flattening_enabled=True, flattening_max_depth=3)
    messages = _sync(tap)
    (schema_message,) = [m for m in messages if m["type"] == "SCHEMA"]
    assert set(schema_message["schema"]["properties"]) == {"id", "b__x", "b__y"}
    assert [m["record"] for m in messages if m["type"] == "RECORD"] == [{"id": 1, "b__x": 1, "b__y": 2}]


def test_a_nested_field_deselected_in_the_catalog_is_left_out(requests_mock):
    requests_mock.get(API, text='{"rows": [{"id": 1, "b": {"x": 1, "y": 2}}]}')
    schema = {"type": "object", "properties": {"id": {"type": "integer"}, "b": {"type": "object"}}}
    schema["properties"]["b"]["properties"] = {"x": {"type": "integer"}, "y": {"type": "integer"}}
    catalog = _tap(data_path="rows", schema=schema).catalog_dict
    for entry in catalog["streams"][0]["metadata"]:
        if entry["breadcrumb"] == ["properties", "b", "properties", "y"]:
            entry["metadata"]["selected"] = False
    config = {**_tap(data_path="rows", schema=schema).config}
    tap = TapGenericAPI(config=config, catalog=catalog, parse_env_config=False)
    records = [m["record"] for m in _sync(tap) if m["type"] == "RECORD"]
    assert records == [{"id": 1, "b": {"x": 1}}]


def test_utf8_json_labelled_text_plain_without_charset_is_read_as_utf8(requests_mock):
    requests_mock.get(
        API, content='{"rows": [{"id": 1, "a": "café"}]}'.encode(), headers={"Content-Type": "text/plain"}
    )
    assert _extract(_tap(data_path="rows")) == [{"id": 1, "a": "café"}]
    lines = _sync_lines(_tap(data_path="rows"))
    assert json.loads(lines[0])["record"] == {"id": 1, "a": "café"}


def _cut_api(requests_mock):
    def page(request, context):
        number = int(request.qs["page"][0])
        return [{"id": number * 10 + i, "seq": number * 10 + i} for i in range(2)]  # endless

    requests_mock.get(API, json=page)


def test_an_unsorted_incremental_stream_cut_at_max_pages_stops_without_moving_the_bookmark(requests_mock):
    _cut_api(requests_mock)
    tap = _tap(replication_key="seq", start_date="0", pagination={"type": "page", "limit": 2, "max_pages": 3})
    out = io.StringIO()
    with redirect_stdout(out):
        with pytest.raises(PaginationTruncatedError, match=r"stopped at pagination\.max_pages \(3 pages\)"):
            tap.sync_all()
        tap.message_writer.flush()
    messages = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [m["record"]["id"] for m in messages if m["type"] == "RECORD"] == [10, 11, 20, 21, 30, 31]
    assert not any(
        m["value"].get("bookmarks", {}).get("items", {}).get("replication_key_value")
        for m in messages
        if m["type"] == "STATE"
    )


def test_a_sorted_stream_cut_at_max_pages_without_progress_is_an_error(requests_mock):
    # More records share one replication key value than max_pages holds: the next run would
    # start from the same bookmark and fetch the same pages, for ever.
    def page(request, context):
        return [{"id": int(request.qs["page"][0]) * 10 + i, "seq": 7} for i in range(2)]  # endless

    requests_mock.get(API, json=page)
    config = {"replication_key": "seq", "is_sorted": True, "pagination": {"type": "page", "limit": 2, "max_pages": 2}}
    first = _sync(_tap(start_date="0", **config))  # from start_date to 7: progress
    state = [m for m in first if m["type"] == "STATE"][-1]["value"]
    assert state["bookmarks"]["items"]["replication_key_value"] == 7
    assert _sync_error(_tap(state=state, **config), PaginationTruncatedError) == (
        "Stream 'items': stopped at pagination.max_pages (2 pages) without moving its bookmark past 7: more "
        "records than those pages hold share that seq value (or are older), so every run would fetch the "
        "same pages. Raise max_pages."
    )


def test_a_sorted_incremental_stream_cut_at_max_pages_keeps_its_bookmark(requests_mock, caplog):
    _cut_api(requests_mock)
    tap = _tap(
        replication_key="seq",
        is_sorted=True,
        start_date="0",
        pagination={"type": "page", "limit": 2, "max_pages": 3},
    )
    messages = _sync(tap)
    state = [m for m in messages if m["type"] == "STATE"][-1]["value"]
    assert state["bookmarks"]["items"]["replication_key_value"] == 31
    assert "stopped after 3 pages" in caplog.text


def test_a_bookmark_of_another_type_than_the_records_values_is_a_clear_error(requests_mock):
    requests_mock.get(API, json=[{"id": 5, "seq": 7}, {"id": 6, "seq": 8}])
    state = {"bookmarks": {"items": {"replication_key": "seq", "replication_key_value": "5"}}}
    tap = _tap(state=state, replication_key="seq", is_sorted=True)
    assert _sync_error(tap, BookmarkTypeError) == (
        "Stream 'items': the bookmark '5' (str) cannot be compared with the records' seq values, such as 7 "
        "(int). Fix the bookmark in the state file (or start_date) to the same type, or run without --state."
    )
