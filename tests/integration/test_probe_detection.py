"""`tap-generic-api probe`: detection edge cases against requests-mock, on a clock the test controls."""

from __future__ import annotations

import base64
import json
import logging
import subprocess

import pytest
from helpers import BIN, FakeClock

from tap_generic_api.probe import cli
from tap_generic_api.probe.client import Pacer

URL = "https://api.example.test/v1/things"
SECRET = "sk-NEVERLOG-0123456789"


@pytest.fixture
def clock():
    return FakeClock()


def _run(clock, *args: str) -> int:
    return cli.main([URL, *args], pacer=Pacer(2.0, clock=clock, sleep=clock.sleep))


def _records(start: int, count: int, **extra) -> list[dict]:
    return [{"id": i, "name": f"thing {i}", **extra} for i in range(start, start + count)]


def _query(request) -> dict:
    return {k: v[0] for k, v in request.qs.items()}


def test_two_lists_in_a_body_the_larger_list_of_objects_is_the_records(requests_mock, clock, capsys):
    requests_mock.get(URL, json={"data": _records(1, 5), "included": [{"type": "user", "id": 7}, {"type": "x"}]})
    assert _run(clock) == 2  # pagination unknown: written, not proven
    out, err = capsys.readouterr()
    assert json.loads(out)["data_path"] == "data"
    assert "data_path: 'data'  [medium]" in err
    assert "from: body field 'data': a list of 5 objects sharing keys id, name" in err
    assert "other lists of objects in the body: field 'included' (2); the largest was taken." in err
    assert "WARNING pagination.type: 'none'  [none]" in err


def test_a_cursor_named_like_a_record_field_is_read_outside_the_records(requests_mock, clock, capsys):
    # Every record has a 'next' field; the body's cursor is 'next_page_token', sent back as 'page_token'.
    tokens = {None: (1, "t2"), "t2": (11, "t3"), "t3": (21, None)}

    def answer(request, context):
        start, following = tokens[_query(request).get("page_token")]
        return {"items": _records(start, 10, next="not-a-cursor"), "next_page_token": following}

    requests_mock.get(URL, json=answer)
    assert _run(clock) == 0
    config = json.loads(capsys.readouterr().out)
    assert config["pagination"] == {"type": "cursor", "param": "page_token", "response_path": "next_page_token"}
    assert [_query(r) for r in requests_mock.request_history] == [{}, {"page_token": "t2"}, {"page_token": "t3"}]


def test_an_api_ignoring_the_page_parameter_gets_none_not_a_guess(requests_mock, clock, capsys):
    requests_mock.get(URL, json={"items": _records(1, 10), "total": 30})  # the same page, whatever is asked
    assert _run(clock) == 2
    out, err = capsys.readouterr()
    assert json.loads(out)["pagination"] == {"type": "none"}
    assert (
        "body field 'total' (30 records, 10 on the first page) suggests offset pagination, but asking for the "
        "next page did not confirm it: offset=10 returned 10 of the first page's records again (the API ignores it)"
    ) in err
    assert "verdict: UNPROVEN: 10 records on 1 page; pagination is 'none', so only the first page is read" in err
    assert [_query(r) for r in requests_mock.request_history] == [{}, {"offset": "10"}]


def test_a_total_that_lies_is_reported_and_the_stop_rule_ends_paging(requests_mock, clock, capsys):
    def answer(request, context):
        query = _query(request)
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", 10))
        return {"items": _records(offset + 1, max(0, min(limit, 25 - offset))), "total": 1000, "limit": limit}

    requests_mock.get(URL, json=answer)
    assert _run(clock) == 2  # proven, with a warning to read
    out, err = capsys.readouterr()
    assert json.loads(out)["pagination"] == {"type": "offset", "param": "offset", "limit": 10, "limit_param": "limit"}
    assert "verdict: OK: 25 records on 3 pages, each page new, and the stop rule ended the sequence" in err
    assert "WARNING total: 1000  [high]\n    from: body field 'total' said 1000 records; paging ended after 25" in err


def test_unidentifiable_pagination_is_none_with_a_warning(requests_mock, clock, capsys):
    requests_mock.get(URL, json={"results": _records(1, 3)})
    assert _run(clock) == 2
    out, err = capsys.readouterr()
    assert json.loads(out)["pagination"] == {"type": "none"}
    assert "WARNING pagination.type: 'none'  [none]" in err
    assert "no Link header, next URL, cursor, has_more flag, or record or page total" in err
    assert len(requests_mock.request_history) == 1


