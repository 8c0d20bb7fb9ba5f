"""Records out of order in a stream set ``is_sorted: true``: one clean error naming the stream (and parent)."""

from __future__ import annotations

import subprocess

from helpers import run_cli


def _stream(httpserver, name: str, path: str, **extra) -> dict:
    return {
        "name": name,
        "url": httpserver.url_for(path),
        "replication_key": "k",
        "is_sorted": True,
        "start_date": 0,
        "pagination": {"type": "none"},
        "destination": {"table": name},
        **extra,
    }


def test_an_unsorted_child_names_the_stream_and_parent_without_a_traceback(httpserver, tmp_path):
    httpserver.expect_request("/posts").respond_with_json([{"id": 1}, {"id": 2}])
    httpserver.expect_request("/posts/1/comments").respond_with_json([{"id": "a", "k": 1}, {"id": "b", "k": 2}])
    httpserver.expect_request("/posts/2/comments").respond_with_json([{"id": "c", "k": 5}, {"id": "d", "k": 3}])
    config = {
        "rate_limit": {"requests_per_second": 1000, "max_retries": 0},
        "streams": [
            {"name": "posts", "url": httpserver.url_for("/posts"), "destination": {"table": "posts"}},
            _stream(httpserver, "comments", "/posts/{parent.id}/comments", parent="posts"),
        ],
    }
    result = run_cli(tmp_path, "tap-generic-api", config, stdout=subprocess.PIPE)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert (
        "Error: Stream 'comments': Unsorted data detected in stream. Latest value '3' is smaller than previous "
        "max '5' (for parent stream 'posts' record 2 (parent.id=2)). is_sorted is true, but the API does not "
        "return the records in k order; set is_sorted to false"
    ) in result.stderr


def test_an_unsorted_stream_names_itself_without_a_traceback(httpserver, tmp_path):
    httpserver.expect_request("/items").respond_with_json([{"id": "c", "k": 5}, {"id": "d", "k": 3}])
    config = {
        "rate_limit": {"requests_per_second": 1000, "max_retries": 0},
        "streams": [_stream(httpserver, "items", "/items")],
    }
    result = run_cli(tmp_path, "tap-generic-api", config, stdout=subprocess.PIPE)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert (
        "Error: Stream 'items': Unsorted data detected in stream. Latest value '3' is smaller than previous "
        "max '5'. is_sorted is true"
    ) in result.stderr
