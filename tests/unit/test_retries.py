"""Retry-After parsing and retry decisions: tap_generic_api/retries.py."""

from __future__ import annotations

import email.utils

import pytest
import requests
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

from tap_generic_api.errors import RetryWaitTooLongError
from tap_generic_api.http.retries import RETRY_STATUSES, classify, parse_retry_after, wait_generator

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z


def _response(status: int, headers: dict | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers or {})
    response.url = "https://api.example.com/v1/items"
    return response


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        (email.utils.formatdate(NOW + 30, usegmt=True), 30.0),
        (email.utils.formatdate(NOW - 30, usegmt=True), 0.0),  # a date in the past: no wait
        ("Tue, 14 Nov 2023 22:14:20", 60.0),  # no zone: taken as GMT
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),  # RFC 9110 delay-seconds are whole digits only
    ],
)
def test_retry_after_as_seconds_or_http_date(value, expected):
    assert parse_retry_after(value, now=NOW) == expected


def test_the_retried_statuses_are_408_429_and_5xx_but_501_and_505():
    assert {408, 429, 500, 502, 503, 504, 520, 524, 599} <= RETRY_STATUSES
    assert not {400, 401, 403, 404, 409, 422, 501, 505} & RETRY_STATUSES
    assert len(RETRY_STATUSES) == 2 + 98


@pytest.mark.parametrize("status", [200, 204, 301, 304])
def test_an_answer_below_400_is_no_error(status):
    assert classify(_response(status), retry_on_429=True, message="m") is None


@pytest.mark.parametrize("status", [408, 429, 500, 503, 522])
def test_a_transient_status_is_retried(status):
    with pytest.raises(RetriableAPIError) as info:
        classify(_response(status), retry_on_429=True, message="Stream 'items': API error")
    assert str(info.value) == "Stream 'items': API error"
    assert info.value.response.status_code == status


@pytest.mark.parametrize("status", [400, 401, 404, 501, 505])
def test_any_other_error_status_fails_at_once(status):
    with pytest.raises(FatalAPIError) as info:
        classify(_response(status), retry_on_429=True, message="m")
    assert not isinstance(info.value, RetriableAPIError)
    assert str(info.value) == "m"


def test_429_fails_at_once_when_retry_on_429_is_false():
    with pytest.raises(FatalAPIError) as info:
        classify(_response(429), retry_on_429=False, message="m")
    assert not isinstance(info.value, RetriableAPIError)
    assert str(info.value) == "m (rate_limit.retry_on_429 is false)"


def test_retry_statuses_replace_the_default_set():
    with pytest.raises(RetriableAPIError):
        classify(_response(404), retry_on_429=True, message="m", retry_statuses=frozenset({404}))
    with pytest.raises(FatalAPIError) as info:
        classify(_response(503), retry_on_429=True, message="m", retry_statuses=frozenset({404}))
    assert not isinstance(info.value, RetriableAPIError)
    with pytest.raises(FatalAPIError) as info:  # 429 outside the set is not retried either
        classify(_response(429), retry_on_429=True, message="m", retry_statuses=frozenset({404}))
    assert str(info.value) == "m"


def _waits(exceptions, max_retry_wait=300.0):
    generator = wait_generator(max_retry_wait=max_retry_wait, describe=lambda r: f"HTTP {r.status_code}")()
    assert next(generator) == 0.0  # backoff's priming value
    return [generator.send(exception) for exception in exceptions]


def test_waits_double_from_one_second():
    errors = [requests.ConnectionError("refused")] * 4 + [RetriableAPIError("503", _response(503))]
    assert _waits(errors) == [1.0, 2.0, 4.0, 8.0, 16.0]


def test_a_429_waits_its_retry_after_and_the_count_goes_on():
    errors = [
        requests.Timeout("slow"),
        RetriableAPIError("429", _response(429, {"Retry-After": "42"})),
        RetriableAPIError("429", _response(429)),  # no Retry-After: the exponential wait
        RetriableAPIError("503", _response(503, {"Retry-After": "42"})),  # only a 429's Retry-After counts
    ]
    assert _waits(errors) == [1.0, 42.0, 4.0, 8.0]


def test_a_wait_past_max_retry_wait_stops_naming_the_response():
    with pytest.raises(RetryWaitTooLongError) as info:
        _waits([RetriableAPIError("429", _response(429, {"Retry-After": "3600"}))], max_retry_wait=300)
    assert str(info.value) == (
        "HTTP 429: the API asks to wait 3600 s before retrying, more than rate_limit.max_retry_wait (300 s). "
        "Stopping instead of hanging."
    )


def test_a_backoff_past_max_retry_wait_stops_naming_the_error():
    with pytest.raises(RetryWaitTooLongError) as info:
        _waits([requests.ConnectionError("refused")] * 3, max_retry_wait=3)
    assert str(info.value) == (
        "refused: the API asks to wait 4 s before retrying, more than rate_limit.max_retry_wait (3 s). "
        "Stopping instead of hanging."
    )
