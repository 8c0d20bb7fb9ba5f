"""Config keys the chosen type does not use are refused, never silently ignored.

Each block's keys are checked against what its ``type`` (and the stream's other settings)
make of them: ``pagination.param`` with ``type: none``, ``auth.header_name`` with
``type: bearer``, ``pagination.limit_param`` without a ``limit``... Each error names the key
and what to do instead. Keys a stream inherits from top-level defaults are checked only when
the stream does not set the block's ``type`` itself (a stream that changes the type is not
held to keys written for the defaults' type).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugin_kit.errors import ConfigError
from plugin_kit.redact import strings_in
from tap_generic_api import templating
from tap_generic_api.config.models import StreamConfig
from tap_generic_api.config.settings import STREAM_KEYS

_ONE_REQUEST = "type 'none' makes one request"
_AHEAD = (
    "pages are fetched ahead only for offset and page pagination with a limit, and date windows "
    "(date_window_size) are fetched at once up to it; remove max_concurrency"
)
#: pagination type -> key -> what to do instead (keys not listed are used by the type).
PAGINATION_UNUSED: dict[str, dict[str, str]] = {
    "none": {
        "param": f"{_ONE_REQUEST}; set pagination.type (cursor, offset or page) to page with it, or put a fixed "
        "value in params",
        "response_path": f"{_ONE_REQUEST}; set pagination.type to cursor or link to follow the next cursor or URL",
        "limit": f"{_ONE_REQUEST}, so records past the limit would never be read; set pagination.type to page "
        "through them, or put the parameter in params if the API sends everything at once",
        "limit_param": f"{_ONE_REQUEST}; set pagination.type and limit, or put the parameter in params",
        "location": f"{_ONE_REQUEST} and sends no page token; remove location",
        "max_pages": f"{_ONE_REQUEST}; remove max_pages or set pagination.type",
    },
    "cursor": {},
    "offset": {
        "response_path": "offsets come from the tap, not from the body; for a cursor or next URL in the body use "
        "type cursor or link",
    },
    "page": {
        "response_path": "page numbers come from the tap, not from the body; for a cursor or next URL in the "
        "body use type cursor or link",
    },
    "link": {
        "param": "the next URL is requested as given; remove param (for a cursor in the body use type cursor)",
        "location": "the next URL is requested as given and the page size goes into the first URL's query; "
        "remove location",
    },
}
#: Top-level keys used only by the credentials_table lookup.
CREDENTIALS_TABLE_KEYS = ("kms_key_name", "bigquery_api_endpoint", "kms_api_endpoint", "google_credentials_path")
_OAUTH2_KEYS = ("token_url", "grant_type", "client_id", "client_secret", "refresh_token", "scopes")


def check_unused_keys(config: Mapping[str, Any], streams: list[StreamConfig]) -> None:
    """Raise a :class:`ConfigError` for the first key a stream's settings leave unused.

    Args:
        config: The whole tap config (plain numbers).
        streams: The parsed streams, in config order (``index`` into ``config['streams']``).

    Raises:
        ConfigError: Names ``<stream>.<block>.<key>``, why it has no effect, and what to do instead.
    """
    if not config.get("credentials_table"):
        for key in CREDENTIALS_TABLE_KEYS:
            if config.get(key):
                msg = (
                    f"config.{key} has no effect here: it serves the credentials lookup in credentials_table, "
                    "which is not set; set credentials_table, or remove it."
                )
                raise ConfigError(msg)
    defaults = {key: value for key, value in config.items() if key in STREAM_KEYS}
    raw_streams = config.get("streams") or []
    for stream in streams:
        own = raw_streams[stream.index] if stream.index is not None else defaults
        inherited = defaults if stream.index is not None else {}
        _check_pagination(stream, _keys(stream, own, inherited, "pagination"))
        _check_auth(stream, _keys(stream, own, inherited, "auth"))
        _check_rate_limit(stream, _keys(stream, own, inherited, "rate_limit"))
        if "start_date" in own:
            _check_start_date(stream)


def _keys(stream: StreamConfig, own: Mapping[str, Any], inherited: Mapping[str, Any], block: str) -> dict[str, str]:
    """Return the keys of ``block`` written for this stream's type of it -> where they are written."""
    own_block = own.get(block) or {}
    keys = {}
    if "type" not in own_block:
        keys = {key: f"config (the default for {stream.where})" for key in inherited.get(block) or {}}
    keys.update({key: stream.where for key in own_block})
    return keys


