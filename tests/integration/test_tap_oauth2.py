"""OAuth2: one token for all streams, renewal, the token endpoint's errors and outages."""

from __future__ import annotations

import datetime

import pytest
from helpers import API, FAST, bearer_tap, extract
from helpers import BEARER_SECRET as SECRET

from tap_generic_api.tap import TapGenericAPI

TOKEN_URL = "https://auth.example.com/oauth/token"


def _oauth_config(**auth):
    return {
        "auth": {"type": "oauth2", "token_url": TOKEN_URL, "client_id": "cid", "client_secret": SECRET, **auth},
        "secrets": {},
        "streams": [
            {"url": "https://api.example.com/a", "destination": {"table": "a"}},
            {"url": "https://api.example.com/b", "destination": {"table": "b"}},
        ],
        "rate_limit": FAST,
    }


def test_oauth2_client_credentials_one_token_for_all_streams(requests_mock):
    token = requests_mock.post(TOKEN_URL, json={"access_token": "at-1", "expires_in": 3600})
    requests_mock.get("https://api.example.com/a", json=[{"id": 1}])
    requests_mock.get("https://api.example.com/b", json=[{"id": 2}])
    tap = TapGenericAPI(config=_oauth_config(scopes="read write"), parse_env_config=False)
    extract(tap, "a")
    extract(tap, "b")
    extract(tap, "a")
    assert token.call_count == 1
    form = dict(pair.split("=") for pair in token.last_request.text.split("&"))
    assert form["grant_type"] == "client_credentials"
    assert form["client_id"] == "cid"
    assert form["scope"] == "read+write"
    api_calls = [r for r in requests_mock.request_history if r.url != TOKEN_URL]
    assert {r.headers["Authorization"] for r in api_calls} == {"Bearer at-1"}


def test_oauth2_refresh_token_grant_renews_once_on_401(requests_mock):
    token = requests_mock.post(
        TOKEN_URL,
        [
            {"json": {"access_token": "at-1", "expires_in": 3600}},
            {"json": {"access_token": "at-2", "expires_in": 3600, "refresh_token": "rt-2"}},
        ],
    )
    api = requests_mock.get("https://api.example.com/a", [{"status_code": 401}, {"json": [{"id": 1}]}])
    config = _oauth_config(refresh_token="rt-1")
    config["auth"].pop("client_secret")
    config["auth"]["client_id"] = None
    tap = TapGenericAPI(config=config, parse_env_config=False)
    assert extract(tap, "a") == [{"id": 1}]
    assert token.call_count == 2
    assert "grant_type=refresh_token" in token.request_history[0].text
    assert "refresh_token=rt-1" in token.request_history[0].text
    assert [r.headers["Authorization"] for r in api.request_history] == ["Bearer at-1", "Bearer at-2"]


def test_oauth2_token_expiring_within_margin_is_renewed(requests_mock):
    token = requests_mock.post(
        TOKEN_URL,
        [
            {"json": {"access_token": "at-1", "expires_in": 30}},
            {"json": {"access_token": "at-2", "expires_in": 3600}},
        ],
    )
    requests_mock.get("https://api.example.com/a", json=[])
    tap = TapGenericAPI(config=_oauth_config(), parse_env_config=False)
    extract(tap, "a")
    extract(tap, "a")  # 30 s lifetime minus a 3 s margin: still fine
    assert token.call_count == 1
    auth = tap.streams["a"].authenticator
    auth.last_refreshed -= datetime.timedelta(seconds=28)
    extract(tap, "a")
    assert token.call_count == 2


def test_oauth2_plain_token_is_a_bearer_token(requests_mock):
    requests_mock.get(API, json=[])
    extract(bearer_tap(auth={"type": "oauth2", "provider": "VENDOR"}))
    assert requests_mock.last_request.headers["Authorization"] == f"Bearer {SECRET}"


def test_oauth2_token_endpoint_error_is_clear_and_masked(requests_mock):
    requests_mock.post(TOKEN_URL, status_code=400, json={"error": "invalid_client", "echo": SECRET})
    requests_mock.get("https://api.example.com/a", json=[])
    tap = TapGenericAPI(config=_oauth_config(), parse_env_config=False)
    with pytest.raises(Exception, match="OAuth2 token request to .* failed with status 400") as info:
        extract(tap, "a")
    assert SECRET not in str(info.value)


def test_oauth2_token_endpoint_outage_is_retried_like_a_request(requests_mock, sleeps):
    token = requests_mock.post(
        TOKEN_URL,
        [{"status_code": 503, "text": "down"}, {"json": {"access_token": "at-1", "expires_in": 3600}}],
    )
    requests_mock.get("https://api.example.com/a", json=[{"id": 1}])
    tap = TapGenericAPI(config=_oauth_config(), parse_env_config=False)
    assert extract(tap, "a") == [{"id": 1}]
    assert token.call_count == 2
    assert sleeps == [1.0]


def test_oauth2_token_endpoint_down_for_good_gives_up_with_the_status(requests_mock, sleeps):
    requests_mock.post(TOKEN_URL, status_code=502, text="bad gateway")
    requests_mock.get("https://api.example.com/a", json=[])
    tap = TapGenericAPI(config=_oauth_config(), parse_env_config=False)
    with pytest.raises(Exception, match=r"OAuth2 token request to .* failed with status 502.*gave up after 4 attempts"):
        extract(tap, "a")
    assert sleeps == [1.0, 2.0, 4.0]
