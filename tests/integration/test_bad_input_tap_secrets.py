"""Secrets the tap never shows: in errors, echoed bodies, URLs, reason phrases and OAuth2 token errors."""

from __future__ import annotations

import base64
import html
import json
import re
import subprocess
import urllib.parse

import pytest
from helpers import API, extract, query_key_tap, run_cli
from helpers import QUERY_KEY_SECRET as SECRET
from werkzeug import Response

from plugin_kit.errors import ConfigError
from plugin_kit.redact import WITHHELD
from tap_generic_api.errors import CredentialError, ResponseShapeError


def test_non_json_200_with_custom_query_param_never_shows_the_key(requests_mock):
    requests_mock.get(API, text=f"<html><p>echo appid={SECRET}</p></html>", headers={"Content-Type": "text/html"})
    with pytest.raises(ResponseShapeError) as info:
        extract(query_key_tap())
    message = str(info.value)
    assert "is not JSON" in message
    assert "appid=***" in message
    assert SECRET not in message


def test_percent_encoded_secret_in_an_error_body_is_masked(requests_mock):
    secret = "Ab+cd/Ef=Gh-NEVERLOG-1234"
    requests_mock.get(API, status_code=404, json={"echo_url": "/v1/items?appid=Ab%2Bcd%2FEf%3DGh-NEVERLOG-1234"})
    with pytest.raises(Exception, match="API error 404") as info:
        extract(query_key_tap(secrets={"x": secret}))
    assert "NEVERLOG" not in str(info.value)


def test_basic_auth_password_and_header_token_echoed_back_are_masked(requests_mock):
    import base64

    token = base64.b64encode(f"admin:{SECRET}".encode()).decode()
    requests_mock.get(API, status_code=403, json={"error": f"bad password {SECRET}", "auth": f"Basic {token}"})
    with pytest.raises(Exception, match="API error 403") as info:
        extract(query_key_tap(auth={"type": "basic", "provider": "X"}, secrets={"x": f"admin:{SECRET}"}))
    assert "bad password ***" in str(info.value)
    assert "Basic ***" in str(info.value)
    assert SECRET not in str(info.value)
    assert token not in str(info.value)


def test_a_key_written_in_headers_or_variables_is_masked_when_echoed(requests_mock):
    header_key, variable_key = "hdr-NEVERLOG-77aa", "var-NEVERLOG-88bb"
    requests_mock.get(API, status_code=400, json={"got": [header_key, variable_key]})
    tap = query_key_tap(
        auth=None,
        headers={"X-Api-Key": header_key, "X-Signature": "{signing_token}"},
        variables={"signing_token": variable_key},
    )
    with pytest.raises(Exception, match="API error 400") as info:
        extract(tap)
    assert '"got": ["***", "***"]' in str(info.value)


def test_a_credential_header_not_named_like_one_is_masked_when_echoed(requests_mock):
    # An API-specific credential header need not look secret; descriptive headers stay readable.
    customer = "cust-NEVERLOG-5150"
    requests_mock.get(API, status_code=401, json={"headers": {"X-Customer": customer, "Accept": "text/csv"}})
    tap = query_key_tap(auth=None, headers={"X-Customer": customer, "Accept": "text/csv"})
    with pytest.raises(Exception, match="API error 401") as info:
        extract(tap)
    assert '"headers": {"X-Customer": "***", "Accept": "text/csv"}' in str(info.value)


def test_a_secret_no_stream_uses_is_masked_too(requests_mock):
    other = "other-NEVERLOG-99cc"
    requests_mock.get(API, status_code=400, json={"got": other})
    with pytest.raises(Exception, match="API error 400") as info:
        extract(query_key_tap(secrets={"x": SECRET, "another_vendor": other}))
    assert '"got": "***"' in str(info.value)


def test_secret_straddling_the_excerpt_limit_is_not_half_shown(requests_mock):
    requests_mock.get(API, status_code=401, text="x" * 290 + f" key=Bearer {SECRET} " + "y" * 50)
    with pytest.raises(Exception, match="API error 401") as info:
        extract(query_key_tap())
    assert "SUPERSECR" not in str(info.value)


