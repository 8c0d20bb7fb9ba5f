"""Parsing of a stream's nested blocks: ``auth``, ``rate_limit`` and ``pagination``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugin_kit.errors import ConfigError
from tap_generic_api.config.checks import (
    boolean,
    choice,
    positive_int,
    positive_number,
)
from tap_generic_api.config.models import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_PAGES,
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_RETRY_WAIT_SECONDS,
    DEFAULT_REQUESTS_PER_SECOND,
    ERROR_STATUSES,
    RETRY_STATUSES,
    AuthConfig,
    OAuth2Config,
    PaginationConfig,
    RateLimitConfig,
)
from tap_generic_api.config.settings import (
    AUTH_TYPES,
    OAUTH2_GRANTS,
    PAGINATION_LOCATIONS,
    PAGINATION_TYPES,
)


def parse_auth(raw: Mapping[str, Any], where: str) -> AuthConfig | None:
    """Return the checked ``auth`` block, or None without one.

    Raises:
        ConfigError: A key is wrong; names ``<where>.auth.<key>``.
    """
    if not raw:
        return None
    auth_type = choice(raw.get("type", "bearer"), AUTH_TYPES, f"{where}.auth.type")
    oauth2 = parse_oauth2(raw, where) if auth_type == "oauth2" else None
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


def parse_oauth2(raw: Mapping[str, Any], where: str) -> OAuth2Config | None:
    """Return the token-grant settings, or None when no grant key is set (a ready token)."""
    if not raw.get("token_url") and not raw.get("grant_type"):
        return None
    token_url = raw.get("token_url")
    if not isinstance(token_url, str) or not token_url.startswith(("http://", "https://")):
        msg = f"{where}.auth.token_url is required for OAuth2 token grants: the token endpoint URL."
        raise ConfigError(msg)
    default_grant = "refresh_token" if raw.get("refresh_token") else "client_credentials"
    grant = choice(raw.get("grant_type", default_grant), OAUTH2_GRANTS, f"{where}.auth.grant_type")
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


def parse_rate_limit(raw: Mapping[str, Any], where: str) -> RateLimitConfig:
    """Return the checked ``rate_limit`` block, defaults filled in from the settings.

    Raises:
        ConfigError: A value is wrong; names ``<where>.rate_limit.<key>``.
    """
    where = f"{where}.rate_limit"
    retry_on_429 = boolean(raw, "retry_on_429", where, default=True)
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
        requests_per_second=positive_number(
            raw.get("requests_per_second", DEFAULT_REQUESTS_PER_SECOND), f"{where}.requests_per_second"
        ),
        retry_on_429=retry_on_429,
        max_retries=max_retries,
        max_retry_wait=positive_number(
            raw.get("max_retry_wait", DEFAULT_MAX_RETRY_WAIT_SECONDS), f"{where}.max_retry_wait"
        ),
        retry_statuses=frozenset(retry_statuses),
    )


_DEFAULT_PARAM = {"offset": "offset", "page": "page"}


def parse_pagination(raw: Mapping[str, Any], where: str) -> PaginationConfig:
    """Return the checked ``pagination`` block, defaults filled in from the settings.

    Raises:
        ConfigError: A value is wrong; names ``<where>.pagination.<key>``.
    """
    where = f"{where}.pagination"
    kind = choice(raw.get("type", "none"), PAGINATION_TYPES, f"{where}.type")
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
        limit = positive_int(limit, f"{where}.limit")
    max_pages = positive_int(raw.get("max_pages", DEFAULT_MAX_PAGES), f"{where}.max_pages")
    location = choice(raw.get("location", "query"), PAGINATION_LOCATIONS, f"{where}.location")
    max_concurrency = positive_int(raw.get("max_concurrency", DEFAULT_MAX_CONCURRENCY), f"{where}.max_concurrency")
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
