"""`tap-generic-api probe` against hostile or awkward answers and command lines.

Redirects to another host, 429 with Retry-After, credentials typed into the URL, ``--write``
over an existing file: each keeps the credential where it belongs and the request budget
(``--max-pages + 3``) whatever the retries.
"""

from __future__ import annotations

import json

import pytest
from helpers import FakeClock

from tap_generic_api.openapi import cli as openapi_cli
from tap_generic_api.probe import cli
from tap_generic_api.probe.client import Pacer

URL = "https://api.example.test/v1/things"
SECRET = "sk-NEVERLOG-0123456789"


@pytest.fixture
def clock():
    return FakeClock()


def _run(clock, *args: str, url: str = URL) -> int:
    return cli.main([url, *args], pacer=Pacer(2.0, clock=clock, sleep=clock.sleep))


def _records(start: int, count: int) -> list[dict]:
    return [{"id": i, "name": f"thing {i}"} for i in range(start, start + count)]


@pytest.mark.parametrize(
    ("option", "sent"),
    [("--header-env", ("X-Api-Key", SECRET)), ("--bearer-env", ("Authorization", f"Bearer {SECRET}"))],
)
def test_a_redirect_to_another_host_is_not_followed(requests_mock, clock, capsys, monkeypatch, option, sent):
    """requests drops only Authorization on a cross-host redirect: a header credential went along."""
    monkeypatch.setenv("API_KEY", SECRET)
    requests_mock.get(URL, status_code=302, headers={"Location": "https://elsewhere.test/x"})
    elsewhere = requests_mock.get("https://elsewhere.test/x", json=_records(1, 3))
    value = "X-Api-Key=API_KEY" if option == "--header-env" else "API_KEY"
    assert _run(clock, option, value) == 1
    assert elsewhere.call_count == 0
    assert [r.headers[sent[0]] for r in requests_mock.request_history] == [sent[1]]
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f"Error: 302 redirect from {URL} to another host (https://elsewhere.test/x): "
        "the credential is not sent there; probe that URL if you trust it\n"
    )


def test_a_same_host_redirect_is_followed_with_the_credential_and_counted(requests_mock, clock, capsys, monkeypatch):
    monkeypatch.setenv("API_KEY", SECRET)
    moved = "https://api.example.test/v2/things?view=all"
    requests_mock.get(URL, status_code=301, headers={"Location": "/v2/things?view=all"})
    requests_mock.get(moved, json=_records(1, 3))
    assert _run(clock, "--query-env", "key=API_KEY") == 2  # pagination none  # noqa: PLR2004
    assert [r.url for r in requests_mock.request_history] == [f"{URL}?key={SECRET}", f"{moved}&key={SECRET}"]
    assert "probe of https://api.example.test/v1/things (2 requests)" in capsys.readouterr().err


def test_a_429_with_retry_after_is_waited_out_on_the_clock(requests_mock, clock, capsys):
    requests_mock.get(
        URL, [{"status_code": 429, "headers": {"Retry-After": "7"}, "json": {}}, {"json": _records(1, 3)}]
    )
    assert _run(clock) == 2  # noqa: PLR2004 - read, pagination none
    assert requests_mock.call_count == 2  # noqa: PLR2004
    assert clock.now >= 7  # noqa: PLR2004 - the wait asked for, on the test's clock
    assert json.loads(capsys.readouterr().out)["data_path"] == ""


def test_a_retry_after_too_long_stops_the_probe_saying_so(requests_mock, clock, capsys):
    requests_mock.get(URL, status_code=429, headers={"Retry-After": "3600"}, json={})
    assert _run(clock) == 1
    assert requests_mock.call_count == 1
    assert clock.now == 0
    assert capsys.readouterr().err == (
        f"Error: 429 from {URL} with Retry-After 3600 s, over the probe's 60 s: probe again later\n"
    )


def test_retries_count_against_the_request_budget(requests_mock, clock, capsys):
    """Every page answers 429 once before its records: never more than --max-pages + 3 requests."""
    answers: dict[str, int] = {}

    def page(request, context):
        cursor = request.qs.get("cursor", ["0"])[0]
        answers[cursor] = answers.get(cursor, 0) + 1
        if answers[cursor] == 1:
            context.status_code = 429
            context.headers["Retry-After"] = "1"
            return {}
        start = int(cursor)
        return {"data": _records(start + 1, 5), "next_cursor": str(start + 5)}

    requests_mock.get(URL, json=page)
    _run(clock, "--max-pages", "4")
    assert requests_mock.call_count == 4 + 3
    err = capsys.readouterr().err
    assert "the probe's request budget (7) is spent" in err