def test_secret_with_a_line_break_is_refused_without_echo():
    with pytest.raises(CredentialError, match="contains a line break") as info:
        query_key_tap(secrets={"x": "SUPERSECRET\nNEVERLOG"})
    assert "NEVERLOG" not in str(info.value)


def test_a_header_credential_outside_latin_1_is_a_credential_error_before_any_request(requests_mock):
    api = requests_mock.get(API, json=[])
    with pytest.raises(CredentialError) as info:
        extract(query_key_tap(auth={"type": "bearer", "provider": "X"}, secrets={"x": "tok\u20acn-NEVERLOG"}))
    assert str(info.value) == (
        "auth.type 'bearer': the credential for provider 'X' holds characters an HTTP header cannot carry "
        "(only Latin-1); look for a stray character such as a typographic quote."
    )
    assert api.call_count == 0


def test_an_invalid_url_with_a_password_is_a_config_error_that_does_not_show_it():
    with pytest.raises(ConfigError) as info:
        query_key_tap(auth=None, url="http://user:pa-NEVERLOG/ss@127.0.0.1:9/x")
    assert str(info.value).startswith("config.url is not a valid URL (a user:password in it must be")
    assert "NEVERLOG" not in str(info.value)


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://127.0.0.1:99999/x", "config.url has port 99999; a port is a number from 1 to 65535."),
        ("http://u:p-NEVERLOG@127.0.0.1:0/x", "config.url has port 0; a port is a number from 1 to 65535."),
    ],
)
def test_a_port_out_of_range_is_named_as_the_port(url, error):
    with pytest.raises(ConfigError) as info:
        query_key_tap(auth=None, url=url)
    assert str(info.value) == error


@pytest.mark.parametrize(
    "echo",
    [
        lambda s: s.replace("/", "\\/"),  # JSON with escaped slashes
        lambda s: base64.b64encode(s.encode()).decode(),
        lambda s: base64.urlsafe_b64encode(s.encode()).decode().rstrip("="),
        html.escape,  # an HTML error page
        lambda s: html.escape(s).replace("&#x27;", "&#39;"),  # the other entity for '
        lambda s: json.dumps(s)[1:-1],  # JSON with non-ASCII as \\uXXXX (Python's default)
        lambda s: s.replace("&", "\\u0026").replace("<", "\\u003c"),  # Go's HTML-safe JSON
        lambda s: json.dumps(s).replace("/", "\\/")[1:-1],  # PHP's json_encode
        lambda s: "".join(f"\\u{ord(c):04X}" if c in "&<'+" or not c.isascii() else c for c in s),  # .NET
        lambda s: html.escape(s).replace("&#x27;", "&apos;").replace("&amp;", "&#38;"),  # other entities
        lambda s: urllib.parse.quote(s, safe="-_.!~*'()"),  # JavaScript's encodeURIComponent
        lambda s: urllib.parse.quote(s),  # '/' left as is
        lambda s: s.encode().decode("latin-1"),  # UTF-8 read as Latin-1
    ],
)
def test_secrets_echoed_escaped_or_in_base64_are_masked(requests_mock, echo):
    secret = "sEcr3t/NEVERLOG+tok==&<'é"
    requests_mock.get(API, status_code=400, text=f'{{"error": "bad key {echo(secret)}"}}')
    with pytest.raises(Exception, match="API error 400") as info:
        extract(query_key_tap(secrets={"x": secret}))
    assert "NEVERLOG" not in str(info.value)
    # masked where it stands, or (an encoding no variant lists) the whole excerpt withheld
    assert "bad key ***" in str(info.value) or str(info.value).endswith(f": {WITHHELD}")


def test_a_non_ascii_secret_in_a_reason_phrase_or_a_text_body_without_charset_is_masked(httpserver):
    secret = "Sk&<a>'b/c+é-NEVERLOG"

    def echo(request):
        if request.args.get("where") == "reason":
            response = Response("{}", status=400, content_type="application/json")
            response.status = f"400 Bad {secret}".encode().decode("latin-1")  # sent as UTF-8 bytes
            return response
        return Response(f"<p>bad key {secret}</p>".encode(), status=400, content_type="text/html")

    httpserver.expect_request("/v1/items").respond_with_handler(echo)
    for where in ("reason", "body"):
        tap = query_key_tap(url=httpserver.url_for("/v1/items"), params={"where": where}, secrets={"x": secret})
        with pytest.raises(Exception, match="API error 400") as info:
            extract(tap)
        assert "NEVERLOG" not in str(info.value)


