"""Parent values in a child's URL through the tap's console script, as a real server receives them."""

from __future__ import annotations

import json
import re
import subprocess

from helpers import run_cli
from werkzeug.wrappers import Request, Response


def _config(httpserver, url: str) -> dict:
    return {
        "rate_limit": {"requests_per_second": 1000, "max_retries": 0},
        "streams": [
            {"name": "repos", "url": httpserver.url_for("/repos"), "destination": {"table": "repos"}},
            {
                "name": "issues",
                "parent": "repos",
                "url": httpserver.url_for(url),
                "pagination": {"type": "none"},
                "destination": {"table": "issues"},
            },
        ],
    }


def _serve_raw_paths(httpserver, repos: list[dict]) -> list[str]:
    """Answer /repos with ``repos`` and any other request with one issue; return the raw request targets."""
    raw: list[str] = []

    def any_path(request: Request) -> Response:
        raw.append(request.environ.get("RAW_URI") or request.environ["REQUEST_URI"])
        return Response(json.dumps([{"id": len(raw)}]), content_type="application/json")

    httpserver.expect_request("/repos").respond_with_json(repos)
    httpserver.expect_request(re.compile("^/(?!repos$).*")).respond_with_handler(any_path)
    return raw


def test_a_parent_value_with_a_dot_segment_in_the_path_stops_naming_the_record(httpserver, tmp_path):
    # '/' in a value is kept in the path (owner/name); '..' would then climb out of /repos/ and
    # ask /admin/issues for this parent, landing another endpoint's rows as its children.
    raw = _serve_raw_paths(httpserver, [{"name": "octo/hello"}, {"name": "../admin"}])
    config = _config(httpserver, "/repos/{parent.name}/issues")
    result = run_cli(tmp_path, "tap-generic-api", config, stdout=subprocess.PIPE)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert (
        "Stream 'issues': record 2 of parent stream 'repos' holds '../admin' at 'name', which streams[1].url uses "
        "in its path: its '.' or '..' segment would make the request ask another path than this parent's."
    ) in result.stderr
    assert raw == ["/repos/octo/hello/issues"]


def test_reserved_and_unicode_characters_reach_the_server_encoded(httpserver, tmp_path):
    raw = _serve_raw_paths(httpserver, [{"name": "a b?c#d/é", "tag": "x&y=z/.."}])
    config = _config(httpserver, "/repos/{parent.name}/issues?tag={parent.tag}")
    result = run_cli(tmp_path, "tap-generic-api", config, stdout=subprocess.PIPE)
    assert result.returncode == 0, result.stderr
    assert raw == ["/repos/a%20b%3Fc%23d/%C3%A9/issues?tag=x%26y%3Dz%2F.."]


def test_a_parent_value_a_header_cannot_hold_stops_naming_the_header(httpserver, tmp_path):
    raw = _serve_raw_paths(httpserver, [{"name": "octo"}, {"name": "日本"}])
    config = _config(httpserver, "/repos/{parent.name}/issues")
    config["streams"][1]["headers"] = {"X-Repo": "{parent.name}"}
    result = run_cli(tmp_path, "tap-generic-api", config, stdout=subprocess.PIPE)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert (
        "Stream 'issues': record 2 of parent stream 'repos' holds '日本' at 'name', which streams[1].headers.X-Repo "
        "uses: an HTTP header value holds printable latin-1 text only (RFC 9110 section 5.5)."
    ) in result.stderr
    assert raw == ["/repos/octo/issues"]