def test_endless_503_is_asked_three_times_then_reported(requests_mock, clock, capsys):
    requests_mock.get(URL, status_code=503, text="<html>down for maintenance</html>")
    assert _run(clock) == 1
    assert requests_mock.call_count == 3  # noqa: PLR2004 - the first try and two waits of 2 s
    assert clock.now >= 4  # noqa: PLR2004
    assert "Error: 503" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("url", "args", "message"),
    [
        (
            f"{URL}?api_key={SECRET}",
            [],
            "Error: the URL's query parameter 'api_key' looks like a credential: it would be printed in the config "
            "and the evidence, and kept in shell history. Leave it out and give it from the environment: "
            "export API_KEY=...; --query-env api_key=API_KEY.\n",
        ),
        (
            URL,
            ["--param", f"access_token={SECRET}"],
            "Error: --param 'access_token' looks like a credential: it would be printed in the config and the "
            "evidence, and kept in shell history. Leave it out and give it from the environment: "
            "export ACCESS_TOKEN=...; --query-env access_token=ACCESS_TOKEN.\n",
        ),
        (
            f"https://me:{SECRET}@api.example.test/v1/things",
            [],
            "Error: the URL holds a user name or password (user:password@host): it would be printed in the config "
            "and kept in shell history. Remove it and give it from the environment: export API_BASIC=user:password; "
            "--basic-env API_BASIC.\n",
        ),
    ],
)
def test_a_credential_on_the_command_line_is_refused_before_any_request(
    requests_mock, clock, capsys, url, args, message
):
    requests_mock.get(URL, json=_records(1, 3))
    assert _run(clock, *args, url=url) == 1
    assert requests_mock.call_count == 0
    out, err = capsys.readouterr()
    assert (out, err) == ("", message)


def test_write_does_not_replace_a_file_without_force(requests_mock, clock, capsys, tmp_path):
    requests_mock.get(URL, json=_records(1, 3))
    existing = tmp_path / "tap.json"
    existing.write_text('{"mine": true}\n')
    assert _run(clock, "--write", str(existing)) == 1
    assert requests_mock.call_count == 0
    assert existing.read_text() == '{"mine": true}\n'
    assert capsys.readouterr().err == (
        f"Error: --write {existing}: the file exists; give --force to replace it, or another file name.\n"
    )
    assert _run(clock, "--write", str(existing), "--force") == 2  # noqa: PLR2004 - written, pagination none
    assert json.loads(existing.read_text())["data_path"] == ""


def test_write_to_a_missing_folder_fails_before_any_request(requests_mock, clock, capsys, tmp_path):
    requests_mock.get(URL, json=_records(1, 3))
    target = tmp_path / "no" / "such" / "tap.json"
    assert _run(clock, "--write", str(target)) == 1
    assert requests_mock.call_count == 0
    assert capsys.readouterr().err == f"Error: --write {target}: folder {target.parent} does not exist.\n"


def test_from_openapi_write_does_not_replace_a_file_without_force(tmp_path, capsys):
    from helpers import PAGED_SPEC

    existing = tmp_path / "tap.json"
    existing.write_text("{}\n")
    assert openapi_cli.main([str(PAGED_SPEC), "--write", str(existing)]) == 1
    assert existing.read_text() == "{}\n"
    assert "the file exists; give --force to replace it" in capsys.readouterr().err
    assert openapi_cli.main([str(PAGED_SPEC), "--write", str(existing), "--force"]) == 0
    assert len(json.loads(existing.read_text())["streams"]) == 8  # noqa: PLR2004


def test_a_huge_answer_is_not_read_whole(requests_mock, clock, capsys, monkeypatch):
    from tap_generic_api.probe import client

    monkeypatch.setattr(client, "MAX_BODY_BYTES", 4 * 1024 * 1024)
    requests_mock.get(URL, json={"data": [{"id": i, "pad": "x" * 100} for i in range(50_000)]})  # about 5.7 MB
    assert _run(clock) == 1
    assert capsys.readouterr().err == (
        f"Error: the answer from {URL} is over 4 MiB: probe with a smaller page size "
        "(--param limit=100, or the API's page-size parameter)\n"
    )


