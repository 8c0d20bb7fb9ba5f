"""Child requests under the retry policy: a retried status in ignore_statuses, 429 with Retry-After."""

from __future__ import annotations

import logging

import pytest
from helpers import sync_messages

from plugin_kit.errors import ConfigError
from tap_generic_api.tap import TapGenericAPI

BASE = "https://api.example.com"


def _tap(ignore: list[int]) -> TapGenericAPI:
    config = {
        "rate_limit": {"requests_per_second": 1000, "max_retries": 2, "max_retry_wait": 10},
        "streams": [
            {"name": "posts", "url": f"{BASE}/posts", "destination": {"table": "posts"}},
            {
                "name": "comments",
                "parent": "posts",
                "url": f"{BASE}/posts/{{parent.id}}/comments",
                "ignore_statuses": ignore,
                # One worker: the thread that got a 429 is the one its pause would hold (no real wait here).
                "pagination": {"type": "none", "max_concurrency": 1},
                "destination": {"table": "comments"},
            },
        ],
    }
    return TapGenericAPI(config=config, parse_env_config=False)


def _comments(messages: list[dict]) -> list[str]:
    return [m["record"]["id"] for m in messages if m["type"] == "RECORD" and m["stream"] == "comments"]


def test_a_retried_status_in_ignore_statuses_is_retried_before_the_parent_is_skipped(requests_mock, sleeps, caplog):
    # Post 1 answers 503 once, then its comments; post 2 answers 503 every time; post 3 a 429
    # with Retry-After once. Only post 2, whose retries ran out, is skipped.
    requests_mock.get(f"{BASE}/posts", json=[{"id": 1}, {"id": 2}, {"id": 3}])
    requests_mock.get(f"{BASE}/posts/1/comments", [{"status_code": 503, "json": {}}, {"json": [{"id": "1-a"}]}])
    requests_mock.get(f"{BASE}/posts/2/comments", status_code=503, json={})
    requests_mock.get(
        f"{BASE}/posts/3/comments",
        [{"status_code": 429, "headers": {"Retry-After": "7"}, "json": {}}, {"json": [{"id": "3-a"}]}],
    )
    with caplog.at_level(logging.INFO):
        messages = sync_messages(_tap([503, 429]))
    assert _comments(messages) == ["1-a", "3-a"]
    asked = [request.path for request in requests_mock.request_history[1:]]
    assert sorted(asked) == ["/posts/1/comments"] * 2 + ["/posts/2/comments"] * 3 + ["/posts/3/comments"] * 2
    assert sorted(sleeps) == [1.0, 1.0, 2.0, 7.0]
    assert "1 parents skipped (1 x HTTP 503)" in caplog.text
    assert "skipped parent stream 'posts' record 2 (parent.id=2): HTTP 503" in caplog.text


def test_a_status_not_retried_in_ignore_statuses_skips_at_once(requests_mock, sleeps):
    requests_mock.get(f"{BASE}/posts", json=[{"id": 1}, {"id": 2}])
    requests_mock.get(f"{BASE}/posts/1/comments", status_code=410, json={})
    requests_mock.get(f"{BASE}/posts/2/comments", json=[{"id": "2-a"}])
    messages = sync_messages(_tap([410]))
    assert _comments(messages) == ["2-a"]
    assert len(requests_mock.request_history) == 3
    assert sleeps == []


@pytest.mark.parametrize("status", [200, 204, 301, 600])
def test_ignore_statuses_lists_error_statuses_only(status):
    with pytest.raises(ConfigError) as caught:
        _tap([404, status])
    assert str(caught.value) == (
        f"streams[1].ignore_statuses must be a list of HTTP error statuses, 400 to 599 (for example [404]), "
        f"got [404, {status}]."
    )
