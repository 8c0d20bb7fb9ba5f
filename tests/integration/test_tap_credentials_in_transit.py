"""Where credentials go: redirects, proxies from the environment, urllib3's DEBUG request lines."""

from __future__ import annotations

import json

import pytest
import requests
from helpers import API, FAST, bearer_tap, extract
from helpers import BEARER_SECRET as SECRET

from plugin_kit.errors import ConfigError
from plugin_kit.proxies import proxy_passwords
from tap_generic_api.tap import TapGenericAPI


def test_query_secret_never_logged_at_debug_over_real_http(httpserver, caplog):
    """Real HTTP on loopback: urllib3 logs request lines at DEBUG; the key must be masked."""
    httpserver.expect_request("/items", query_string={"api_key": SECRET}).respond_with_json(
        {"data": [{"id": 1}], "echo": SECRET}
    )
    httpserver.expect_request("/boom").respond_with_data(f"error for {SECRET}", status=418)
    config = {
        "auth": {"type": "query", "provider": "VENDOR"},
        "secrets": {"vendor": SECRET},
        "data_path": "data",
        "rate_limit": FAST,
        "streams": [
            {"url": httpserver.url_for("/items"), "destination": {"table": "items"}},
            {"url": httpserver.url_for("/boom"), "destination": {"table": "boom"}},
        ],
    }
    tap = TapGenericAPI(config=config, parse_env_config=False)
    assert extract(tap, "items") == [{"id": 1}]
    with pytest.raises(Exception, match="API error 418") as info:
        extract(tap, "boom")
    assert SECRET not in str(info.value)
    assert "api_key=" in caplog.text  # urllib3's DEBUG request line was logged ...
    assert SECRET not in caplog.text  # ... with the key masked


def test_redirect_to_another_host_is_followed_without_the_key(requests_mock):
    requests_mock.get(API, status_code=302, headers={"Location": "https://elsewhere.example/steal"})
    elsewhere = requests_mock.get("https://elsewhere.example/steal", json=[{"id": 1}])
    assert extract(bearer_tap(auth={"type": "header", "provider": "VENDOR"})) == [{"id": 1}]
    assert elsewhere.call_count == 1
    assert "X-API-Key" not in elsewhere.last_request.headers


def test_redirect_on_the_same_host_is_followed_with_credentials(requests_mock):
    requests_mock.get(API, status_code=301, headers={"Location": "/v2/items"})
    moved = requests_mock.get("https://api.example.com/v2/items", json=[{"id": 1}])
    assert extract(bearer_tap(auth={"type": "header", "provider": "VENDOR"})) == [{"id": 1}]
    assert moved.last_request.headers["X-API-Key"] == SECRET


@pytest.fixture
def loopback_server():
    """A threaded HTTP server on 127.0.0.1 that records each request target and serves offset pages.

    A request sent through it as a proxy arrives with an absolute target
    (``http://host:port/path?...``), a direct one with the path only.
    """
    import http.server
    import threading
    import urllib.parse

    targets: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            targets.append(self.path)
            offset = int(urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)["offset"][0])
            body = json.dumps([{"id": i} for i in range(offset, min(offset + 2, 5))]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", targets
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("bypass", [False, True])
def test_proxy_from_the_environment_is_used_unless_no_proxy_names_the_host(
    loopback_server, monkeypatch, bypass, no_proxy_environment
):
    base, targets = loopback_server
    monkeypatch.setenv("HTTP_PROXY", base)  # the server is its own proxy: the target's form tells
    if bypass:
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    lookups = []
    real_lookup = requests.utils.get_environ_proxies
    monkeypatch.setattr(
        requests.utils, "get_environ_proxies", lambda *a, **k: lookups.append(a) or real_lookup(*a, **k)
    )
    tap = bearer_tap(url=f"{base}/v1/items", pagination={"type": "offset", "limit": 2, "max_concurrency": 1})
    assert [r["id"] for r in extract(tap)] == [0, 1, 2, 3, 4]
    prefix = "" if bypass else base
    assert targets == [f"{prefix}/v1/items?limit=2&offset={n}" for n in (0, 2, 4)]
    # The environment is read for the first request only (requests reads it on every send).
    assert len(lookups) == (0 if bypass else 1)


def test_a_malformed_proxy_is_a_config_error_naming_the_variable_without_its_password(
    monkeypatch, no_proxy_environment
):
    monkeypatch.setenv("HTTP_PROXY", "http://proxyuser:PXPASS-77k@127.0.0.1:99999")  # port out of range
    with pytest.raises(ConfigError) as info:
        bearer_tap(url="http://api.example.test/v1/items").streams  # noqa: B018 (builds the streams)
    assert str(info.value) == (
        "The proxy for http://api.example.test from HTTP_PROXY is not a usable URL: http://***@127.0.0.1:99999. "
        "Fix or unset it, or exempt the host with NO_PROXY."
    )
    monkeypatch.setenv("NO_PROXY", "api.example.test")  # not used for this host: no error
    assert "items" in bearer_tap(url="http://api.example.test/v1/items").streams


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("All_Proxy", "http://u:PXPASS-77k@127.0.0.1:abc", "is not a usable URL: http://***@127.0.0.1:abc"),
        ("HTTP_PROXY", "http://u:PXPASS-77k@[::1", "is not a usable URL: (not shown)"),
    ],
)
def test_proxy_variables_of_any_case_are_named_and_masked(monkeypatch, no_proxy_environment, name, value, problem):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        bearer_tap(url="http://api.example.test/v1/items").streams  # noqa: B018 (builds the streams)
    assert str(info.value) == (
        f"The proxy for http://api.example.test from {name} {problem}. Fix or unset it, or exempt the host "
        "with NO_PROXY."
    )


def test_proxy_passwords_are_masked_as_written_and_decoded():
    environ = {
        "HTTPS_PROXY": "http://user:p%40ss-word9@proxy:3128",
        "http_proxy": "tok-en-only-77@proxy:3128",
        "All_Proxy": "http://u:ipv6-pass-55@[::1",  # malformed: still masked
        "HOME": "/root:x@y",
    }
    assert sorted(proxy_passwords(environ)) == ["ipv6-pass-55", "p%40ss-word9", "p@ss-word9", "tok-en-only-77"]
