"""Stream configs: the seed's step ``config`` block, merged with top-level defaults and checked.

A tap config is either one seed block (``url``, ``destination``, ``auth``, ``pagination``, ...)
or a ``streams`` list of such blocks, where top-level keys are defaults for every stream
(mappings such as ``params`` and ``headers`` are merged key by key). Everything is checked
here, before any request, and every error names the stream and the key.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from plugin_kit.errors import ConfigError
from tap_generic_api.http.retries import RETRY_STATUSES
from tap_generic_api.settings import (
    AUTH_TYPES,
    METHODS,
    NESTED_KEYS,
    OAUTH2_GRANTS,
    PAGINATION_LOCATIONS,
    PAGINATION_TYPES,
    STREAM_KEYS,
    default,
)
from tap_generic_api.templating import is_number
from tap_generic_api.windows import MIN_WINDOW_DAYS

#: Seed keys accepted by the schema whose behaviour is not built yet. They fail loudly
#: rather than being silently ignored.
NOT_SUPPORTED_YET: dict[str, str] = {}
#: Seed keys the target applies; the tap accepts them so the seed's block works unchanged.
TARGET_SIDE_KEYS = ("transform",)

DEFAULT_TIMEOUT_SECONDS: float = default("timeout")
DEFAULT_MAX_PAGES: int = default("pagination", "max_pages")
DEFAULT_REQUESTS_PER_SECOND: float = default("rate_limit", "requests_per_second")
DEFAULT_MAX_RETRIES: int = default("rate_limit", "max_retries")
DEFAULT_MAX_RETRY_WAIT_SECONDS: float = default("rate_limit", "max_retry_wait")
#: Lowest and highest HTTP error status (RFC 9110 section 15: 4xx client, 5xx server).
ERROR_STATUSES = (400, 599)
DEFAULT_MAX_CONCURRENCY: int = default("pagination", "max_concurrency")


@dataclass(frozen=True)
class RateLimitConfig:
    """The ``rate_limit`` block of one stream (the seed's defaults).

    Attributes:
        requests_per_second: Most requests per second, shared by every stream with the same
            value; never more in any second (see :mod:`tap_generic_api.http.ratelimit`).
        retry_on_429: Retry a 429 answer (after ``Retry-After``); False fails at once.
        max_retries: Retries after the first attempt, for 429, 5xx, timeouts and connection errors.
        max_retry_wait: Longest wait in seconds the tap accepts; a longer ``Retry-After`` is
            an error rather than a silent hang.
        retry_statuses: HTTP statuses retried (default :data:`tap_generic_api.http.retries.RETRY_STATUSES`).
    """

    requests_per_second: float = DEFAULT_REQUESTS_PER_SECOND
    retry_on_429: bool = True
    max_retries: int = DEFAULT_MAX_RETRIES
    max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT_SECONDS
    retry_statuses: frozenset[int] = RETRY_STATUSES


@dataclass(frozen=True)
class OAuth2Config:
    """Token grant settings of ``auth.type: oauth2`` (absent: the secret is a ready token).

    Attributes:
        grant_type: ``client_credentials`` or ``refresh_token``.
        token_url: Token endpoint.
        client_id: Client id.
        client_secret: Client secret (may come from the resolved credential instead).
        refresh_token: Refresh token for the ``refresh_token`` grant.
        scopes: Space-separated scopes, or None.
    """

    grant_type: str
    token_url: str
    client_id: str | None = None
    client_secret: str | None = None
    refresh_token: str | None = None
    scopes: str | None = None


@dataclass(frozen=True)
class AuthConfig:
    """The ``auth`` block of one stream.

    Attributes:
        type: One of :data:`AUTH_TYPES`.
        provider: Provider name (``HUBSPOT``); secrets are looked up under its lower-case form.
        secret_key: A key of config ``secrets`` holding the credential.
        header_name: Header for ``type: header`` (default ``X-API-Key``).
        param_name: Query parameter for ``type: query`` (default ``api_key``).
    """

    type: str
    provider: str | None = None
    secret_key: str | None = None
    header_name: str = "X-API-Key"
    param_name: str = "api_key"
    oauth2: OAuth2Config | None = None


@dataclass(frozen=True)
class PaginationConfig:
    """The ``pagination`` block of one stream.

    Attributes:
        type: One of :data:`PAGINATION_TYPES`.
        param: Query parameter carrying the cursor, offset or page number.
        response_path: Dotted path to the next cursor or next URL; ``""`` for a
            ``link`` paginator means the RFC 8288 ``Link`` header.
        limit: Page size in records, or None to let the API decide.
        limit_param: Query parameter carrying ``limit``.
        max_pages: Safety stop: most pages requested for one stream in one run.
        location: Where the token and page size go: ``query`` parameters or the JSON ``body``.
        max_concurrency: Most pages fetched at once (offset and page pagination with a ``limit``);
            how many is tuned while the stream runs (:mod:`plugin_kit.concurrency`). With
            ``date_window_size``, the most date windows fetched at once.
    """

    type: str = "none"
    param: str | None = None
    response_path: str = ""
    limit: int | None = None
    limit_param: str = "limit"
    max_pages: int = DEFAULT_MAX_PAGES
    location: str = "query"
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY


@dataclass(frozen=True)
class StreamConfig:
    """Everything needed to extract one stream, checked.

    Attributes:
        name: Stream name (``name`` or ``destination.table``).
        index: Position in ``streams`` (None for a single top-level stream), for messages.
        url: URL template.
        method: HTTP method.
        data_path: Dotted path to the records in each response body.
        timeout: Request timeout in seconds.
        params: Query parameter templates.
        headers: Header templates.
        auth: Auth block, or None for an API without auth.
        pagination: Pagination block.
        key_fields: ``destination.key_fields``, the stream's key properties.
        batch_size: ``destination.batch_size`` (rows), a hint for the target.
        body: JSON body template for POST requests.
        rate_limit: Rate limit and retry settings.
        allowed_hosts: Hosts besides the configured URL's that next links may point to.
        replication_key: Record field whose greatest value is the stream's bookmark.
        start_date: Where the first incremental run starts: ISO-8601, or a number for a
            numeric replication key.
        date_window_size: Days per date window, or None for one request sequence from the
            start to the run's start (see :mod:`tap_generic_api.windows`).
        is_sorted: The API returns records in replication-key order, so the bookmark
            advances during the run and an interrupted run resumes where it stopped.
        schema: The stream's own JSON schema, or None.
        infer_schema: Infer the schema from records sampled from the first pages.
    """

    name: str
    index: int | None
    url: str
    method: str = "GET"
    data_path: str = ""
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    params: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, Any] = field(default_factory=dict)
    auth: AuthConfig | None = None
    pagination: PaginationConfig = field(default_factory=PaginationConfig)
    key_fields: tuple[str, ...] = ()
    batch_size: int | None = None
    body: Any = None
    rate_limit: RateLimitConfig = field(default_factory=RateLimitConfig)
    allowed_hosts: tuple[str, ...] = ()
    replication_key: str | None = None
    start_date: str | int | float | None = None
    date_window_size: float | None = None
    is_sorted: bool = False
    schema: Mapping[str, Any] | None = None
    infer_schema: bool = False

    @property
    def where(self) -> str:
        """Config location of this stream for error messages: ``streams[2]`` or ``config``."""
        return f"streams[{self.index}]" if self.index is not None else "config"


def deep_merge(defaults: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``defaults`` updated with ``override``; nested mappings merge key by key."""
    merged = copy.deepcopy(dict(defaults))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def stream_blocks(config: Mapping[str, Any]) -> list[tuple[int | None, dict[str, Any]]]:
    """Split a tap config into per-stream blocks with top-level defaults applied.

    Args:
        config: The whole tap config.

    Returns:
        ``[(index, block)]``; index is None when the config is a single top-level block.

    Raises:
        ConfigError: ``streams`` is not a non-empty list of objects.
    """
    defaults = {k: v for k, v in config.items() if k in STREAM_KEYS}
    streams = config.get("streams")
    if streams is None:
        return [(None, defaults)]
    if not isinstance(streams, list) or not streams:
        msg = "Config key 'streams' must be a non-empty list of stream objects."
        raise ConfigError(msg)
    blocks = []
    for index, block in enumerate(streams):
        if not isinstance(block, Mapping):
            msg = f"streams[{index}] must be an object, got {type(block).__name__}."
            raise ConfigError(msg)
        unknown = sorted(set(block) - STREAM_KEYS)
        if unknown:
            msg = f"streams[{index}]: unknown key(s) {unknown}. Valid stream keys: {sorted(STREAM_KEYS)}."
            raise ConfigError(msg)
        blocks.append((index, deep_merge(defaults, block)))
    return blocks


def unknown_key_error(where: str, unknown: list[str], valid: Iterable[str]) -> ConfigError:
    """Build the error for misspelt or unsupported keys, suggesting the closest valid key."""
    valid = sorted(valid)
    hints = []
    for key in unknown:
        close = difflib.get_close_matches(key, valid, n=1)
        hints.append(f"'{key}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
    msg = f"{where}: unknown key(s) {', '.join(hints)}. Valid keys: {', '.join(valid)}."
    return ConfigError(msg)


def _require_mapping(block: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = block.get(key) or {}
    if not isinstance(value, Mapping):
        msg = f"{where}.{key} must be an object, got {type(value).__name__}."
        raise ConfigError(msg)
    if key in NESTED_KEYS:
        unknown = sorted(set(value) - NESTED_KEYS[key])
        if unknown:
            msg_0 = f"{where}.{key}"
            raise unknown_key_error(msg_0, unknown, NESTED_KEYS[key])
    return value


def _headers(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Return the ``headers`` block; a name or value an HTTP header cannot carry is a ConfigError.

    HTTP/1.1 headers are Latin-1 at most (RFC 9110 section 5.5); http.client would fail
    inside the first request. The value is not quoted: it may be a credential.
    """
    headers = dict(_require_mapping(block, "headers", where))
    for name, value in headers.items():
        try:
            str(name).encode("ascii")
            str(value).encode("latin-1")
        except UnicodeEncodeError:
            msg = (
                f"{where}.headers.{name} holds characters an HTTP header cannot carry (names: ASCII; values: "
                "Latin-1); look for a stray character such as a typographic quote."
            )
            raise ConfigError(msg) from None
    return headers


def _string_list(value: Any, where: str, what: str) -> list[str]:
    """Return ``value`` as a list of strings (missing or empty: ``[]``); else a ConfigError naming ``where``."""
    value = value or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        msg = f"{where} must be a list of {what}, got {value!r}."
        raise ConfigError(msg)
    return value


def _positive_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        msg = f"{where} must be a positive integer, got {value!r}."
        raise ConfigError(msg)
    return value


def _choice(value: Any, choices: tuple[str, ...], where: str) -> str:
    if value not in choices:
        msg = f"{where}: invalid value {value!r}. Valid values: {', '.join(choices)}."
        raise ConfigError(msg)
    return str(value)


def _parse_auth(raw: Mapping[str, Any], where: str) -> AuthConfig | None:
    if not raw:
        return None
    auth_type = _choice(raw.get("type", "bearer"), AUTH_TYPES, f"{where}.auth.type")
    oauth2 = _parse_oauth2(raw, where) if auth_type == "oauth2" else None
    provider = raw.get("provider")
    secret_key = raw.get("secret_key")
    # An OAuth2 grant may carry its secrets in the auth block; oauth2_secrets() checks them.
    if not provider and not secret_key and oauth2 is None:
        msg = (
            f"{where}.auth needs 'provider' (looked up in config 'secrets' as "
            "'<provider lower-case>' or '<provider lower-case>_api_key') or 'secret_key'."
        )
        raise ConfigError(msg)
    return AuthConfig(
        type=auth_type,
        provider=str(provider) if provider else None,
        secret_key=str(secret_key) if secret_key else None,
        header_name=str(raw.get("header_name") or "X-API-Key"),
        param_name=str(raw.get("param_name") or "api_key"),
        oauth2=oauth2,
    )


def _parse_oauth2(raw: Mapping[str, Any], where: str) -> OAuth2Config | None:
    """Return the token-grant settings, or None when no grant key is set (a ready token)."""
    if not raw.get("token_url") and not raw.get("grant_type"):
        return None
    token_url = raw.get("token_url")
    if not isinstance(token_url, str) or not token_url.startswith(("http://", "https://")):
        msg = f"{where}.auth.token_url is required for OAuth2 token grants: the token endpoint URL."
        raise ConfigError(msg)
    default_grant = "refresh_token" if raw.get("refresh_token") else "client_credentials"
    grant = _choice(raw.get("grant_type", default_grant), OAUTH2_GRANTS, f"{where}.auth.grant_type")
    scopes = raw.get("scopes")
    if isinstance(scopes, list):
        scopes = " ".join(str(x) for x in scopes)
    return OAuth2Config(
        grant_type=grant,
        token_url=token_url,
        client_id=raw.get("client_id"),
        client_secret=raw.get("client_secret"),
        refresh_token=raw.get("refresh_token"),
        scopes=scopes or None,
    )


def _positive_number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        msg = f"{where} must be a positive number, got {value!r}."
        raise ConfigError(msg)
    return float(value)


def _parse_rate_limit(raw: Mapping[str, Any], where: str) -> RateLimitConfig:
    where = f"{where}.rate_limit"
    retry_on_429 = raw.get("retry_on_429", True)
    if not isinstance(retry_on_429, bool):
        msg = f"{where}.retry_on_429 must be true or false, got {retry_on_429!r}."
        raise ConfigError(msg)
    max_retries = raw.get("max_retries", DEFAULT_MAX_RETRIES)
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        msg = f"{where}.max_retries must be an integer >= 0, got {max_retries!r}."
        raise ConfigError(msg)
    retry_statuses = raw.get("retry_statuses", sorted(RETRY_STATUSES))
    if not isinstance(retry_statuses, list) or not all(
        isinstance(s, int) and not isinstance(s, bool) and ERROR_STATUSES[0] <= s <= ERROR_STATUSES[1]
        for s in retry_statuses
    ):
        msg = (
            f"{where}.retry_statuses must be a list of HTTP error statuses (integers 400 to 599), "
            f"got {retry_statuses!r}."
        )
        raise ConfigError(msg)
    return RateLimitConfig(
        requests_per_second=_positive_number(
            raw.get("requests_per_second", DEFAULT_REQUESTS_PER_SECOND), f"{where}.requests_per_second"
        ),
        retry_on_429=retry_on_429,
        max_retries=max_retries,
        max_retry_wait=_positive_number(
            raw.get("max_retry_wait", DEFAULT_MAX_RETRY_WAIT_SECONDS), f"{where}.max_retry_wait"
        ),
        retry_statuses=frozenset(retry_statuses),
    )


_DEFAULT_PARAM = {"offset": "offset", "page": "page"}


def _parse_pagination(raw: Mapping[str, Any], where: str) -> PaginationConfig:
    where = f"{where}.pagination"
    kind = _choice(raw.get("type", "none"), PAGINATION_TYPES, f"{where}.type")
    param = raw.get("param") or _DEFAULT_PARAM.get(kind)
    response_path = raw.get("response_path")
    if response_path is not None and not isinstance(response_path, str):
        msg = f"{where}.response_path must be a dotted path string, got {response_path!r}."
        raise ConfigError(msg)
    if kind == "cursor":
        if not param:
            msg = f"{where}.param is required for cursor pagination (for example 'after')."
            raise ConfigError(msg)
        if not response_path:
            msg = f"{where}.response_path is required for cursor pagination (for example 'meta.next_cursor')."
            raise ConfigError(msg)
    limit = raw.get("limit")
    if limit is not None:
        limit = _positive_int(limit, f"{where}.limit")
    max_pages = _positive_int(raw.get("max_pages", DEFAULT_MAX_PAGES), f"{where}.max_pages")
    location = _choice(raw.get("location", "query"), PAGINATION_LOCATIONS, f"{where}.location")
    max_concurrency = _positive_int(raw.get("max_concurrency", DEFAULT_MAX_CONCURRENCY), f"{where}.max_concurrency")
    return PaginationConfig(
        type=kind,
        param=str(param) if param else None,
        response_path=response_path or "",
        limit=limit,
        limit_param=str(raw.get("limit_param") or "limit"),
        max_pages=max_pages,
        location=location,
        max_concurrency=max_concurrency,
    )


def parse_stream(index: int | None, block: Mapping[str, Any]) -> StreamConfig:
    """Check one merged stream block and build its :class:`StreamConfig`.

    Args:
        index: Position in ``streams``, or None for a single top-level block.
        block: The merged block.

    Returns:
        The stream's config.

    Raises:
        ConfigError: A key is missing, has the wrong type or an invalid value, or asks for
            behaviour that is not supported yet.
    """
    where = f"streams[{index}]" if index is not None else "config"
    for key, what in NOT_SUPPORTED_YET.items():
        if block.get(key):
            msg = f"{where}.{key}: {what} are not supported yet. Remove '{key}' from the config to run without it."
            raise ConfigError(msg)

    url = block.get("url")
    if not isinstance(url, str) or not url.strip():
        msg = f"{where}.url is required: the API endpoint, for example 'https://api.example.com/v1/items'."
        raise ConfigError(msg)
    destination = _require_mapping(block, "destination", where)
    table = destination.get("table")
    name = block.get("name") or table
    if not isinstance(name, str) or not name.strip():
        msg = f"{where}.destination.table is required: the stream and table name."
        raise ConfigError(msg)

    key_fields = _string_list(destination.get("key_fields"), f"{where}.destination.key_fields", "field names")
    batch_size = destination.get("batch_size")
    if batch_size is not None:
        batch_size = _positive_int(batch_size, f"{where}.destination.batch_size")

    method = str(block.get("method") or "GET").upper()
    _choice(method, METHODS, f"{where}.method")
    data_path = block.get("data_path") or ""
    if not isinstance(data_path, str):
        msg = f"{where}.data_path must be a dotted path string ('' for the root), got {data_path!r}."
        raise ConfigError(msg)
    timeout = block.get("timeout", DEFAULT_TIMEOUT_SECONDS)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        msg = f"{where}.timeout must be a positive number of seconds, got {timeout!r}."
        raise ConfigError(msg)

    body = block.get("body")
    if body is not None and method != "POST":
        msg = f"{where}.body is only sent with method POST (method is {method})."
        raise ConfigError(msg)
    pagination = _parse_pagination(_require_mapping(block, "pagination", where), where)
    if pagination.location == "body" and method != "POST":
        msg = f"{where}.pagination.location 'body' needs method POST."
        raise ConfigError(msg)
    allowed_hosts = _string_list(block.get("allowed_hosts"), f"{where}.allowed_hosts", "host names")
    replication_key = block.get("replication_key")
    if replication_key is not None and (not isinstance(replication_key, str) or not replication_key):
        msg = f"{where}.replication_key must be a record field name, got {replication_key!r}."
        raise ConfigError(msg)
    start_date = block.get("start_date")
    if start_date is not None:
        start_date = _iso_datetime(start_date, f"{where}.start_date")
    date_window_size = block.get("date_window_size")
    if isinstance(date_window_size, str) and is_number(date_window_size):
        date_window_size = float(date_window_size)
    if date_window_size is not None:
        date_window_size = _positive_number(date_window_size, f"{where}.date_window_size")
        if date_window_size < MIN_WINDOW_DAYS:
            msg = (
                f"{where}.date_window_size is in days and must be at least one second "
                f"({MIN_WINDOW_DAYS:.8f}), got {date_window_size:g}."
            )
            raise ConfigError(msg)
        if start_date is None:
            msg = (
                f"{where}.date_window_size needs {where}.start_date: the windows run from the bookmark "
                "(else start_date) to the run's start."
            )
            raise ConfigError(msg)
    schema = block.get("schema")
    if schema is not None and (not isinstance(schema, Mapping) or not isinstance(schema.get("properties"), Mapping)):
        msg = f"{where}.schema must be a JSON schema object with 'properties'."
        raise ConfigError(msg)
    is_sorted = block.get("is_sorted", False)
    if not isinstance(is_sorted, bool):
        msg = f"{where}.is_sorted must be true or false, got {is_sorted!r}."
        raise ConfigError(msg)
    if is_sorted and not replication_key:
        msg = f"{where}.is_sorted needs a replication_key."
        raise ConfigError(msg)
    infer_schema = block.get("infer_schema", False)
    if not isinstance(infer_schema, bool):
        msg = f"{where}.infer_schema must be true or false, got {infer_schema!r}."
        raise ConfigError(msg)
    if schema is not None and infer_schema:
        msg = f"{where}: set either 'schema' or 'infer_schema', not both."
        raise ConfigError(msg)

    return StreamConfig(
        name=name,
        index=index,
        url=url.strip(),
        method=method,
        data_path=data_path,
        timeout=float(timeout),
        params=dict(_require_mapping(block, "params", where)),
        headers=_headers(block, where),
        auth=_parse_auth(_require_mapping(block, "auth", where), where),
        pagination=pagination,
        key_fields=tuple(key_fields),
        batch_size=batch_size,
        body=body,
        rate_limit=_parse_rate_limit(_require_mapping(block, "rate_limit", where), where),
        allowed_hosts=tuple(h.lower() for h in allowed_hosts),
        replication_key=replication_key,
        start_date=start_date,
        date_window_size=date_window_size,
        is_sorted=is_sorted,
        schema=dict(schema) if schema is not None else None,
        infer_schema=infer_schema,
    )


def _iso_datetime(value: Any, where: str) -> str | int | float:
    """Check an ISO-8601 date or timestamp (or a number, for numeric keys); return it unchanged."""
    from datetime import datetime

    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if is_number(value):
        return float(value) if "." in value else int(value)
    if not isinstance(value, str):
        msg = f"{where} must be an ISO-8601 date or timestamp string, got {value!r}."
        raise ConfigError(msg)
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        msg = f"{where}: {value!r} is not an ISO-8601 date or timestamp (e.g. 2024-01-01T00:00:00Z)."
        raise ConfigError(msg) from None
    return value


def plain_numbers(value: Any) -> Any:
    """Return ``value`` with every :class:`~decimal.Decimal` inside it turned into a float.

    singer-sdk reads a config file with ``parse_float=Decimal``, so ``"timeout": 2.5`` arrives
    as ``Decimal('2.5')``; the settings here are plain numbers.
    """
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return {key: plain_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain_numbers(item) for item in value]
    return value


def parse_streams(config: Mapping[str, Any]) -> list[StreamConfig]:
    """Check a whole tap config and return one :class:`StreamConfig` per stream.

    Args:
        config: The tap config.

    Returns:
        Stream configs in config order.

    Raises:
        ConfigError: Any stream block is invalid, or two streams share a name.
    """
    streams = [parse_stream(index, block) for index, block in stream_blocks(plain_numbers(config))]
    seen: dict[str, str] = {}
    for stream in streams:
        if stream.name in seen:
            msg = (
                f"{stream.where}: stream name '{stream.name}' is already used by "
                f"{seen[stream.name]}; set a distinct 'name' or destination.table."
            )
            raise ConfigError(msg)
        seen[stream.name] = stream.where
    return streams
