"""What a stream says about its requests: URLs and texts with secrets masked, and API error messages."""

from __future__ import annotations

from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

import requests

from plugin_kit.errors import cut_long_values
from plugin_kit.redact import redact_text, redact_url
from tap_generic_api.auth import OAuth2GrantAuth
from tap_generic_api.config import StreamConfig
from tap_generic_api.http.responses import body_excerpt


class StreamMessages:
    """Masks a stream's secrets in what it writes, and words its API errors.

    Args:
        config: The stream's config (its name; the query parameter of ``auth.type: query``).
        secrets: Secret strings to mask.
        authenticator: The stream's authenticator; an OAuth2 grant's tokens are masked too.
    """

    def __init__(self, config: StreamConfig, secrets: Iterable[str], authenticator: Any) -> None:
        self.name = config.name
        self._secrets = tuple(secrets)
        self._authenticator = authenticator
        self._query_secret_params = [config.auth.param_name] if config.auth and config.auth.type == "query" else []

    def secrets(self) -> list[str]:
        """Return every secret to mask now (the configured ones, then the OAuth2 tokens fetched so far)."""
        extra = self._authenticator.secrets if isinstance(self._authenticator, OAuth2GrantAuth) else []
        return [*self._secrets, *extra]

    def safe(self, text: str) -> str:
        """Return ``text`` with every secret masked."""
        return redact_text(text, self.secrets())

    def url(self, url: str | None) -> str:
        """Return ``url`` with secrets masked (query-auth param, known secret names, values), long values cut."""
        return cut_long_values(self.safe(redact_url(url, self._query_secret_params)))

    def describe(self, response: requests.Response) -> str:
        """Return ``Stream '<name>': API error <status> <reason> for <url>``, secrets masked."""
        return (
            f"Stream '{self.name}': API error {response.status_code} {self.safe(str(response.reason))} "
            f"for {self.url(response.url)}"
        )

    def error_message(self, response: requests.Response) -> str:
        """Build an error message: stream, status, reason, redacted URL, short body excerpt.

        The SDK's default appends the whole body; this one quotes at most 300 characters with
        secrets masked (APIs echo credentials back), and says what a 401 or 403 usually means
        (RFC 9110 sections 15.5.2 and 15.5.4).
        """
        msg = self.describe(response)
        if response.status_code == HTTPStatus.UNAUTHORIZED:
            msg += " (the credential is invalid or expired)"
        elif response.status_code == HTTPStatus.FORBIDDEN:
            msg += " (the credential is not allowed to read this resource, or is wrong)"
        excerpt = body_excerpt(response, redact=self.safe)
        if excerpt:
            msg += f": {excerpt}"
        return msg
