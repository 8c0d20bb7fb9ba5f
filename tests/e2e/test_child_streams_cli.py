"""Child stream errors through the tap's console script: one clean line naming the parent, exit 1."""

from __future__ import annotations

import subprocess

from helpers import run_cli


def _config(httpserver, **child) -> dict:
    return {
        "rate_limit": {"requests_per_second": 1000, "max_retries": 0},
        "streams": [
            {"name": "posts", "url": httpserver.url_for("/posts"), "destination": {"table": "posts"}},
            {
                "name": "comments",
                "parent": "posts",
                "url": httpserver.url_for("/posts/{parent.id}/comments"),
                "destination": {"table": "comments"},
                **child,
            },
        ],
    }


def test_a_child_404_not_ignored_ends_the_run_naming_the_parent(httpserver, tmp_path):
    httpserver.expect_request("/posts").respond_with_json([{"id": 1}, {"id": 2}])
    httpserver.expect_request("/posts/1/comments").respond_with_json([{"id": "a"}])
    httpserver.expect_request("/posts/2/comments").respond_with_json({"error": "gone"}, status=404)
    result = run_cli(tmp_path, "tap-generic-api", _config(httpserver), stdout=subprocess.PIPE)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "child stream 'comments', for parent stream 'posts' record 2 (parent.id=2)" in result.stderr
    assert '"record":{"id":"a"}' in result.stdout


def test_a_listed_404_is_skipped_and_the_run_succeeds(httpserver, tmp_path):
    httpserver.expect_request("/posts").respond_with_json([{"id": 1}, {"id": 2}])
    httpserver.expect_request("/posts/1/comments").respond_with_json({"error": "gone"}, status=404)
    httpserver.expect_request("/posts/2/comments").respond_with_json([{"id": "b"}])
    result = run_cli(tmp_path, "tap-generic-api", _config(httpserver, ignore_statuses=[404]), stdout=subprocess.PIPE)
    assert result.returncode == 0, result.stderr
    assert "skipped parent stream 'posts' record 1 (parent.id=1)" in result.stderr
    assert "1 parents skipped (1 x HTTP 404)" in result.stderr


def test_a_placeholder_the_first_parent_lacks_is_a_config_error(httpserver, tmp_path):
    httpserver.expect_request("/posts").respond_with_json([{"uuid": "u"}])
    result = run_cli(tmp_path, "tap-generic-api", _config(httpserver), stdout=subprocess.PIPE)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "streams[1].url uses {parent.id}, but the first record of parent stream 'posts' has no field 'id'" in (
        result.stderr
    )
