"""A configured key the chosen type does not use is refused at config time, naming it (issue 14, item 2)."""

from __future__ import annotations

import json
import subprocess

import pytest
from helpers import API, BIN

from plugin_kit.errors import ConfigError
from tap_generic_api.tap import TapGenericAPI


def _streams(**config):
    base = {"url": API, "destination": {"table": "items"}, "secrets": {"vendor": "k"}}
    base.update(config)
    return TapGenericAPI(config=base, parse_env_config=False).streams


def _error(**config) -> str:
    with pytest.raises(ConfigError) as info:
        _streams(**config)
    return str(info.value)


@pytest.mark.parametrize(
    ("pagination", "key", "hint"),
    [
        ({"param": "after"}, "param", "set pagination.type (cursor, offset or page) to page with it"),
        ({"response_path": "next"}, "response_path", "set pagination.type to cursor or link"),
        ({"limit": 100}, "limit", "records past the limit would never be read"),
        ({"limit_param": "per_page"}, "limit_param", "set pagination.type and limit"),
        ({"location": "query"}, "location", "sends no page token"),
        ({"max_pages": 5}, "max_pages", "remove max_pages or set pagination.type"),
        ({"max_concurrency": 2}, "max_concurrency", "remove max_concurrency"),
    ],
)
def test_type_none(pagination, key, hint):
    message = _error(pagination={"type": "none", **pagination})
    assert message.startswith(f"config.pagination.{key} has no effect here: with pagination type 'none', ")
    assert hint in message


def test_no_pagination_block_is_type_none():
    assert _error(pagination={"limit": 100}).startswith("config.pagination.limit has no effect here")


@pytest.mark.parametrize("kind", ["offset", "page"])
def test_numbered_types_refuse_a_response_path(kind):
    message = _error(pagination={"type": kind, "response_path": "meta.next"})
    assert message == (
        f"config.pagination.response_path has no effect here: with pagination type '{kind}', "
        f"{'offsets' if kind == 'offset' else 'page numbers'} come from the tap, not from the body; for a cursor or "
        "next URL in the body use type cursor or link."
    )


@pytest.mark.parametrize("kind", ["offset", "page"])
def test_numbered_types_without_a_limit_refuse_max_concurrency_and_limit_param(kind):
    assert _error(pagination={"type": kind, "max_concurrency": 8}) == (
        "config.pagination.max_concurrency has no effect here: pages are fetched ahead only when their size is "
        "known; set pagination.limit."
    )
    assert _error(pagination={"type": kind, "limit_param": "size"}) == (
        "config.pagination.limit_param has no effect here: it names the page size parameter; set pagination.limit too."
    )


@pytest.mark.parametrize(("key", "value"), [("param", "after"), ("location", "query"), ("max_concurrency", 2)])
def test_link_refuses_keys_it_does_not_use(key, value):
    message = _error(pagination={"type": "link", key: value})
    assert message.startswith(f"config.pagination.{key} has no effect here: with pagination type 'link', ")


def test_cursor_refuses_max_concurrency_without_date_windows():
    message = _error(pagination={"type": "cursor", "param": "c", "response_path": "n", "max_concurrency": 2})
    assert message.startswith("config.pagination.max_concurrency has no effect here: with pagination type 'cursor'")


@pytest.mark.parametrize(
    "pagination",
    [
        {"type": "cursor", "param": "c", "response_path": "n", "limit": 5, "limit_param": "n", "max_pages": 3},
        {"type": "offset", "param": "o", "limit": 5, "limit_param": "l", "max_pages": 3, "max_concurrency": 2},
        {"type": "page", "param": "p", "limit": 5, "max_concurrency": 1},
        {"type": "link", "response_path": "next", "limit": 5, "limit_param": "per_page", "max_pages": 3},
        {"type": "link"},
        {"type": "none"},
    ],
)
def test_keys_each_type_uses_are_accepted(pagination):
    assert list(_streams(pagination=pagination)) == ["items"]


def test_max_concurrency_counts_date_windows_for_every_type():
    streams = _streams(
        url=API + "?from={start_date}&to={end_date}",
        start_date="2024-01-01",
        date_window_size=7,
        pagination={"type": "none", "max_concurrency": 2},
    )
    assert list(streams) == ["items"]


