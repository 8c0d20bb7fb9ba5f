"""The tap's HTTP transport: transient statuses, bodies, redirects, one deadline per request, strict output."""

from __future__ import annotations

import base64
import codecs
import gzip
import io
import json
import socketserver
import subprocess
import threading
import time
import zlib
from contextlib import redirect_stdout

import pytest
from helpers import API, BIN, FAST, bearer_tap, extract, sync_lines
from helpers import BEARER_SECRET as SECRET
from pytest_httpserver import HTTPServer
from werkzeug import Response

from plugin_kit.errors import ConfigError
from plugin_kit.redact import redact_text
from tap_generic_api.errors import APIRequestError, PaginationLoopError, ResponseShapeError, TooManyRedirectsError
from tap_generic_api.tap import TapGenericAPI

# --- item 4: transient statuses -------------------------------------------------------------


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 507, 520, 521, 522, 523, 524, 599])
def test_transient_statuses_are_retried(requests_mock, sleeps, status):
    requests_mock.get(API, [{"status_code": status}, {"json": [{"id": 1}]}])
    assert extract(bearer_tap()) == [{"id": 1}]
    assert requests_mock.call_count == 2
    assert sleeps == [1.0]


@pytest.mark.parametrize("status", [400, 404, 409, 501, 505])
def test_statuses_that_fail_again_are_not_retried(requests_mock, sleeps, status):
    requests_mock.get(API, status_code=status, text="nope")
    with pytest.raises(Exception, match=f"API error {status}"):
        extract(bearer_tap())
    assert requests_mock.call_count == 1
    assert sleeps == []


def test_retry_statuses_replaces_the_set(requests_mock, sleeps):
    requests_mock.get(API, [{"status_code": 409}, {"status_code": 503}])
    tap = bearer_tap(rate_limit={**FAST, "retry_statuses": [409]})
    with pytest.raises(Exception, match="API error 503"):
        extract(tap)
    assert requests_mock.call_count == 2  # 409 retried, 503 (not listed) fails at once
    assert sleeps == [1.0]


@pytest.mark.parametrize("value", [[200], [600], [404, 302]])
def test_retry_statuses_must_be_error_statuses(value):
    with pytest.raises(ConfigError, match=r"rate_limit\.retry_statuses must be a list of HTTP error statuses"):
        bearer_tap(rate_limit={**FAST, "retry_statuses": value}).streams  # noqa: B018


def test_retry_statuses_is_declared_in_the_settings():
    declared = TapGenericAPI.config_jsonschema["properties"]["rate_limit"]["properties"]["retry_statuses"]
    assert declared["type"] == ["array", "null"] or declared["type"] == "array"
    assert "501 and 505" in declared["description"]


# --- loopback servers -----------------------------------------------------------------------


