"""Pagination safety: cursor loops, max_pages, empty pages, next links to other hosts."""

from __future__ import annotations

import pytest
from helpers import API, bearer_tap, extract

from tap_generic_api.errors import ForeignHostError, PaginationLoopError


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
    tap = bearer_tap(data_path="data", pagination={"type": "cursor", "param": "c", "response_path": "next"})
    with pytest.raises(PaginationLoopError, match="returned 'A' which was already requested"):
        extract(tap)
    assert requests_mock.call_count == 3


def test_cursor_echoed_back_on_last_page_ends_cleanly(requests_mock, caplog):
    requests_mock.get(
        API,
        [
            {"json": {"data": [{"id": 1}], "next": "A"}},
            {"json": {"data": [{"id": 2}], "next": "A"}},
        ],
    )
    tap = bearer_tap(data_path="data", pagination={"type": "cursor", "param": "c", "response_path": "next"})
    assert len(extract(tap)) == 2
    assert requests_mock.call_count == 2
    assert "same pagination token again ('A')" in caplog.text


def test_endless_api_stops_at_max_pages(requests_mock, caplog):
    counter = iter(range(10**6))
    requests_mock.get(API, json=lambda request, context: {"data": [{"id": 1}], "next": f"c{next(counter)}"})
    tap = bearer_tap(
        data_path="data", pagination={"type": "cursor", "param": "c", "response_path": "next", "max_pages": 25}
    )
    assert len(extract(tap)) == 25
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
    tap = bearer_tap(data_path="data", pagination={"type": "cursor", "param": "c", "response_path": "next"})
    assert extract(tap) == [{"id": 1}]
    assert requests_mock.call_count == 2


def test_next_link_to_another_host_is_refused(requests_mock):
    requests_mock.get(API, json=[{"id": 1}], headers={"Link": '<https://evil.example/steal?page=2>; rel="next"'})
    evil = requests_mock.get("https://evil.example/steal", json=[])
    with pytest.raises(ForeignHostError, match="host 'evil.example', not the configured host 'api.example.com'"):
        extract(bearer_tap(pagination={"type": "link"}))
    assert evil.call_count == 0


def test_next_link_to_allowed_host_is_followed(requests_mock):
    requests_mock.get(API, json=[{"id": 1}], headers={"Link": '<https://cdn.example.com/p2>; rel="next"'})
    requests_mock.get("https://cdn.example.com/p2", json=[{"id": 2}])
    assert len(extract(bearer_tap(pagination={"type": "link"}, allowed_hosts=["cdn.example.com"]))) == 2


def test_next_link_relative_and_params_not_repeated_and_escapes_kept(requests_mock):
    requests_mock.get(
        API,
        [
            {"json": {"items": [{"id": 1}], "next": "items?cursor=a%2Fb%3D&status=open"}},
            {"json": {"items": [{"id": 2}]}},
        ],
    )
    tap = bearer_tap(
        data_path="items",
        params={"status": "open", "expand": "all"},
        pagination={"type": "link", "response_path": "next", "limit": 50, "limit_param": "per_page"},
    )
    assert len(extract(tap)) == 2
    urls = [r.url for r in requests_mock.request_history]
    assert urls[0] == f"{API}?status=open&expand=all&per_page=50"
    assert urls[1] == f"{API}?cursor=a%2Fb%3D&status=open&expand=all&per_page=50"
