"""Child streams through the tap's console script when a parent's children are cut short or a parent page fails."""

from __future__ import annotations

import json
import subprocess
import threading

from helpers import run_cli
from pytest_httpserver import HTTPServer
from werkzeug.wrappers import Request, Response


def _messages(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def _ids(stdout: str, stream: str) -> list[str]:
    return [m["record"]["id"] for m in _messages(stdout) if m["type"] == "RECORD" and m["stream"] == stream]


def _config(httpserver, parent: dict | None = None, child: dict | None = None) -> dict:
    return {
        "rate_limit": {"requests_per_second": 1000, "max_retries": 0},
        "streams": [
            {"name": "posts", "url": httpserver.url_for("/posts"), "destination": {"table": "posts"}} | (parent or {}),
            {
                "name": "comments",
                "parent": "posts",
                "url": httpserver.url_for("/posts/{parent.id}/comments"),
                "pagination": {"type": "page", "param": "page", "max_pages": 2, "max_concurrency": 1},
                "destination": {"table": "comments"},
            }
            | (child or {}),
        ],
    }


def _serve(httpserver, pages: dict[int, int]) -> None:
    """Parents 1..n updated on day n; parent p has ``pages[p]`` pages of one comment each, then an empty page."""
    httpserver.expect_request("/posts").respond_with_json(
        [{"id": p, "updated": f"2024-01-0{p}"} for p in sorted(pages)]
    )
    for parent, count in pages.items():
        for page in range(1, count + 2):
            body = [{"id": f"{parent}-{page}"}] if page <= count else []
            httpserver.expect_request(f"/posts/{parent}/comments", query_string=f"page={page}").respond_with_json(body)


def test_a_child_cut_at_max_pages_keeps_its_incremental_parents_bookmark_and_fails(httpserver, tmp_path):
    # Parent 2 has 3 pages of comments; max_pages is 2. The comments follow the posts' bookmark,
    # so a bookmark past post 2 would never ask for comment 2-3 again.
    _serve(httpserver, {1: 1, 2: 3, 3: 1})
    parent = {"replication_key": "updated", "is_sorted": True}
    config = _config(httpserver, parent=parent) | {"start_date": "2020-01-01"}
    result = run_cli(tmp_path, "tap-generic-api", config, stdout=subprocess.PIPE)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert (
        "Stream 'comments': stopped at pagination.max_pages (2 pages) for parent stream 'posts' record 2 "
        "(parent.id=2). Its records are written, but the bookmark of parent stream 'posts' is not moved past "
        "that parent"
    ) in result.stderr
    assert _ids(result.stdout, "comments") == ["1-1", "2-1", "2-2"]
    states = [m["value"]["bookmarks"] for m in _messages(result.stdout) if m["type"] == "STATE"]
    assert all(state.get("posts", {}).get("replication_key_value") in (None, "2024-01-01") for state in states)


def test_a_child_cut_short_for_one_parent_is_named_and_counted(httpserver, tmp_path):
    # A full-table parent: the cut is reported, the run goes on to the next parent.
    _serve(httpserver, {1: 1, 2: 3, 3: 1})
    result = run_cli(tmp_path, "tap-generic-api", _config(httpserver), stdout=subprocess.PIPE)
    assert result.returncode == 0, result.stderr
    assert (
        "Stream 'comments': stopped at pagination.max_pages (2 pages) for parent stream 'posts' record 2 "
        "(parent.id=2); that parent's children may be incomplete."
    ) in result.stderr
    assert (
        "Stream 'comments': 4 records for 3 records of parent stream 'posts'; 0 parents skipped; "
        "1 parents' children cut short (may be incomplete)."
    ) in result.stderr
    assert _ids(result.stdout, "comments") == ["1-1", "2-1", "2-2", "3-1"]


def test_a_parent_page_failing_comes_after_the_children_of_the_parents_read_before_it(httpserver, tmp_path):
    # Parent pages are read ahead of the parent being written; the error of page 2 must not
    # overtake the children of page 1's ten parents.
    httpserver.expect_request("/posts", query_string="page=1").respond_with_json([{"id": p} for p in range(1, 11)])
    httpserver.expect_request("/posts", query_string="page=2").respond_with_json({"error": "down"}, status=500)
    for parent in range(1, 11):
        httpserver.expect_request(f"/posts/{parent}/comments").respond_with_json([{"id": f"{parent}-1"}])
    parent = {"pagination": {"type": "page", "param": "page"}}
    child = {"pagination": {"type": "none", "max_concurrency": 3}}
    result = run_cli(tmp_path, "tap-generic-api", _config(httpserver, parent, child), stdout=subprocess.PIPE)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "Stream 'posts': API error 500" in result.stderr
    assert _ids(result.stdout, "posts") == list(range(1, 11))
    assert _ids(result.stdout, "comments") == [f"{p}-1" for p in range(1, 11)]


def _serve_gone_after_one_page(httpserver) -> None:
    """Posts 1 and 2; post 2's comments answer page 1, then 404 (in ignore_statuses) at page 2."""
    httpserver.expect_request("/posts").respond_with_json([{"id": 1, "updated": 1}, {"id": 2, "updated": 2}])
    httpserver.expect_request("/posts/1/comments", query_string="page=1").respond_with_json([{"id": "1-1", "k": 1}])
    httpserver.expect_request("/posts/1/comments", query_string="page=2").respond_with_json([])
    httpserver.expect_request("/posts/2/comments", query_string="page=1").respond_with_json([{"id": "2-1", "k": 9}])
    httpserver.expect_request("/posts/2/comments", query_string="page=2").respond_with_json({}, status=404)


def test_an_ignored_status_after_a_page_keeps_the_followed_parents_bookmark(httpserver, tmp_path):
    _serve_gone_after_one_page(httpserver)
    parent = {"replication_key": "updated", "is_sorted": True, "start_date": 0}
    child = {"ignore_statuses": [404]}
    result = run_cli(tmp_path, "tap-generic-api", _config(httpserver, parent, child), stdout=subprocess.PIPE)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert (
        "Stream 'comments': cut short after 1 records by HTTP 404 (in ignore_statuses) from "
        f"{httpserver.url_for('/posts/2/comments')}?page=2 for parent stream 'posts' record 2 (parent.id=2). "
        "Its records are written, but the bookmark of parent stream 'posts' is not moved past that parent"
    ) in result.stderr
    assert _ids(result.stdout, "comments") == ["1-1", "2-1"]
    states = [m["value"]["bookmarks"] for m in _messages(result.stdout) if m["type"] == "STATE"]
    assert all(state.get("posts", {}).get("replication_key_value") in (None, 0, 1) for state in states)


def test_an_ignored_status_after_a_page_keeps_an_unsorted_childs_bookmark_for_that_parent(httpserver, tmp_path):
    _serve_gone_after_one_page(httpserver)
    child = {"ignore_statuses": [404], "replication_key": "k", "start_date": 0}
    result = run_cli(tmp_path, "tap-generic-api", _config(httpserver, child=child), stdout=subprocess.PIPE)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "Stream 'comments': cut short after 1 records by HTTP 404 (in ignore_statuses)" in result.stderr
    assert _ids(result.stdout, "comments") == ["1-1", "2-1"]
    partitions = [
        m["value"]["bookmarks"].get("comments", {}).get("partitions", [])
        for m in _messages(result.stdout)
        if m["type"] == "STATE"
    ]
    assert all(
        p.get("replication_key_value") is None for state in partitions for p in state if p["context"]["parent.id"] == 2
    )


def test_a_child_failing_while_others_are_in_flight_ends_the_run_without_waiting_for_them(tmp_path):
    # Parents 2 to 4's child requests are held by the server until the test ends; parent 1's fails.
    # The run must end with parent 1's error (subprocess timeout: a hang fails the test).
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    release = threading.Event()

    def hold(_request: Request) -> Response:
        release.wait(120)
        return Response("[]", content_type="application/json")

    server.start()
    try:
        server.expect_request("/posts").respond_with_json([{"id": p} for p in range(1, 5)])
        server.expect_request("/posts/1/comments").respond_with_json({"error": "broken"}, status=400)
        for parent in (2, 3, 4):
            server.expect_request(f"/posts/{parent}/comments").respond_with_handler(hold)
        config = _config(server, child={"pagination": {"type": "none", "max_concurrency": 4}, "timeout": 300})
        result = run_cli(tmp_path, "tap-generic-api", config, stdout=subprocess.PIPE)
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        assert "(child stream 'comments', for parent stream 'posts' record 1 (parent.id=1))" in result.stderr
    finally:
        release.set()
        server.clear()
        server.stop()