def _refuse(where: str, key: str, why: str) -> ConfigError:
    return ConfigError(f"{where.split(' ', 1)[0]}.{key} has no effect here{_for(where)}: {why}.")


def _for(where: str) -> str:
    """Return `` (the default for streams[1])`` for a key inherited from the top level, else ``""``."""
    return f" {where.split(' ', 1)[1]}" if " " in where else ""


def _check_pagination(stream: StreamConfig, keys: dict[str, str]) -> None:
    pagination = stream.pagination
    for key, why in PAGINATION_UNUSED[pagination.type].items():
        if key in keys:
            raise _refuse(keys[key], f"pagination.{key}", f"with pagination type '{pagination.type}', {why}")
    if "limit_param" in keys and pagination.limit is None and pagination.type != "none":
        why = "it names the page size parameter; set pagination.limit too"
        raise _refuse(keys["limit_param"], "pagination.limit_param", why)
    fetched_ahead = pagination.type in ("offset", "page") and pagination.limit is not None
    # A child stream fetches the children of up to max_concurrency parents at once.
    if "max_concurrency" in keys and not fetched_ahead and not stream.date_window_size and not stream.parent:
        if pagination.type in ("offset", "page"):
            why = "pages are fetched ahead only when their size is known; set pagination.limit"
        else:
            why = f"with pagination type '{pagination.type}', {_AHEAD}"
        raise _refuse(keys["max_concurrency"], "pagination.max_concurrency", why)


def _check_auth(stream: StreamConfig, keys: dict[str, str]) -> None:
    auth = stream.auth
    if auth is None:
        return
    if "header_name" in keys and auth.type != "header":
        why = f"it is the header of auth type 'header' (type is '{auth.type}'); set auth.type to header"
        raise _refuse(keys["header_name"], "auth.header_name", why)
    if "param_name" in keys and auth.type != "query":
        why = f"it is the query parameter of auth type 'query' (type is '{auth.type}'); set auth.type to query"
        raise _refuse(keys["param_name"], "auth.param_name", why)
    for key in _OAUTH2_KEYS:
        if key not in keys:
            continue
        if auth.type != "oauth2":
            why = f"it is an OAuth2 token grant setting (auth type is '{auth.type}'); set auth.type to oauth2"
            raise _refuse(keys[key], f"auth.{key}", why)
        if auth.oauth2 is None:
            why = "without auth.token_url the secret is used as a ready token and no grant runs; set auth.token_url"
            raise _refuse(keys[key], f"auth.{key}", why)
        if key == "refresh_token" and auth.oauth2.grant_type == "client_credentials":
            why = "the client_credentials grant sends no refresh token; set auth.grant_type to refresh_token"
            raise _refuse(keys["refresh_token"], "auth.refresh_token", why)


def _check_rate_limit(stream: StreamConfig, keys: dict[str, str]) -> None:
    if stream.rate_limit.max_retries != 0:
        return
    for key in ("retry_on_429", "max_retry_wait"):
        if key in keys:
            why = "rate_limit.max_retries is 0, so nothing is retried; raise max_retries or remove it"
            raise _refuse(keys[key], f"rate_limit.{key}", why)


def _check_start_date(stream: StreamConfig) -> None:
    if stream.replication_key or stream.date_window_size:
        return
    templates = [stream.url, *map(str, stream.params.values()), *map(str, stream.headers.values())]
    templates += list(strings_in(stream.body))
    used = {name for template in templates for name in templating.placeholders(template)}
    if used & set(templating.INCREMENTAL_VARIABLES):
        return
    why = (
        "it is where an incremental run starts, and the stream has no replication_key, no date_window_size and "
        "no {start_date} or {bookmark} in its url, params, headers or body; set replication_key, or use the "
        "variable in the request"
    )
    raise _refuse(stream.where, "start_date", why)