@pytest.fixture
def other_server():
    """A second loopback server: another port of 127.0.0.1 is another origin."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    server.stop()


def _received(server: HTTPServer) -> list[tuple[dict[str, str], str]]:
    """Return (headers by lower-case name, query string) of each request the server received, in order."""
    return [
        ({k.lower(): v for k, v in request.headers.items()}, request.query_string.decode()) for request, _ in server.log
    ]


# --- item 16: one deadline per request ---------------------------------------------------------


def test_a_body_trickled_past_the_timeout_is_a_timeout_retried_then_failed_naming_the_url(
    httpserver, no_proxy_environment, sleeps
):
    requests_seen = []

    def trickle(request):
        requests_seen.append(request.path)

        def body():
            yield b"["
            for _ in range(200):  # bounded: the server stops by itself after about 10 s
                time.sleep(0.05)
                yield b" "
            yield b"]"

        return Response(body(), content_type="application/json")

    httpserver.expect_request("/v1/items").respond_with_handler(trickle)
    tap = bearer_tap(httpserver.url_for("/v1/items"), timeout=1, rate_limit={**FAST, "max_retries": 1})
    with pytest.raises(APIRequestError) as info:
        extract(tap)
    message = str(info.value)
    assert message.startswith(f"Stream 'items': request to {httpserver.url_for('/v1/items')} failed after 2 attempts")
    assert "DeadlineExceededError: no complete response within timeout (1 s for connect, headers and whole body)" in (
        message
    )
    assert requests_seen == ["/v1/items", "/v1/items"]
    assert sleeps == [1.0]


@pytest.fixture
def header_trickler():
    """A loopback server that answers each connection with a header trickled one byte every 0.05 s.

    Bounded: each connection gets at most 200 bytes of it (about 10 s); the server stops with the test.
    """
    connections: list[int] = []
    finished = threading.Condition()
    stop = threading.Event()

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.recv(65536)
            sent = 0
            try:
                self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: ")
                for _ in range(200):
                    if stop.wait(0.05):
                        break
                    self.request.sendall(b"a")
                    sent += 1
            except OSError:
                pass  # the client gave up
            with finished:
                connections.append(sent)
                finished.notify_all()

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def lines_sent(count: int) -> list[int]:
        """Wait until ``count`` connections have ended; return the header bytes each was sent."""
        with finished:
            finished.wait_for(lambda: len(connections) >= count, timeout=30)
        return list(connections)

    yield f"http://127.0.0.1:{server.server_address[1]}/v1/items", lines_sent
    stop.set()
    server.shutdown()
    server.server_close()


def test_headers_trickled_past_the_timeout_are_a_timeout(header_trickler, no_proxy_environment, sleeps):
    url, lines_sent = header_trickler
    tap = bearer_tap(url, timeout=1, rate_limit={**FAST, "max_retries": 1})
    with pytest.raises(APIRequestError) as info:
        extract(tap)
    message = str(info.value)
    assert message.startswith(f"Stream 'items': request to {url} failed after 2 attempts: DeadlineExceededError: ")
    sent = lines_sent(2)
    assert len(sent) == 2
    assert all(count < 200 for count in sent)  # the tap hung up before the server's last header byte
    assert sleeps == [1.0]


def test_a_body_within_the_deadline_is_read_whole(httpserver, no_proxy_environment):
    httpserver.expect_request("/v1/items").respond_with_json([{"id": i} for i in range(3)])
    assert extract(bearer_tap(httpserver.url_for("/v1/items"), timeout=30)) == [{"id": 0}, {"id": 1}, {"id": 2}]


# --- item 5: bodies ----------------------------------------------------------------------------

RECORDS = [{"id": 1, "name": "Zoë"}]
JSON_BYTES = json.dumps(RECORDS, ensure_ascii=False).encode()


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (gzip.compress(JSON_BYTES), {}),  # gzip without Content-Encoding
        (zlib.compress(JSON_BYTES), {}),  # deflate (zlib) without Content-Encoding
        (gzip.compress(JSON_BYTES), {"Content-Encoding": "gzip"}),
        (gzip.compress(gzip.compress(JSON_BYTES)), {"Content-Encoding": "gzip"}),  # compressed twice
        (zlib.compress(JSON_BYTES), {"Content-Encoding": "deflate"}),
        (codecs.BOM_UTF8 + JSON_BYTES, {}),
        (json.dumps(RECORDS).encode("utf-16"), {}),  # UTF-16 with its byte-order mark
        (codecs.BOM_UTF32_LE + json.dumps(RECORDS).encode("utf-32-le"), {}),
        (JSON_BYTES.decode().encode("latin-1"), {"Content-Type": "application/json; charset=ISO-8859-1"}),
        (JSON_BYTES.decode().encode("cp1252"), {"Content-Type": "text/plain; charset=windows-1252"}),
        (gzip.compress(codecs.BOM_UTF8 + JSON_BYTES), {}),
    ],
    ids=[
        "gzip-undeclared",
        "zlib-undeclared",
        "gzip",
        "gzip-twice",
        "deflate",
        "utf8-bom",
        "utf16-bom",
        "utf32-bom",
        "latin1",
        "cp1252",
        "gzip-bom",
    ],
)
def test_bodies_are_read_whatever_their_encoding(httpserver, no_proxy_environment, body, headers):
    headers = {"Content-Type": "application/json", **headers}
    httpserver.expect_request("/v1/items").respond_with_data(body, headers=headers)
    assert extract(bearer_tap(httpserver.url_for("/v1/items"))) == RECORDS


def test_an_html_200_keeps_its_clear_error_with_an_excerpt(httpserver, no_proxy_environment):
    page = "<html><head><script>var x=1;</script></head><body><h1>Maintenance</h1> back soon</body></html>"
    httpserver.expect_request("/v1/items").respond_with_data(page, content_type="text/html")
    with pytest.raises(ResponseShapeError) as info:
        extract(bearer_tap(httpserver.url_for("/v1/items")))
    assert str(info.value) == (
        f"Stream 'items': Response from {httpserver.url_for('/v1/items')} is not JSON (status 200, content type "
        "'text/html'): 'Maintenance back soon'"
    )


def test_a_body_nested_deeper_than_the_decoder_allows_names_the_stream_and_url(httpserver, no_proxy_environment):
    httpserver.expect_request("/v1/items").respond_with_data(b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(ResponseShapeError) as info:
        extract(bearer_tap(httpserver.url_for("/v1/items")))
    assert str(info.value).startswith(
        f"Stream 'items': Response from {httpserver.url_for('/v1/items')} is JSON nested deeper than the decoder allows"
    )


def test_records_nested_too_deep_stop_a_sync_with_the_error_naming_stream_and_url(httpserver, no_proxy_environment):
    deep = b"[" * 100_000 + b"]" * 100_000
    httpserver.expect_request("/v1/items").respond_with_data(b'{"data": [{"id": 1, "tree": ' + deep + b"}]}")
    tap = bearer_tap(httpserver.url_for("/v1/items"), data_path="data")
    with redirect_stdout(io.StringIO()), pytest.raises(ResponseShapeError) as info:
        tap.sync_all()
    assert str(info.value).startswith(
        f"Stream 'items': Response from {httpserver.url_for('/v1/items')} is JSON nested deeper than the decoder allows"
    )


# --- item 6: redirects ------------------------------------------------------------------------

COOKIE = f"session={SECRET}"


@pytest.mark.parametrize(
    ("auth", "credential_header"),
    [({"type": "bearer"}, "Authorization"), ({"type": "header"}, "X-API-Key"), ({"type": "query"}, None)],
)
def test_a_redirect_to_another_origin_is_followed_without_credentials_and_logged(
    httpserver, other_server, no_proxy_environment, caplog, auth, credential_header
):
    elsewhere = other_server.url_for("/files/items.json")
    httpserver.expect_request("/v1/items").respond_with_data("", status=302, headers={"Location": elsewhere})
    other_server.expect_request("/files/items.json").respond_with_json([{"id": 1}])
    tap = bearer_tap(httpserver.url_for("/v1/items"), auth={**auth, "provider": "VENDOR"}, headers={"Cookie": COOKIE})
    assert extract(tap) == [{"id": 1}]
    ((home_headers, home_query),) = _received(httpserver)
    ((away_headers, away_query),) = _received(other_server)
    assert home_headers["cookie"] == COOKIE
    if credential_header:
        assert SECRET in home_headers[credential_header.lower()]
    else:
        assert home_query == f"api_key={SECRET}"
    assert away_query == ""
    assert {"authorization", "x-api-key", "cookie"}.isdisjoint(away_headers)
    assert not any(SECRET in value for value in away_headers.values())
    assert (
        f"Stream 'items': {httpserver.url_for('/v1/items')}"
        f"{'?api_key=***' if credential_header is None else ''} redirects to {elsewhere}, another origin; "
        "following it without credentials" in caplog.text
    )


def test_a_redirect_to_an_allowed_host_keeps_the_credentials(httpserver, other_server, no_proxy_environment):
    elsewhere = other_server.url_for("/files/items.json")
    httpserver.expect_request("/v1/items").respond_with_data("", status=307, headers={"Location": elsewhere})
    other_server.expect_request("/files/items.json").respond_with_json([{"id": 1}])
    tap = bearer_tap(
        httpserver.url_for("/v1/items"),
        auth={"type": "query", "provider": "VENDOR"},
        headers={"Cookie": COOKIE},
        allowed_hosts=[f"127.0.0.1:{other_server.port}"],
    )
    assert extract(tap) == [{"id": 1}]
    ((away_headers, away_query),) = _received(other_server)
    assert away_query == f"api_key={SECRET}"
    assert away_headers["cookie"] == COOKIE


def test_a_redirect_on_the_configured_origin_keeps_the_credentials(httpserver, no_proxy_environment):
    httpserver.expect_request("/v1/items").respond_with_data("", status=301, headers={"Location": "/v2/items"})
    httpserver.expect_request("/v2/items").respond_with_json([{"id": 1}])
    assert extract(bearer_tap(httpserver.url_for("/v1/items"), auth={"type": "header", "provider": "VENDOR"})) == [
        {"id": 1}
    ]
    assert [headers["x-api-key"] for headers, _ in _received(httpserver)] == [SECRET, SECRET]


def test_too_many_redirects_is_an_error_naming_the_chain(httpserver, no_proxy_environment):
    for hop in range(7):
        location = {"Location": f"/hop{hop + 1}"}
        httpserver.expect_request(f"/hop{hop}").respond_with_data("", status=302, headers=location)
    with pytest.raises(TooManyRedirectsError) as info:
        extract(bearer_tap(httpserver.url_for("/hop0"), auth={"type": "query", "provider": "VENDOR"}))
    chain = " -> ".join(httpserver.url_for(f"/hop{hop}") + "?api_key=***" for hop in range(6))
    assert str(info.value) == f"Stream 'items': more than 5 redirects: {chain} -> {httpserver.url_for('/hop6')}"
    assert len(httpserver.log) == 6


# --- item 7: every line the tap writes is strict JSON ------------------------------------------


def _strict_line(line: bytes) -> dict:
    """Parse one output line as RFC 8259 / I-JSON: UTF-8, no NaN/Infinity, no lone surrogate."""

    def refuse(token):
        msg = f"non-standard number {token} in {line[:200]!r}"
        raise AssertionError(msg)

    message = json.loads(line.decode("utf-8"), parse_constant=refuse)
    json.dumps(message, ensure_ascii=False).encode("utf-8")  # raises on a lone surrogate
    return message


@pytest.mark.parametrize("raw_output", [True, False], ids=["records-copied-as-is", "records-decoded"])
def test_every_line_the_tap_writes_is_strict_json(httpserver, no_proxy_environment, tmp_path, raw_output):
    body = (
        b'{"data": [{"id": 1, "big": 123456789012345678901234567890, "amount": 0.10000000000000000001, '
        b'"score": NaN, "ratio": -Infinity, "name": "a\\ud800b", "emoji": "\\ud83d\\ude00"}, '
        b'{"id": 2, "big": -98765432109876543210987654321, "score": 1.5, "name": "ok"}]}'
    )
    httpserver.expect_request("/v1/items").respond_with_data(body, content_type="application/json")
    config = {"url": httpserver.url_for("/v1/items"), "data_path": "data", "destination": {"table": "items"}}
    if not raw_output:
        config["replication_key"] = "id"  # records are decoded to follow the bookmark
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    result = subprocess.run(
        [str(BIN / "tap-generic-api"), "--config", str(path)], capture_output=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]
    messages = [_strict_line(line) for line in result.stdout.splitlines()]
    records = [m["record"] for m in messages if m["type"] == "RECORD"]
    assert records == [
        {
            "id": 1,
            "big": 123456789012345678901234567890,
            "amount": 0.1,  # json.loads reads floats; the exact text is checked below
            "score": None,
            "ratio": None,
            "name": "a\ufffdb",
            "emoji": "\U0001f600",
        },
        {"id": 2, "big": -98765432109876543210987654321, "score": 1.5, "name": "ok"},
    ]
    assert b'"amount":0.10000000000000000001' in result.stdout
    assert b'"big":123456789012345678901234567890' in result.stdout
    stderr = result.stderr.decode()
    assert (
        f"Stream 'items': response from {httpserver.url_for('/v1/items')} holds 2 NaN/Infinity number(s), which JSON "
        "cannot carry; written as null: $.data[0].score, $.data[0].ratio"
    ) in stderr
    assert "holds 1 string(s) with lone UTF-16 surrogates" in stderr


def test_bytes_that_are_not_utf8_become_replacement_characters_with_a_warning(httpserver, no_proxy_environment, caplog):
    body = b'[{"id": 1, "name": "caf\xe9"}, {"id": 2, "name": "\xed\xa0\x80"}]'  # Latin-1, CESU-8 surrogate
    httpserver.expect_request("/v1/items").respond_with_data(body, content_type="application/json")
    lines = sync_lines(bearer_tap(httpserver.url_for("/v1/items")))
    records = [_strict_line(line.encode())["record"] for line in lines if '"RECORD"' in line]
    assert records == [{"id": 1, "name": "caf\ufffd"}, {"id": 2, "name": "\ufffd\ufffd\ufffd"}]
    assert (
        f"Stream 'items': response from {httpserver.url_for('/v1/items')} holds bytes that are not UTF-8 "
        "(JSON is UTF-8, RFC 8259 section 8.1); each is written as U+FFFD." in caplog.text
    )


# --- item 19: secrets in every form ------------------------------------------------------------


def _echo(request):
    """Answer 403 quoting what an API's error page might: the Authorization header and the query."""
    text = f"denied for {request.headers.get('Authorization')} with {request.query_string.decode()}"
    return Response(text, status=403, content_type="text/plain")


