"""Retries: which answers are retried, how long the tap waits (Retry-After, backoff), the error after the last try."""

from __future__ import annotations

import email.utils
import time

import pytest
import requests
from helpers import API, FAST, bearer_tap, extract
from helpers import BEARER_SECRET as SECRET

from tap_generic_api.errors import APIRequestError, RetryWaitTooLongError


def test_429_with_retry_after_seconds_waits_that_long(requests_mock, sleeps):
    requests_mock.get(API, [{"status_code": 429, "headers": {"Retry-After": "2"}}, {"json": [{"id": 1}]}])
    assert extract(bearer_tap()) == [{"id": 1}]
    assert requests_mock.call_count == 2
    assert sleeps == [2.0]


def test_429_with_retry_after_http_date(requests_mock, sleeps):
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    requests_mock.get(API, [{"status_code": 429, "headers": {"Retry-After": when}}, {"json": []}])
    extract(bearer_tap())
    assert requests_mock.call_count == 2
    assert len(sleeps) == 1
    assert 27.5 <= sleeps[0] <= 30.0


def test_429_without_retry_after_backs_off_exponentially(requests_mock, sleeps):
    requests_mock.get(API, [{"status_code": 429}] * 3 + [{"json": []}])
    extract(bearer_tap())
    assert sleeps == [1.0, 2.0, 4.0]


def test_503_four_times_with_max_retries_3_gives_up_with_clear_error(requests_mock, sleeps):
    requests_mock.get(API, status_code=503, reason="Service Unavailable", text=f"down for maintenance {SECRET}")
    tap = bearer_tap(auth={"type": "query", "provider": "VENDOR"}, rate_limit={**FAST, "max_retries": 3})
    with pytest.raises(APIRequestError) as info:
        extract(tap)
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
    assert len(extract(bearer_tap())) == 1
    assert requests_mock.call_count == 2


@pytest.mark.parametrize("status", [400, 403, 404, 422, 501])
def test_other_errors_fail_at_once(requests_mock, sleeps, status):
    requests_mock.get(API, status_code=status, text="nope")
    with pytest.raises(Exception, match=f"API error {status}"):
        extract(bearer_tap())
    assert requests_mock.call_count == 1
    assert sleeps == []


def test_401_says_the_credential_is_invalid_or_expired(requests_mock, sleeps):
    requests_mock.get(API, status_code=401, reason="Unauthorized", json={"error": f"bad token {SECRET}"})
    with pytest.raises(Exception, match="credential is invalid or expired") as info:
        extract(bearer_tap())
    assert SECRET not in str(info.value)
    assert requests_mock.call_count == 1


def test_403_says_the_credential_may_lack_permission_and_html_scripts_are_dropped(requests_mock, sleeps):
    page = "<html><head><script>var x = 'noise';</script></head><body><h1>Forbidden</h1></body></html>"
    requests_mock.get(API, status_code=403, reason="Forbidden", text=page, headers={"Content-Type": "text/html"})
    with pytest.raises(Exception, match="not allowed to read this resource") as info:
        extract(bearer_tap())
    assert "Forbidden" in str(info.value)
    assert "noise" not in str(info.value)


def test_retry_on_429_false_fails_at_once(requests_mock, sleeps):
    requests_mock.get(API, status_code=429, headers={"Retry-After": "1"})
    with pytest.raises(Exception, match=r"API error 429.*retry_on_429 is false"):
        extract(bearer_tap(rate_limit={**FAST, "retry_on_429": False}))
    assert requests_mock.call_count == 1


def test_absurd_retry_after_is_an_error_not_a_hang(requests_mock, sleeps):
    requests_mock.get(API, status_code=429, headers={"Retry-After": "86400"})
    with pytest.raises(RetryWaitTooLongError, match=r"asks to wait 86400 s .*max_retry_wait \(300 s\)"):
        extract(bearer_tap())
    assert requests_mock.call_count == 1
    assert sleeps == []


def test_connection_errors_are_retried_then_reported_without_secret(requests_mock, sleeps):
    requests_mock.get(API, exc=requests.exceptions.ConnectionError(f"refused for {API}?api_key={SECRET}"))
    with pytest.raises(APIRequestError) as info:
        extract(bearer_tap(auth={"type": "query", "provider": "VENDOR"}, rate_limit={**FAST, "max_retries": 2}))
    assert requests_mock.call_count == 3
    assert sleeps == [1.0, 2.0]
    assert "failed after 3 attempts: ConnectionError" in str(info.value)
    assert SECRET not in str(info.value)


def test_a_request_error_that_is_not_retried_does_not_claim_retries(requests_mock, sleeps):
    requests_mock.get(API, exc=requests.exceptions.TooManyRedirects("Exceeded 30 redirects."))
    with pytest.raises(APIRequestError) as info:
        extract(bearer_tap())
    assert requests_mock.call_count == 1
    assert sleeps == []
    assert str(info.value) == (f"Stream 'items': request to {API} failed: TooManyRedirects: Exceeded 30 redirects.")


def test_timeouts_are_retried(requests_mock, sleeps):
    requests_mock.get(API, [{"exc": requests.exceptions.ReadTimeout("slow")}, {"json": [{"id": 1}]}])
    assert len(extract(bearer_tap())) == 1
    assert sleeps == [1.0]
