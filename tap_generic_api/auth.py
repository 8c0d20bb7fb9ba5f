"""``auth`` config -> singer-sdk authenticator (bearer, header, query, basic, oauth2 token)."""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

import requests
from singer_sdk.authenticators import (
    APIAuthenticatorBase,
    APIKeyAuthenticator,
    BasicAuthenticator,
    BearerTokenAuthenticator,
    OAuthAuthenticator,
)

from plugin_kit.redact import known_secrets, redact_text
from tap_generic_api.config import AuthConfig, OAuth2Config
from tap_generic_api.errors import CredentialError, OAuth2TokenError, OAuth2TokenUnavailableError

logger = logging.getLogger("tap_generic_api.auth")


class _KeepURL:
    """Mixin: add auth headers without touching the URL.

    The SDK's ``authenticate_request`` always rebuilds the query string with
    ``parse_qs``/``urlencode`` (even with no auth params), which re-escapes characters
    such as ``$`` and drops blank parameters in next-page URLs the API gave us.
    """

    auth_headers: dict[str, str]

    def authenticate_request(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add the auth headers; leave the URL byte for byte."""
        request.headers.update(self.auth_headers)
        return request


class NoAuth(_KeepURL, APIAuthenticatorBase):
    """For APIs without auth: sends nothing and leaves requests unchanged."""


class BearerAuth(_KeepURL, BearerTokenAuthenticator):
    """``Authorization: Bearer <token>``."""


class HeaderKeyAuth(_KeepURL, APIKeyAuthenticator):
    """``<header_name>: <key>`` (seed default header ``X-API-Key``)."""


class BasicAuth(_KeepURL, BasicAuthenticator):
    """``Authorization: Basic base64(user:password)``."""


class QueryKeyAuthenticator(APIAuthenticatorBase):
    """Adds ``param_name=<secret>`` to the query string of every request.

    The SDK's ``APIKeyAuthenticator(location="params")`` rebuilds the whole query with
    ``parse_qs``/``urlencode``, which drops blank parameters and re-escapes a next-page URL
    the API gave us; this one appends the key and leaves the rest of the URL byte for byte.
    A URL that already carries the parameter (an API echoing it into its next link) is
    left unchanged.

    Args:
        param_name: Query parameter name (seed default ``api_key``).
        value: The secret.
    """

    def __init__(self, *, param_name: str, value: str) -> None:
        super().__init__()
        self.param_name = param_name
        self._value = value

    def authenticate_request(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Append the key to ``request.url`` unless it is already there.

        Args:
            request: The prepared request.

        Returns:
            The same request, with the key in its query string.
        """
        if not request.url:
            return request
        scheme, netloc, path, query, fragment = urlsplit(request.url)
        if any(name == self.param_name for name, _ in parse_qsl(query, keep_blank_values=True)):
            return request
        pair = f"{quote(self.param_name, safe='')}={quote(self._value, safe='')}"
        query = f"{query}&{pair}" if query else pair
        request.url = urlunsplit((scheme, netloc, path, query, fragment))
        return request


#: Seconds a token request may wait for the token endpoint: the endpoint's own limit, not a stream's
#: ``timeout`` (one token serves every stream of the run).
TOKEN_TIMEOUT_SECONDS = 60

#: Token endpoint statuses that mean "try again later" (as for API requests, see retries.py).
RETRIABLE_TOKEN_STATUSES = frozenset({429, 500, 502, 503, 504})


class OAuth2GrantAuth(OAuthAuthenticator):
    """OAuth2 ``client_credentials`` or ``refresh_token`` grant (RFC 6749 sections 4.4 and 6).

    One instance is shared by every stream with the same token endpoint and client, so the
    run asks for one token and reuses it for its lifetime less a safety margin (10% of the
    lifetime, at most 60 s). A refresh token the endpoint rotates is kept for the next refresh.

    Args:
        config: The grant settings.
        client_secret: The client secret.
        refresh_token: The refresh token (``refresh_token`` grant).
    """

    #: Longest safety margin in seconds before ``expires_in`` at which the token is renewed.
    MAX_MARGIN_SECONDS = 60.0

    def __init__(self, config: OAuth2Config, *, client_secret: str | None, refresh_token: str | None) -> None:
        super().__init__(
            auth_endpoint=config.token_url,
            oauth_scopes=config.scopes,
            client_id=config.client_id,
            client_secret=client_secret,
        )
        self.grant_type = config.grant_type
        self._refresh_token = refresh_token
        #: Every token and refresh token issued in this run: an older one may still be valid,
        #: and an API can echo it while another thread already holds a newer one.
        self._issued: list[str] = []
        self._lock = threading.Lock()

    @property
    def secrets(self) -> list[str]:
        """Secret strings this authenticator holds (for redaction)."""
        return [s for s in (self.client_secret, self._refresh_token, *self._issued) if s]

    @property
    def oauth_request_body(self) -> dict:
        """Form body of the token request for the configured grant."""
        body = {"grant_type": self.grant_type}
        if self.grant_type == "refresh_token":
            body["refresh_token"] = self._refresh_token or ""
        if self.client_id:
            body["client_id"] = self.client_id
        if self.client_secret:
            body["client_secret"] = self.client_secret
        if self.oauth_scopes:
            body["scope"] = self.oauth_scopes
        return body

    def is_token_valid(self) -> bool:
        """Return True while the token has more than the safety margin of its lifetime left."""
        if self.last_refreshed is None or not self.access_token:
            return False
        if not self.expires_in:
            return True
        margin = min(self.MAX_MARGIN_SECONDS, self.expires_in * 0.1)
        age = (datetime.now(UTC) - self.last_refreshed).total_seconds()
        return age < self.expires_in - margin

    def invalidate(self) -> None:
        """Forget the current token, so the next request asks for a new one (after a 401)."""
        with self._lock:
            self.last_refreshed = None

    def update_access_token(self) -> None:
        """Ask the token endpoint for a new access token.

        Raises:
            OAuth2TokenUnavailableError: The endpoint answered 429, 500, 502, 503 or 504.
            OAuth2TokenError: The endpoint answered another error, or without ``access_token``.
        """
        requested_at = datetime.now(UTC)
        # No redirects: a 307 or 308 would resend the client secret and refresh token to
        # wherever the Location points.
        response = self._session.post(
            self.auth_endpoint, data=self.oauth_request_body, timeout=TOKEN_TIMEOUT_SECONDS, allow_redirects=False
        )
        if response.is_redirect:
            msg = (
                f"OAuth2 token request to {self.auth_endpoint} was redirected (status {response.status_code}); "
                "credentials are not sent on. Set auth.token_url to the endpoint itself."
            )
            raise OAuth2TokenError(msg)
        if response.status_code >= 400:  # noqa: PLR2004
            # Masked before the cut, so a secret across it is not half shown; with every secret
            # of the run, since the API may echo any of them.
            secrets = [*self.secrets, *known_secrets()]
            excerpt = redact_text(" ".join(response.text[:400].split()), secrets)[:300]
            if response.status_code in RETRIABLE_TOKEN_STATUSES:
                # An outage of the token endpoint, not a refused grant: the stream's retry
                # policy (backoff, Retry-After) applies, as to the API's own 429 and 5xx.
                msg = (
                    f"OAuth2 token request to {self.auth_endpoint} failed with status {response.status_code}: "
                    f"{excerpt!r}"
                )
                raise OAuth2TokenUnavailableError(msg, response)
            msg = (
                f"OAuth2 token request to {self.auth_endpoint} failed with status "
                f"{response.status_code}: {excerpt!r}. Check auth.client_id, auth.client_secret "
                "and auth.refresh_token."
            )
            raise OAuth2TokenError(msg)
        try:
            token = response.json()
            self.access_token = str(token["access_token"])
        except (ValueError, KeyError, TypeError):
            msg = f"OAuth2 token response from {self.auth_endpoint} has no 'access_token'."
            raise OAuth2TokenError(msg) from None
        try:
            self.expires_in = int(float(token.get("expires_in"))) if token.get("expires_in") else None
        except (TypeError, ValueError):
            self.expires_in = None  # an unreadable lifetime: use the token until a 401 renews it
        self._issued.append(self.access_token)
        if token.get("refresh_token"):
            self._refresh_token = str(token["refresh_token"])
            self._issued.append(self._refresh_token)
        self.last_refreshed = requested_at
        logger.info("Obtained an OAuth2 access token from %s (expires in %s s).", self.auth_endpoint, self.expires_in)

    def authenticate_request(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add ``Authorization: Bearer <token>``, renewing the token first when due."""
        with self._lock:
            if not self.is_token_valid():
                self.update_access_token()
            request.headers["Authorization"] = f"Bearer {self.access_token}"
        return request


def _bearer(auth: AuthConfig, secret: str) -> APIAuthenticatorBase:
    return BearerAuth(token=secret)


def _header(auth: AuthConfig, secret: str) -> APIAuthenticatorBase:
    return HeaderKeyAuth(key=auth.header_name, value=secret, location="header")


def _query(auth: AuthConfig, secret: str) -> APIAuthenticatorBase:
    return QueryKeyAuthenticator(param_name=auth.param_name, value=secret)


def _basic(auth: AuthConfig, secret: str) -> APIAuthenticatorBase:
    username, sep, password = secret.partition(":")
    if not sep:
        msg = (
            "auth.type 'basic' needs a secret of the form 'user:password' "
            "(or a JSON object with username and password)."
        )
        raise CredentialError(msg)
    return BasicAuth(username=username, password=password)


#: auth.type -> builder. ``oauth2`` with a ready token is a bearer token (the seed's behaviour).
AUTHENTICATORS: dict[str, Callable[[AuthConfig, str], APIAuthenticatorBase]] = {
    "bearer": _bearer,
    "oauth2": _bearer,
    "header": _header,
    "query": _query,
    "basic": _basic,
}


def secret_forms(auth: AuthConfig, secret: str) -> list[str]:
    """Return every form of ``secret`` an API could echo back, for masking.

    For ``basic``: the ``user:password`` secret, the password alone, and the base64 token of
    the ``Authorization: Basic`` header (RFC 7617), which decodes to both. Otherwise the
    secret itself.
    """
    if auth.type != "basic":
        return [secret]
    _, _, password = secret.partition(":")
    return [secret, password, base64.b64encode(secret.encode()).decode()]


def build_authenticator(auth: AuthConfig, secret: str) -> APIAuthenticatorBase:
    """Build the authenticator for one stream (OAuth2 grants: see :class:`OAuth2Registry`).

    Args:
        auth: The stream's auth block (``type`` already checked against the registry).
        secret: The resolved secret.

    Returns:
        A singer-sdk authenticator, callable as a ``requests`` auth hook.

    Raises:
        CredentialError: The secret does not fit the auth type (basic without ``:``, or a
            header credential with characters outside Latin-1, which HTTP headers cannot carry).
    """
    if auth.type in HEADER_TYPES and not _fits_a_header(secret):
        # Said here, before any request; http.client would fail inside the first one with a
        # UnicodeEncodeError. The characters are not quoted: they are part of the secret.
        whose = f" for provider '{auth.provider}'" if auth.provider else ""
        msg = (
            f"auth.type '{auth.type}': the credential{whose} holds characters an HTTP header cannot carry "
            "(only Latin-1); look for a stray character such as a typographic quote."
        )
        raise CredentialError(msg)
    return AUTHENTICATORS[auth.type](auth, secret)


#: Auth types that send the credential as it is in a header.
HEADER_TYPES = frozenset({"bearer", "oauth2", "header"})


def _fits_a_header(value: str) -> bool:
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


class OAuth2Registry:
    """Shares one :class:`OAuth2GrantAuth` per token endpoint and client across streams."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str | None, str], OAuth2GrantAuth] = {}

    def get(self, config: OAuth2Config, *, client_secret: str | None, refresh_token: str | None) -> OAuth2GrantAuth:
        """Return the shared authenticator for this endpoint, client and grant."""
        key = (config.token_url, config.client_id, config.grant_type)
        if key not in self._by_key:
            self._by_key[key] = OAuth2GrantAuth(config, client_secret=client_secret, refresh_token=refresh_token)
        return self._by_key[key]