def test_credentials_written_into_the_url_are_masked_in_every_form(httpserver, no_proxy_environment, caplog):
    password, token = "pw-NEVERLOG-1", "tok-NEVERLOG-2"
    basic = base64.b64encode(f"apiuser:{password}".encode()).decode()
    httpserver.expect_request("/v1/items").respond_with_handler(_echo)
    url = httpserver.url_for("/v1/items").replace("http://", f"http://apiuser:{password}@") + f"?access_token={token}"
    tap = bearer_tap(url, auth=None, secrets={})
    with pytest.raises(Exception, match="API error 403") as info:
        extract(tap)
    message = str(info.value)
    ((headers, _),) = _received(httpserver)
    assert headers["authorization"] == f"Basic {basic}"  # requests sent the URL's credentials
    assert message.endswith(": denied for Basic *** with access_token=***")
    assert basic not in message
    assert basic not in caplog.text


def test_a_short_secret_is_masked_where_it_stands_as_a_token(httpserver, no_proxy_environment):
    httpserver.expect_request("/v1/items").respond_with_handler(_echo)
    tap = bearer_tap(httpserver.url_for("/v1/items"), secrets={"vendor": "x9Z"})
    with pytest.raises(Exception, match="API error 403") as info:
        extract(tap)
    assert str(info.value).endswith(": denied for Bearer *** with")
    tap = bearer_tap(
        httpserver.url_for("/v1/items"), auth={"type": "query", "provider": "VENDOR"}, secrets={"vendor": "x9Z"}
    )
    with pytest.raises(Exception, match="API error 403") as info:
        extract(tap)
    assert str(info.value).endswith(": denied for None with api_key=***")


