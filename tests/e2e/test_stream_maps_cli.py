"""singer-sdk stream maps (``stream_maps``: ``__filter__``, ``__else__``, added and removed fields) through the
console script: the fast RECORD writer steps aside for mapped streams, and a parent a filter drops gets no
child requests."""

from __future__ import annotations

import json
import subprocess

from helpers import run_cli


def _messages(result: subprocess.CompletedProcess) -> list[dict]:
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def _serve(httpserver) -> None:
    httpserver.expect_request("/posts").respond_with_json(
        [{"id": p, "title": f"t{p}", "author": {"name": f"a{p}"}} for p in (1, 2, 3)]
    )
    for p in (1, 3):
        httpserver.expect_request(f"/posts/{p}/comments").respond_with_json([{"id": f"{p}-1", "body": "x" * p}])
    httpserver.expect_request("/tags").respond_with_json([{"id": "t"}])


def test_filter_removed_field_added_field_and_else_through_the_cli(httpserver, tmp_path):
    _serve(httpserver)
    config = {
        "rate_limit": {"requests_per_second": 1000},
        "streams": [
            {"name": "posts", "url": httpserver.url_for("/posts"), "destination": {"table": "posts"}},
            {
                "name": "comments",
                "parent": "posts",
                "url": httpserver.url_for("/posts/{parent.id}/comments"),
                "include_from_parent": ["author.name"],
                "destination": {"table": "comments"},
            },
            {"name": "tags", "url": httpserver.url_for("/tags"), "destination": {"table": "tags"}},
        ],
        "stream_maps": {
            "posts": {"__filter__": "record['id'] != 2", "title": "__NULL__"},
            "comments": {"body_tag": "record['body'] + '!'"},
            "__else__": "__NULL__",
        },
    }
    messages = _messages(run_cli(tmp_path, "tap-generic-api", config, stdout=subprocess.PIPE))
    records = [(m["stream"], m["record"]) for m in messages if m["type"] == "RECORD"]
    assert records == [
        ("posts", {"id": 1, "author": {"name": "a1"}}),
        ("comments", {"id": "1-1", "body": "x", "_parent_author_name": "a1", "body_tag": "x!"}),
        ("posts", {"id": 3, "author": {"name": "a3"}}),
        ("comments", {"id": "3-1", "body": "xxx", "_parent_author_name": "a3", "body_tag": "xxx!"}),
    ]
    assert {m["stream"] for m in messages if m["type"] == "SCHEMA"} == {"posts", "comments"}
    # The post the filter drops gets no child request.
    paths = [request.path for request, _ in httpserver.log]
    assert "/posts/2/comments" not in paths
    assert sorted(p for p in paths if "comments" in p) == ["/posts/1/comments", "/posts/3/comments"]


def test_a_filter_on_a_plain_stream_is_applied_although_it_would_take_the_fast_path(httpserver, tmp_path):
    httpserver.expect_request("/items").respond_with_json([{"id": i, "n": i * 10} for i in range(6)])
    config = {
        "url": httpserver.url_for("/items"),
        "destination": {"table": "items"},
        "rate_limit": {"requests_per_second": 1000},
        "stream_maps": {"items": {"__filter__": "record['id'] % 2 == 0", "n": "__NULL__", "double": "record['n'] * 2"}},
    }
    messages = _messages(run_cli(tmp_path, "tap-generic-api", config, stdout=subprocess.PIPE))
    assert [m["record"] for m in messages if m["type"] == "RECORD"] == [
        {"id": 0, "double": 0},
        {"id": 2, "double": 40},
        {"id": 4, "double": 80},
    ]