@pytest.mark.parametrize(
    ("auth", "key", "hint"),
    [
        ({"type": "bearer", "header_name": "X-Key"}, "header_name", "set auth.type to header"),
        ({"type": "query", "header_name": "X-Key"}, "header_name", "set auth.type to header"),
        ({"type": "header", "param_name": "key"}, "param_name", "set auth.type to query"),
        ({"type": "basic", "param_name": "key"}, "param_name", "set auth.type to query"),
        ({"type": "bearer", "token_url": "https://a/t"}, "token_url", "set auth.type to oauth2"),
        ({"type": "header", "client_id": "c"}, "client_id", "set auth.type to oauth2"),
        ({"type": "oauth2", "scopes": "read"}, "scopes", "set auth.token_url"),
        ({"type": "oauth2", "client_id": "c"}, "client_id", "set auth.token_url"),
        (
            {"type": "oauth2", "token_url": "https://a/t", "grant_type": "client_credentials", "refresh_token": "r"},
            "refresh_token",
            "set auth.grant_type to refresh_token",
        ),
    ],
)
def test_auth_keys_of_another_type(auth, key, hint):
    message = _error(auth={"provider": "VENDOR", **auth})
    assert message.startswith(f"config.auth.{key} has no effect here: ")
    assert message.endswith(f"{hint}.")


@pytest.mark.parametrize(
    "auth",
    [
        {"type": "header", "header_name": "X-Key"},
        {"type": "query", "param_name": "key"},
        {"type": "oauth2", "token_url": "https://a/t", "client_id": "c", "client_secret": "s", "scopes": "r"},
        {"type": "oauth2", "token_url": "https://a/t", "client_id": "c", "refresh_token": "r"},
    ],
)
def test_auth_keys_of_the_type_are_accepted(auth):
    assert list(_streams(auth={"provider": "VENDOR", **auth})) == ["items"]


@pytest.mark.parametrize("key", ["retry_on_429", "max_retry_wait"])
def test_retry_settings_with_no_retries(key):
    value = {"retry_on_429": False, "max_retry_wait": 10}[key]
    assert _error(rate_limit={"max_retries": 0, key: value}) == (
        f"config.rate_limit.{key} has no effect here: rate_limit.max_retries is 0, so nothing is retried; raise "
        "max_retries or remove it."
    )


def test_start_date_without_anything_that_uses_it():
    assert _error(start_date="2024-01-01").startswith(
        "config.start_date has no effect here: it is where an incremental run starts, and the stream has no "
        "replication_key"
    )
    assert list(_streams(start_date="2024-01-01", params={"since": "{start_date}"})) == ["items"]
    assert list(_streams(start_date="2024-01-01", replication_key="updated")) == ["items"]


@pytest.mark.parametrize(
    "key", ["kms_key_name", "bigquery_api_endpoint", "kms_api_endpoint", "google_credentials_path"]
)
def test_credentials_table_settings_without_credentials_table(key):
    assert _error(**{key: "x"}) == (
        f"config.{key} has no effect here: it serves the credentials lookup in credentials_table, which is not "
        "set; set credentials_table, or remove it."
    )


def test_a_stream_changing_the_type_is_not_held_to_the_defaults_keys():
    streams = _streams(
        pagination={"type": "cursor", "param": "after", "response_path": "next"},
        streams=[{"destination": {"table": "a"}}, {"destination": {"table": "b"}, "pagination": {"type": "none"}}],
    )
    assert list(streams) == ["a", "b"]


def test_a_stream_keeping_the_defaults_type_is_checked_with_its_own_keys():
    message = _error(
        pagination={"type": "link"},
        streams=[{"destination": {"table": "a"}}, {"destination": {"table": "b"}, "pagination": {"param": "p"}}],
    )
    assert message.startswith("streams[1].pagination.param has no effect here: with pagination type 'link'")


def test_a_key_inherited_from_the_defaults_is_named_where_it_is_written():
    message = _error(
        pagination={"type": "link", "param": "p"},
        streams=[{"destination": {"table": "a"}}],
    )
    assert message.startswith(
        "config.pagination.param has no effect here (the default for streams[0]): with pagination type 'link'"
    )


def test_a_key_the_type_does_not_use_fails_the_cli_before_any_request(tmp_path, httpserver):
    config = {
        "url": httpserver.url_for("/v1/items"),
        "destination": {"table": "items"},
        "pagination": {"type": "link", "param": "page"},
    }
    path = tmp_path / "tap.json"
    path.write_text(json.dumps(config))
    result = subprocess.run(
        [str(BIN / "tap-generic-api"), "--config", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1
    assert "config.pagination.param has no effect here: with pagination type 'link', the next URL is requested" in (
        result.stderr
    )
    assert httpserver.log == []
    assert result.stdout == ""