def test_short_secrets_are_masked_as_whole_tokens_only():
    text = "Bearer ab1; key=ab1&x=1; tab1e ab12 'ab1' ab1/"
    assert redact_text(text, ["ab1"]) == "Bearer ***; key=***&x=1; tab1e ab12 '***' ab1/"


# --- item 20 (tap): errors that explain, without quoting a huge value whole ---------------------


def test_an_error_quoting_a_huge_cursor_cuts_it(httpserver, no_proxy_environment, tmp_path):
    cursor = "c" * 10_000_000
    page = json.dumps({"data": [{"id": 1}], "next": cursor})
    httpserver.expect_request("/v1/items").respond_with_data(page, content_type="application/json")
    config = {
        "url": httpserver.url_for("/v1/items"),
        "data_path": "data",
        "destination": {"table": "items"},
        "pagination": {"type": "cursor", "param": "cursor", "response_path": "next"},
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    result = subprocess.run(
        [str(BIN / "tap-generic-api"), "--config", str(path)], capture_output=True, timeout=120, check=False
    )
    stderr = result.stderr.decode()
    assert result.returncode == 1
    assert len(stderr) < 20_000
    (line,) = [line for line in stderr.splitlines() if line.startswith("Error: ")]
    url = f"{httpserver.url_for('/v1/items')}?cursor={cursor}"
    assert line.startswith(
        f"Error: Stream 'items': API error 414 Request-URI Too Long for {url[:497]}... ({len(url):,} characters, cut): "
    )


def test_a_pagination_loop_on_a_huge_cursor_quotes_it_cut(requests_mock):
    cursor = "c" * 10_000_000
    pages = [{"data": [{"id": 1}], "next": cursor}, {"data": [{"id": 2}], "next": "b"}]
    requests_mock.get(API, [{"json": pages[0]}, {"json": pages[1]}, {"json": pages[0]}])
    tap = bearer_tap(data_path="data", pagination={"type": "cursor", "param": "cursor", "response_path": "next"})
    with pytest.raises(PaginationLoopError) as info:
        extract(tap)
    message = str(info.value)
    assert len(message) < 2_000
    assert f"the API returned '{'c' * 497}... (10,000,000 characters, cut)' which was already requested" in message
