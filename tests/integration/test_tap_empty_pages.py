"""Empty answers in the middle of a paginated stream: never a silent short run (issue 14, item 13)."""

from __future__ import annotations

import json
import subprocess

import pytest
from helpers import API, BIN, extract, plain_tap
from werkzeug import Response

from tap_generic_api.errors import APIRequestError

CURSOR = {"type": "cursor", "param": "after", "response_path": "next"}


def _page(first: int, count: int = 2, next_cursor=None):
    return {"json": {"data": [{"id": i} for i in range(first, first + count)], "next": next_cursor}}


def test_the_issue_run_5000_served_all_5000_written_through_the_cli(tmp_path, httpserver):
    """Five offset pages of 1,000; page 2 first answers 200 with an empty body. Before: 1,000 records, exit 0."""
    url = httpserver.url_for("/v1/items")
    glitched = []

    def handler(request):
        offset = int(request.args["offset"])
        if offset == 1000 and not glitched:
            glitched.append(offset)
            return Response("", status=200, content_type="application/json")
        rows = [{"id": i} for i in range(offset, min(offset + 1000, 5000))]
        return Response(json.dumps(rows), content_type="application/json")

    httpserver.expect_request("/v1/items").respond_with_handler(handler)
    config = {
        "url": url,
        "destination": {"table": "items"},
        "pagination": {"type": "offset", "limit": 1000, "max_concurrency": 1},
        "rate_limit": {"requests_per_second": 1000},
    }
    path = tmp_path / "tap.json"
    path.write_text(json.dumps(config))
    result = subprocess.run(
        [str(BIN / "tap-generic-api"), "--config", str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    ids = [json.loads(line)["record"]["id"] for line in result.stdout.splitlines() if '"RECORD"' in line]
    assert ids == list(range(5000))
    assert "status 200 with an empty body" in result.stderr
    offsets = [request.args["offset"] for request, _ in httpserver.log]
    assert offsets == ["0", "1000", "1000", "2000", "3000", "4000", "5000"]


@pytest.mark.parametrize("body", ["", "  \r\n"])
def test_an_empty_200_mid_stream_is_retried_like_a_503(requests_mock, sleeps, body):
    requests_mock.get(API, [_page(1, next_cursor="B"), {"text": body}, _page(3)])
    assert [r["id"] for r in extract(plain_tap(data_path="data", pagination=CURSOR))] == [1, 2, 3, 4]
    assert sleeps == [1.0]
    assert [r.qs.get("after") for r in requests_mock.request_history] == [None, ["b"], ["b"]]


def test_an_empty_200_that_persists_fails_the_run_naming_the_stream_and_url(requests_mock, sleeps):
    requests_mock.get(API, [_page(1, next_cursor="B"), {"text": ""}])
    tap = plain_tap(data_path="data", pagination=CURSOR, rate_limit={"requests_per_second": 1000, "max_retries": 2})
    with pytest.raises(APIRequestError) as info:
        extract(tap)
    assert str(info.value) == (
        f"Stream 'items': {API}?after=B: status 200 with an empty body, where JSON was expected (an overloaded "
        "server or proxy answers so); reading it as no records would end the stream early (gave up after 3 attempts)"
    )
    assert sleeps == [1.0, 2.0]


def test_an_empty_200_on_the_first_page_is_an_error_too(requests_mock, sleeps):
    requests_mock.get(API, text="")
    with pytest.raises(APIRequestError, match="status 200 with an empty body"):
        extract(plain_tap(rate_limit={"requests_per_second": 1000, "max_retries": 0}))


def test_a_204_mid_cursor_stream_warns_with_the_page_and_url(requests_mock, caplog):
    requests_mock.get(API, [_page(1, next_cursor="B"), {"status_code": 204, "text": ""}])
    assert [r["id"] for r in extract(plain_tap(data_path="data", pagination=CURSOR))] == [1, 2]
    assert (
        f"Stream 'items': page 2 ({API}?after=B, status 204) has an empty or null body instead of records, and no "
        "next cursor; the stream ends here and may be incomplete." in caplog.text
    )


@pytest.mark.parametrize("concurrency", [1, 4])
@pytest.mark.parametrize("kind", ["offset", "page"])
def test_a_204_or_null_records_mid_numbered_stream_warns_with_the_page(requests_mock, caplog, kind, concurrency):
    full = {"json": {"data": [{"id": 1}, {"id": 2}]}}
    requests_mock.get(API, [full, {"status_code": 204, "text": ""}])
    pagination = {"type": kind, "limit": 2, "max_concurrency": concurrency}
    assert len(extract(plain_tap(data_path="data", pagination=pagination))) == 2
    assert "page 2 (" in caplog.text
    assert ", status 204) has an empty or null body instead of records, and no next page;" in caplog.text
    caplog.clear()
    requests_mock.get(API, [full, {"json": {"data": None}}])
    assert len(extract(plain_tap(data_path="data", pagination=pagination))) == 2
    assert ", status 200) has null at data_path 'data' instead of records, and no next page;" in caplog.text


def test_null_records_without_any_cursor_key_warn(requests_mock, caplog):
    requests_mock.get(API, [_page(1, next_cursor="B"), {"json": {"data": None}}])
    assert len(extract(plain_tap(data_path="data", pagination=CURSOR))) == 2
    assert "has null at data_path 'data' instead of records, and no next cursor;" in caplog.text


def test_a_204_on_the_first_page_is_zero_records_without_a_warning(requests_mock, caplog):
    requests_mock.get(API, status_code=204, text="")
    assert extract(plain_tap(data_path="data", pagination=CURSOR)) == []
    assert "may be incomplete" not in caplog.text


def test_a_204_with_a_next_link_header_goes_on(requests_mock, caplog):
    requests_mock.get(API, [{"status_code": 204, "text": "", "headers": {"Link": f'<{API}?p=2>; rel="next"'}}])
    requests_mock.get(f"{API}?p=2", json=[{"id": 9}])
    assert extract(plain_tap(pagination={"type": "link"})) == [{"id": 9}]
    assert "may be incomplete" not in caplog.text


@pytest.mark.parametrize("empty", [None, []])
def test_null_or_empty_data_with_a_cursor_goes_on(requests_mock, caplog, empty):
    requests_mock.get(API, [_page(1, next_cursor="B"), {"json": {"data": empty, "next": "C"}}, _page(3)])
    assert [r["id"] for r in extract(plain_tap(data_path="data", pagination=CURSOR))] == [1, 2, 3, 4]
    assert "may be incomplete" not in caplog.text


@pytest.mark.parametrize("kind", ["offset", "page"])
def test_an_empty_list_ends_numbered_pages_by_their_stop_rule_without_a_warning(requests_mock, caplog, kind):
    requests_mock.get(API, [{"json": {"data": [{"id": 1}, {"id": 2}]}}, {"json": {"data": []}}])
    assert [r["id"] for r in extract(plain_tap(data_path="data", pagination={"type": kind}))] == [1, 2]
    assert requests_mock.call_count == 2
    assert "may be incomplete" not in caplog.text


def test_null_data_without_a_cursor_ends_by_the_cursor_stop_rule_without_a_warning(requests_mock, caplog):
    requests_mock.get(API, [_page(1, next_cursor="B"), {"json": {"data": None, "next": None}}])
    assert [r["id"] for r in extract(plain_tap(data_path="data", pagination=CURSOR))] == [1, 2]
    assert "may be incomplete" not in caplog.text


def test_an_empty_200_among_pages_fetched_ahead_is_retried(requests_mock, sleeps):
    """Offset pages fetched concurrently go through the same retry: the empty answer is asked again."""
    answers = {0: [[{"id": 1}, {"id": 2}]], 2: ["", [{"id": 3}, {"id": 4}]], 4: [[{"id": 5}]]}

    def respond(request, context):
        queue = answers.get(int(request.qs["offset"][0]), [])
        body = queue.pop(0) if queue else []  # past the end (a request ahead): an empty page
        return json.dumps(body) if body != "" else ""

    requests_mock.get(API, text=respond)
    tap = plain_tap(pagination={"type": "offset", "limit": 2, "max_concurrency": 4})
    assert [r["id"] for r in extract(tap)] == [1, 2, 3, 4, 5]
    assert sleeps == [1.0]
    offsets = [int(r.qs["offset"][0]) for r in requests_mock.request_history]
    assert sorted(offsets)[:4] == [0, 2, 2, 4]
    assert offsets.count(2) == 2