def test_requests_stay_within_the_budget_and_the_rate(requests_mock, clock, capsys):
    times = []

    def answer(request, context):  # an endless cursor
        times.append(clock.now)
        cursor = int(_query(request).get("cursor", 0))
        return {"data": _records(cursor * 10 + 1, 10), "meta": {"next_cursor": str(cursor + 1)}}

    requests_mock.get(URL, json=answer)
    assert _run(clock, "--max-pages", "4") == 0
    err = capsys.readouterr().err
    assert "verdict: OK so far: 40 records on 4 pages, each page new; the end was not reached within --max-pages 4" in (
        err
    )
    assert [_query(r) for r in requests_mock.request_history] == [{}, {"cursor": "1"}, {"cursor": "2"}, {"cursor": "3"}]
    # 2 requests per second: one per 500 ms at most (the project's limits, counted on the test's clock).
    assert all(later - earlier >= 0.5 for earlier, later in zip(times, times[1:], strict=False))
    assert times[-1] >= 1.5


def test_never_more_than_max_pages_plus_three_requests(requests_mock, clock, capsys):
    # Offset pages that never end: detection 2 requests, proof pages 1..N; the cap is the budget.
    def answer(request, context):
        offset = int(_query(request).get("offset", 0))
        return {"items": _records(offset + 1, 10), "total": 10_000}

    requests_mock.get(URL, json=answer)
    _run(clock, "--max-pages", "2")
    assert len(requests_mock.request_history) <= 2 + 3


def test_query_secret_is_sent_but_never_printed(requests_mock, clock, capsys, monkeypatch):
    monkeypatch.setenv("API_KEY", SECRET)

    def answer(request, context):
        page = int(_query(request).get("page", 1))
        if page < 2:  # noqa: PLR2004
            context.headers["Link"] = f'<{URL}?page={page + 1}&api_key={SECRET}>; rel="next"'
        return _records(page * 10 - 9, 10 if page < 2 else 4)  # noqa: PLR2004

    requests_mock.get(URL, json=answer)
    assert _run(clock, "--query-env", "api_key=API_KEY") == 0
    out, err = capsys.readouterr()
    config = json.loads(out)
    assert config["auth"] == {"type": "query", "param_name": "api_key", "secret_key": "api_key"}
    assert "api_key=***" in err
    assert [r.qs["api_key"] for r in requests_mock.request_history] == [[SECRET.lower()]] * 2
    assert "give it at run time as secrets.api_key in a second config" in err


def test_basic_auth_from_an_environment_variable(requests_mock, clock, capsys, monkeypatch):
    monkeypatch.setenv("API_LOGIN", "me:pw-NEVERLOG")
    requests_mock.get(URL, json=[{"id": 1}])
    _run(clock, "--basic-env", "API_LOGIN")
    config = json.loads(capsys.readouterr().out)
    assert config["auth"] == {"type": "basic", "secret_key": "api_login"}
    expected = "Basic " + base64.b64encode(b"me:pw-NEVERLOG").decode()
    assert requests_mock.request_history[0].headers["Authorization"] == expected


def test_json_evidence(requests_mock, clock, capsys):
    requests_mock.get(URL, json={"results": _records(1, 3)}, headers={"RateLimit-Policy": "120;w=60"})
    _run(clock, "--json")
    evidence = json.loads(capsys.readouterr().err)
    by_key = {f["key"]: f for f in evidence["findings"]}
    assert by_key["rate_limit.requests_per_second"]["value"] == 2.0
    assert by_key["rate_limit.requests_per_second"]["source"] == "header RateLimit-Policy: 120;w=60"
    assert by_key["data_path"]["value"] == "results"
    assert evidence["proven"] is False


def test_a_missing_variable_is_a_clear_error(clock, capsys, monkeypatch):
    monkeypatch.delenv("NO_SUCH_TOKEN", raising=False)
    assert _run(clock, "--bearer-env", "NO_SUCH_TOKEN") == 1
    assert capsys.readouterr().err == "Error: --bearer-env: environment variable NO_SUCH_TOKEN is not set or empty.\n"


def test_help_lists_the_sub_commands():
    run = subprocess.run([str(BIN / "tap-generic-api"), "--help"], capture_output=True, text=True, check=True)
    assert "tap-generic-api probe URL" in run.stdout
    assert "tap-generic-api from-openapi SPEC" in run.stdout
    assert "--config" in run.stdout
    run = subprocess.run([str(BIN / "tap-generic-api"), "probe", "--help"], capture_output=True, text=True, check=True)
    assert "--bearer-env VAR" in run.stdout


def test_a_body_cursor_is_sent_back_as_the_parameter_the_next_url_uses(requests_mock, clock, capsys):
    # Datasette's body without its Link header: 'next' is the token, 'next_url' shows it sent as '_next'.
    def answer(request, context):
        start = int(_query(request).get("_next", 0))
        following = str(start + 10) if start < 20 else None  # noqa: PLR2004
        next_url = f"{URL}?_shape=objects&_next={following}" if following else None
        return {"rows": _records(start + 1, 10), "next": following, "next_url": next_url}

    requests_mock.get(URL, json=answer)
    assert _run(clock, "--param", "_shape=objects") == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["pagination"] == {"type": "cursor", "param": "_next", "response_path": "next"}
    assert (
        "from: body field 'next' (\"10\"), which the next URL in body field 'next_url' sends back as parameter '_next'"
        in err
    )
    assert "verdict: OK: 30 records on 3 pages, each page new, and the stop rule ended the sequence" in err
    sent = [_query(r) for r in requests_mock.request_history]
    assert sent == [{"_shape": "objects"}, {"_shape": "objects", "_next": "10"}, {"_shape": "objects", "_next": "20"}]