def test_a_secret_in_the_url_path_is_masked(requests_mock):
    secret = "Sk&<a>'b/c+é-NEVERLOG"
    requests_mock.get(re.compile(r"https://api\.example\.com/echo/.*"), status_code=404, text="no such key")
    tap = query_key_tap(url="https://api.example.com/echo/{api_token}/x", variables={"api_token": secret})
    with pytest.raises(Exception, match="API error 404") as info:
        extract(tap)
    assert "NEVERLOG" not in str(info.value)


def test_the_oauth2_token_error_masks_every_secret_before_it_is_cut(requests_mock):
    token_url = "https://auth.example.com/token"
    secret = "cs&<q>'r/s+NEVERLOG-1"
    body = "p" * 290 + f" {secret} and {SECRET}"
    requests_mock.post(token_url, status_code=400, text=body)
    tap = query_key_tap(auth={"type": "oauth2", "token_url": token_url, "client_id": "c", "client_secret": secret})
    with pytest.raises(Exception, match="OAuth2 token request") as info:
        extract(tap)
    assert "NEVERLOG" not in str(info.value)
    assert "cs&<q>" not in str(info.value)


def test_a_secret_in_the_reason_phrase_or_content_type_is_masked(requests_mock):
    requests_mock.get(API, status_code=401, reason=f"Invalid credential {SECRET}", json={})
    with pytest.raises(Exception, match="API error 401 Invalid credential \\*\\*\\*") as info:
        extract(query_key_tap())
    assert SECRET not in str(info.value)
    requests_mock.get(API, text="not json", headers={"Content-Type": f"text/plain; key={SECRET}"})
    with pytest.raises(ResponseShapeError) as info:
        extract(query_key_tap())
    assert SECRET not in str(info.value)


def test_a_secret_across_the_excerpt_window_is_masked_whole(requests_mock):
    requests_mock.get(API, status_code=401, text=" " * 5985 + f"key {SECRET} rejected")
    with pytest.raises(Exception, match="API error 401") as info:
        extract(query_key_tap())
    assert "key ***" in str(info.value)
    assert SECRET[:6] not in str(info.value)


def test_the_oauth2_token_request_does_not_follow_a_redirect(requests_mock):
    token_url = "https://auth.example.com/token"
    requests_mock.post(token_url, status_code=307, headers={"Location": "https://elsewhere.example/steal"})
    elsewhere = requests_mock.post("https://elsewhere.example/steal", json={"access_token": "x"})
    tap = query_key_tap(auth={"type": "oauth2", "token_url": token_url, "client_id": "c", "client_secret": SECRET})
    with pytest.raises(Exception, match=r"OAuth2 token request to .* was redirected \(status 307\)"):
        extract(tap)
    assert elsewhere.call_count == 0


@pytest.mark.parametrize(
    ("key", "value"),
    [("auth", "Bearer NEVERLOG-pasted"), ("headers", ["Authorization: Bearer NEVERLOG-listed"])],
)
def test_a_credential_given_as_the_wrong_type_is_never_echoed(tmp_path, key, value):
    config = {"url": API, "destination": {"table": "items"}, key: value}
    result = run_cli(tmp_path, "tap-generic-api", config, stdout=subprocess.DEVNULL)
    assert result.returncode == 1
    assert "NEVERLOG" not in result.stderr
    assert f"*** is not of type 'object', 'null' in config['{key}']" in result.stderr


def test_a_header_holding_a_line_break_is_a_config_error_that_never_shows_it(tmp_path):
    config = {"url": API, "destination": {"table": "items"}, "headers": {"Authorization": "Bearer NEVERLOG\r\nX: y"}}
    result = run_cli(tmp_path, "tap-generic-api", config, stdout=subprocess.DEVNULL)
    assert result.returncode == 1
    assert "NEVERLOG" not in result.stderr
    assert "Traceback" not in result.stderr
    assert (
        "config.headers.Authorization holds a line break or NUL character, which no HTTP header can carry."
        in result.stderr
    )
