"""Each paginator type on hand-built responses: the tokens it reads, the requests it builds, where it stops."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import requests
from singer_sdk.streams.rest import HTTPRequest

from tap_generic_api.config import PaginationConfig
from tap_generic_api.errors import ForeignHostError, PaginationLoopError
from tap_generic_api.http.responses import read_json, records_at
from tap_generic_api.paging.paginators import (
    CursorPaginator,
    LinkPaginator,
    NoPaginator,
    OffsetPaginator,
    PagePaginator,
    build_paginator,
)
from tap_generic_api.paths import DottedPath

URL = "https://api.example.com/v1/items"
DATA = DottedPath("data")


def response(body: Any = None, *, url: str = URL, headers: dict[str, str] | None = None) -> requests.Response:
    """Return a 200 response for ``url`` with ``body`` as JSON (None: no body) and ``headers``."""
    made = requests.Response()
    made.status_code = 200
    made.url = url
    made._content = b"" if body is None else json.dumps(body).encode()
    made.headers.update({"Content-Type": "application/json", **(headers or {})})
    return made


def records_of(made: requests.Response) -> list[Any]:
    """Return the records at ``data`` (as the stream does)."""
    return records_at(read_json(made), DATA, url=made.url)


def paginator(**config: Any):
    """Return a fresh paginator for a ``pagination`` block."""
    return build_paginator(
        PaginationConfig(**config), records_of=records_of, stream="items", first_url=URL, data_path=DATA
    )


def request() -> HTTPRequest:
    """Return the configured first request."""
    return HTTPRequest(url=URL, method="GET", headers={}, params={"q": "x"}, data=None)


def test_the_table_builds_each_type():
    kinds = {"none": NoPaginator, "cursor": CursorPaginator, "offset": OffsetPaginator, "page": PagePaginator}
    kinds["link"] = LinkPaginator
    for name, kind in kinds.items():
        assert type(paginator(type=name, param="p")) is kind


def test_none_reads_one_page():
    made = paginator(type="none")
    made.advance(response({"data": [{"id": 1}]}))
    assert made.finished
    assert made.count == 1
    built = request()
    made.update_request(built)
    assert built.params == {"q": "x"}


def test_cursor_reads_the_cursor_and_sends_it_back():
    made = paginator(type="cursor", param="after", response_path="meta.next", limit=2)
    first = request()
    made.update_request(first)
    assert first.params == {"q": "x", "limit": 2}
    made.advance(response({"data": [{"id": 1}, {"id": 2}], "meta": {"next": "c2"}}))
    assert not made.finished
    second = request()
    made.update_request(second)
    assert second.params == {"q": "x", "limit": 2, "after": "c2"}
    made.advance(response({"data": [{"id": 3}], "meta": {"next": None}}))
    assert made.finished
    assert made.count == 2


def test_cursor_object_travels_as_json_text():
    made = paginator(type="cursor", param="after", response_path="next")
    made.advance(response({"data": [{"id": 1}], "next": {"id": 1, "at": "x"}}))
    built = request()
    made.update_request(built)
    assert built.params["after"] == '{"id":1,"at":"x"}'


def test_cursor_seen_before_is_a_loop():
    made = paginator(type="cursor", param="after", response_path="next")
    made.advance(response({"data": [{"id": 1}], "next": "a"}))
    made.advance(response({"data": [{"id": 2}], "next": "b"}))
    with pytest.raises(PaginationLoopError, match="'a' which was already requested") as caught:
        made.advance(response({"data": [{"id": 3}], "next": "a"}))
    assert caught.value.stream == "items"


def test_cursor_repeated_at_once_ends_the_pages(caplog):
    made = paginator(type="cursor", param="after", response_path="next")
    made.advance(response({"data": [{"id": 1}], "next": "a"}))
    with caplog.at_level(logging.WARNING):
        made.advance(response({"data": [{"id": 2}], "next": "a"}))
    assert made.finished
    assert "the API returned the same pagination token again ('a')" in caplog.text


def test_cursor_in_the_body_means_records_are_decoded():
    assert CursorPaginator.reads_body(PaginationConfig(type="cursor", response_path="next"))
    assert not OffsetPaginator.reads_body(PaginationConfig(type="offset", limit=2))
    assert not PagePaginator.reads_body(PaginationConfig(type="page"))
    assert not NoPaginator.reads_body(PaginationConfig())
    assert LinkPaginator.reads_body(PaginationConfig(type="link", response_path="links.next"))
    assert not LinkPaginator.reads_body(PaginationConfig(type="link"))


def test_cursor_follows_an_empty_page_that_carries_a_cursor():
    made = paginator(type="cursor", param="after", response_path="next")
    assert made.continue_if_empty(response({"data": [], "next": "b"}))
    assert not made.continue_if_empty(response({"data": [], "next": ""}))


def test_offset_moves_by_the_records_received_and_stops_at_a_short_page():
    made = paginator(type="offset", param="offset", limit=2, limit_param="limit")
    made.advance(response({"data": [{"id": 1}, {"id": 2}]}))
    built = request()
    made.update_request(built)
    assert built.params == {"q": "x", "limit": 2, "offset": 2}
    made.advance(response({"data": [{"id": 3}]}))
    assert made.finished
    assert made.count == 2


def test_offset_in_the_body():
    made = paginator(type="offset", param="offset", limit=2, location="body")
    made.advance(response({"data": [{"id": 1}, {"id": 2}]}))
    built = HTTPRequest(url=URL, method="POST", headers={}, params={}, data={"filter": "a"})
    made.update_request(built)
    assert built.data == {"filter": "a", "limit": 2, "offset": 2}
    assert built.params == {}


def test_offset_issues_tokens_ahead_up_to_max_pages():
    made = paginator(type="offset", param="offset", limit=10, max_pages=3, max_concurrency=4)
    assert made.may_fetch_ahead()
    assert [made.issue(), made.issue(), made.issue(), made.issue()] == [0, 10, 20, None]


def test_offset_resumes_at_the_real_offset_after_an_overfull_page():
    made = paginator(type="offset", param="offset", limit=2)
    assert made.overfull_resume(4, [1, 2, 3]) == 7
    assert made.overfull_resume(4, [1, 2]) is None
    assert paginator(type="page", param="page", limit=2).overfull_resume(4, [1, 2, 3]) is None


def test_without_a_limit_pages_are_not_fetched_ahead():
    assert not paginator(type="offset", param="offset", max_concurrency=4).may_fetch_ahead()
    assert not paginator(type="page", param="page", limit=5, max_concurrency=1).may_fetch_ahead()


def test_page_numbers_start_at_one_and_stop_at_an_empty_page():
    made = paginator(type="page", param="page")
    first = request()
    made.update_request(first)
    assert first.params == {"q": "x", "page": 1}
    made.advance(response({"data": [{"id": 1}]}))
    second = request()
    made.update_request(second)
    assert second.params == {"q": "x", "page": 2}
    made.advance(response({"data": []}))
    assert made.finished
    assert [made.issue(), made.issue()] == [1, 2]


def test_numbered_pages_holding_the_same_records_are_a_loop():
    made = paginator(type="page", param="page", limit=1)
    made.check_page([{"id": 1}])
    made.check_page([{"id": 2}])
    with pytest.raises(PaginationLoopError, match="pages 2 and 3 hold the same 1 records"):
        made.check_page([{"id": 2}])


def test_cursor_pages_holding_the_same_records_are_not_checked():
    made = paginator(type="cursor", param="after", response_path="next")
    made.check_page([{"id": 1}])
    made.check_page([{"id": 1}])


def test_max_pages_stops_and_marks_the_result_truncated(caplog):
    made = paginator(type="page", param="page", max_pages=2)
    made.advance(response({"data": [{"id": 1}]}))
    assert not made.truncated
    with caplog.at_level(logging.WARNING):
        made.advance(response({"data": [{"id": 2}]}))
    assert made.finished
    assert made.truncated
    assert made.count == 2
    assert "Stream 'items': stopped after 2 pages (pagination.max_pages)" in caplog.text


def test_pages_counted_by_a_loop_reach_the_same_cap():
    made = paginator(type="offset", param="offset", limit=1, max_pages=2)
    made.count_page()
    assert not made.reached_cap()
    made.count_page()
    assert made.reached_cap()
    assert made.truncated


def test_link_header_next_url_is_requested_as_given():
    made = paginator(type="link", limit=50, limit_param="per_page")
    first = request()
    made.update_request(first)
    assert first.params == {"q": "x", "per_page": 50}
    nxt = f"{URL}?q=x&cursor=Zz%3D&per_page=50"
    made.advance(response({"data": [{"id": 1}]}, headers={"Link": f'<{nxt}>; rel="next"'}))
    second = request()
    made.update_request(second)
    assert second.url == nxt
    assert second.params == {}
    made.advance(response({"data": [{"id": 2}]}, url=nxt))
    assert made.finished


def test_link_in_the_body_is_resolved_against_the_current_url_and_missing_params_appended():
    made = paginator(type="link", response_path="links.next")
    made.advance(response({"data": [{"id": 1}], "links": {"next": "/v1/items?cursor=2"}}))
    built = request()
    made.update_request(built)
    assert built.url == "https://api.example.com/v1/items?cursor=2&q=x"


def test_link_to_another_host_is_refused():
    made = paginator(type="link", response_path="next")
    with pytest.raises(ForeignHostError, match="points to host 'evil.example.net'") as caught:
        made.advance(response({"data": [{"id": 1}], "next": "https://evil.example.net/v1/items?page=2"}))
    assert caught.value.stream == "items"
    assert caught.value.url == "https://evil.example.net/v1/items?page=2"


def test_link_back_to_the_first_page_is_a_loop():
    made = paginator(type="link", response_path="next")
    with pytest.raises(PaginationLoopError):
        made.advance(response({"data": [{"id": 1}], "next": URL}))


def test_null_records_after_the_first_page_are_warned_about(caplog):
    made = paginator(type="page", param="page")
    made.advance(response({"data": [{"id": 1}]}))
    with caplog.at_level(logging.WARNING):
        made.end_at_empty_page(response({"data": None}))
    assert made.count == 2
    assert "page 2" in caplog.text
    assert "null at data_path 'data'" in caplog.text
