"""The rate limit: requests per second over every tenth of a second and every second, shared by streams."""

from __future__ import annotations

import time

import pytest
from helpers import API, bearer_tap, extract

from tap_generic_api.http.ratelimit import RateLimiters, rates_for
from tap_generic_api.tap import TapGenericAPI


def test_fifty_requests_at_ten_per_second_take_at_least_4_9_seconds(requests_mock):
    pages = [{"json": [{"id": i}]} for i in range(49)] + [{"json": []}]
    requests_mock.get(API, pages)
    tap = bearer_tap(
        pagination={"type": "page", "limit": 1, "max_concurrency": 1}, rate_limit={"requests_per_second": 10}
    )
    started = time.monotonic()
    assert len(extract(tap)) == 49
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
        extract(tap, "a")
        extract(tap, "b")
    # 6 requests through one limiter at 5/s: at least 5 intervals of 0.2 s.
    assert time.monotonic() - started >= 0.99


def test_concurrent_pages_respect_the_shared_rate_limit(requests_mock):
    def page(request, context):
        number = int(request.qs["page"][0])
        return [{"id": number * 10 + i} for i in range(5)] if number <= 20 else []

    requests_mock.get(API, json=page)
    tap = bearer_tap(
        pagination={"type": "page", "limit": 5, "max_concurrency": 8}, rate_limit={"requests_per_second": 20}
    )
    started = time.monotonic()
    assert len(extract(tap)) == 100
    # At least 21 requests at 20 per second: 1 s at the least, whatever the concurrency.
    assert time.monotonic() - started >= 1.0