@pytest.mark.parametrize(
    "args", [["--rate", "nan"], ["--rate", "inf"], ["--rate", "0"], ["--max-pages", "0"], ["--max-pages", "-1"]]
)
def test_rate_and_max_pages_out_of_range_are_refused(requests_mock, capsys, args):
    requests_mock.get(URL, json=_records(1, 3))
    assert cli.main([URL, *args]) == 1
    assert requests_mock.call_count == 0
    assert capsys.readouterr().err == "Error: --max-pages must be at least 1 and --rate a number above 0.\n"


def test_a_param_given_twice_is_refused_not_half_kept(requests_mock, clock, capsys):
    requests_mock.get(URL, json=_records(1, 3))
    assert _run(clock, "--param", "tag=a", "--param", "tag=b") == 1
    assert requests_mock.call_count == 0
    assert capsys.readouterr().err == "Error: --param tag is given twice; the tap's params hold one value per name.\n"


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ([1, 2, 3], "the body is a list of 3 scalars (int), not objects"),
        ({"ids": ["a", "b"], "count": 2}, "body field 'ids' is a list of 2 scalars (str), not objects"),
    ],
)
def test_a_list_of_scalars_is_named_as_such(requests_mock, clock, capsys, body, said):
    requests_mock.get(URL, json=body)
    assert _run(clock) == 2  # noqa: PLR2004
    err = capsys.readouterr().err
    check = f"    check: {said}: the tap's records are objects; is there an endpoint listing the objects themselves?"
    assert check in err
    assert "verdict: FAILED: no records found in the first answer" in err


def test_a_401_says_which_credential_was_sent(requests_mock, clock, capsys, monkeypatch):
    monkeypatch.setenv("API_TOKEN", SECRET)
    requests_mock.get(URL, status_code=401, reason="Unauthorized", json={"error": f"bad token {SECRET}"})
    assert _run(clock, "--bearer-env", "API_TOKEN") == 1
    assert capsys.readouterr().err == (
        f'Error: 401 Unauthorized from {URL}: {{"error": "bad token ***"}} (the credential in $API_TOKEN; '
        "give one with --bearer-env, --header-env, --query-env or --basic-env)\n"
    )


def test_an_xml_answer_shows_what_came(requests_mock, clock, capsys):
    xml = "<?xml version='1.0'?><things><thing id='1'/></things>"
    requests_mock.get(URL, text=xml, headers={"Content-Type": "application/xml"})
    assert _run(clock) == 1
    assert capsys.readouterr().err == (
        f"Error: Response from {URL} is not JSON (status 200, content type 'application/xml'): {xml!r}\n"
    )


def test_a_429_during_the_probe_is_a_warning_in_the_evidence(requests_mock, clock, capsys):
    requests_mock.get(
        URL, [{"status_code": 429, "headers": {"Retry-After": "5"}, "json": {}}, {"json": _records(1, 3)}]
    )
    assert _run(clock) == 2  # noqa: PLR2004
    err = capsys.readouterr().err
    assert "WARNING rate_limit: 2.0  [medium]\n" in err
    assert "    from: the API answered 429 (waited 5 s) at --rate 2 per second\n" in err
    assert "    check: lower rate_limit.requests_per_second, or check the API's limits in its docs\n" in err


def test_a_page_position_in_param_is_refused(requests_mock, clock, capsys):
    """--param page=2 was sent with every page: the confirmation saw page 2 twice and wrote pagination none."""
    requests_mock.get(URL, json={"data": _records(1, 3), "page": 1, "total_pages": 4})
    assert _run(clock, "--param", "page=2") == 1
    assert requests_mock.call_count == 0
    assert capsys.readouterr().err == (
        "Error: --param page says which page to read: the probe finds and asks for pages itself, and the config "
        "would send page with every page. Leave it out (the first page is read without it).\n"
    )


def test_an_empty_list_is_unproven_with_what_to_do(requests_mock, clock, capsys):
    requests_mock.get(URL, json={"data": [], "has_more": False})
    assert _run(clock) == 2  # noqa: PLR2004
    out, err = capsys.readouterr()
    assert json.loads(out)["data_path"] == "data"
    assert "WARNING data_path: 'data'  [low]\n    from: body field 'data' is an empty list\n" in err
    assert "check: the first page had no records: probe again with --param values that return some." in err
    assert "WARNING destination.key_fields: null  [none]" in err
    assert requests_mock.call_count == 1
