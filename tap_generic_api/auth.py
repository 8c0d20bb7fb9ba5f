"""``auth`` config -> singer-sdk authenticator (bearer, header, query, basic, oauth2 token)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

import requests
from singer_sdk.authenticators import (
    APIAuthenticatorBase,
    APIKeyAuthenticator,
    BasicAuthenticator,
    BearerTokenAuthenticator,
)

from tap_generic_api.config import AuthConfig
from tap_generic_api.errors import CredentialError


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


def build_authenticator(auth: AuthConfig, secret: str) -> APIAuthenticatorBase:
    """Build the authenticator for one stream.

    Args:
        auth: The stream's auth block (``type`` already checked against the registry).
        secret: The resolved secret.

    Returns:
        A singer-sdk authenticator, callable as a ``requests`` auth hook.

    Raises:
        CredentialError: The secret does not fit the auth type (basic without ``:``).
    """
    return AUTHENTICATORS[auth.type](auth, secret)