def test_a_query_secret_is_masked_in_http_debug_logs_over_loopback(httpserver, clock, capsys, caplog, monkeypatch):
    monkeypatch.setenv("API_KEY", SECRET)
    httpserver.expect_request("/things", query_string={"key": SECRET}).respond_with_json([{"id": 1}, {"id": 2}])
    status = cli.main(
        [httpserver.url_for("/things"), "--query-env", "key=API_KEY"], pacer=Pacer(2.0, clock=clock, sleep=clock.sleep)
    )
    assert status == 2  # one page, pagination none
    assert "GET /things?key=*** HTTP/1.1" in caplog.text  # urllib3's request line, masked
    assert SECRET not in caplog.text


def test_an_answer_that_is_not_json_is_a_clear_error(requests_mock, clock, capsys):
    requests_mock.get(URL, text="<html>sign in</html>", headers={"Content-Type": "text/html"})
    assert _run(clock) == 1
    assert capsys.readouterr().err == (
        f"Error: Response from {URL} is not JSON (status 200, content type 'text/html'): 'sign in'\n"
    )


def test_a_refused_credential_is_reported_masked(requests_mock, clock, capsys, monkeypatch):
    monkeypatch.setenv("API_TOKEN", SECRET)
    requests_mock.get(URL, status_code=401, json={"error": f"token {SECRET} is revoked"})
    assert _run(clock, "--bearer-env", "API_TOKEN") == 1
    assert capsys.readouterr().err == (
        f'Error: 401 None from {URL}: {{"error": "token *** is revoked"}} (the credential in $API_TOKEN; '
        "give one with --bearer-env, --header-env, --query-env or --basic-env)\n"
    )


def test_a_page_that_stops_being_json_fails_the_proof(requests_mock, clock, capsys):
    def answer(request, context):
        if "cursor" in _query(request) and _query(request)["cursor"] == "2":
            context.headers["Content-Type"] = "text/html"
            return "<html>oops</html>"
        cursor = int(_query(request).get("cursor", 0))
        return json.dumps({"data": _records(cursor * 10 + 1, 10), "next_cursor": str(cursor + 1)})

    requests_mock.get(URL, text=answer)
    assert _run(clock) == 2
    err = capsys.readouterr().err
    assert "verdict: FAILED after 20 records on 2 pages: Response from" in err
    assert "WARNING proof: null  [none]" in err


def _hubspot(page: int) -> dict:
    after = str(page * 10)
    more = {"paging": {"next": {"after": after, "link": f"{URL}?after={after}"}}} if page < 3 else {}  # noqa: PLR2004
    return {"results": _records(page * 10 - 9, 10), **more}


@pytest.mark.parametrize(
    ("body", "param", "block"),
    [
        # HubSpot CRM v3: paging.next.after, and paging.next.link sending it back as 'after'.
        (_hubspot, "after", {"type": "cursor", "param": "after", "response_path": "paging.next.after"}),
        # A next page number in the body, sent back as 'page' (confirmed by a request).
        (
            lambda page: {"items": _records(page * 10 - 9, 10), "next_page": page + 1 if page < 3 else None},  # noqa: PLR2004
            "page",
            {"type": "cursor", "param": "page", "response_path": "next_page"},
        ),
    ],
)
def test_common_body_cursors(requests_mock, clock, capsys, body, param, block):
    def answer(request, context):
        token = _query(request).get(param)
        return body(int(token) // 10 + 1 if param == "after" and token else int(token or 1))

    requests_mock.get(URL, json=answer)
    assert _run(clock) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["pagination"] == block
    assert "verdict: OK: 30 records on 3 pages, each page new, and the stop rule ended the sequence" in err


def test_the_page_cap_warning_is_quiet_during_the_proof_only(requests_mock, clock, capsys, caplog):
    def answer(request, context):  # an endless cursor
        cursor = int(_query(request).get("cursor", 0))
        return {"data": _records(cursor * 10 + 1, 10), "meta": {"next_cursor": str(cursor + 1)}}

    requests_mock.get(URL, json=answer)
    level = logging.getLogger("tap_generic_api.pagination").level
    assert _run(clock, "--max-pages", "2") == 0
    assert "pagination.max_pages" not in caplog.text
    # The process goes on (as the tests do): the tap's warnings are not silenced for later runs.
    assert logging.getLogger("tap_generic_api.pagination").level == level
