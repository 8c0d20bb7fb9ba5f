"""One generic REST stream, driven by a checked :class:`StreamConfig`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import requests
from singer_sdk.authenticators import APIAuthenticatorBase
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.streams import RESTStream
from singer_sdk.streams.rest import HTTPRequest, PageContext

from tap_generic_api.auth import NoAuth
from tap_generic_api.config import StreamConfig
from tap_generic_api.pagination import SafePaginator, build_paginator
from tap_generic_api.paths import DottedPath
from tap_generic_api.redact import redact_text, redact_url
from tap_generic_api.responses import body_excerpt, read_json, records_at
from tap_generic_api.templating import render, render_mapping

if TYPE_CHECKING:
    from singer_sdk import Tap


def permissive_schema(key_fields: Iterable[str]) -> dict[str, Any]:
    """Return the SCHEMA for a stream: any object, with its key properties declared.

    Records go out as the API sent them, so the schema does not constrain their shape.
    """
    return {
        "type": "object",
        "properties": {name: {} for name in key_fields},
        "additionalProperties": True,
    }


class GenericAPIStream(RESTStream[Any]):
    """A REST stream whose URL, auth, pagination and record path all come from config.

    Args:
        tap: The tap.
        stream_config: The stream's checked config.
        variables: Values for ``{variable}`` placeholders (config ``variables`` + built-ins).
        authenticator: The request authenticator, or None for an API without auth.
        secrets: Secret strings to mask in any message this stream writes.
    """

    # Records go out exactly as the API sent them.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    path = ""

    def __init__(
        self,
        tap: Tap,
        stream_config: StreamConfig,
        *,
        variables: Mapping[str, Any],
        authenticator: APIAuthenticatorBase | None,
        secrets: Iterable[str] = (),
    ) -> None:
        self.stream_config = stream_config
        where = stream_config.where
        # Rendered once per run: templates are checked before any request and {now} is stable.
        self._url = render(stream_config.url, variables, where=f"{where}.url")
        self._params = render_mapping(stream_config.params, variables, where=f"{where}.params")
        self._headers = render_mapping(stream_config.headers, variables, where=f"{where}.headers")
        # The SDK calls the authenticator on every request.
        self._authenticator = authenticator or NoAuth()
        self._secrets = tuple(secrets)
        self._data_path = DottedPath(stream_config.data_path)
        self._query_secret_params = (
            [stream_config.auth.param_name] if stream_config.auth and stream_config.auth.type == "query" else []
        )
        self._paginator: SafePaginator | None = None
        super().__init__(
            tap=tap,
            name=stream_config.name,
            schema=permissive_schema(stream_config.key_fields),
            http_method=stream_config.method,
        )
        self.primary_keys = list(stream_config.key_fields)

    @property
    def url_base(self) -> str:
        """The rendered URL of the first page."""
        return self._url

    @property
    def authenticator(self) -> Any:
        """The stream's authenticator (a ``requests`` auth hook), or None."""
        return self._authenticator

    @property
    def timeout(self) -> float:  # type: ignore[override]
        """Request timeout in seconds (config ``timeout``, default 60)."""
        return self.stream_config.timeout

    @property
    def http_headers(self) -> dict[str, str]:
        """Configured headers, rendered."""
        return dict(self._headers)

    def get_url(self, context: Mapping[str, Any] | None) -> str:
        """Return the rendered URL (templating is ours, done once at start-up)."""
        return self._url

    def get_new_paginator(self) -> SafePaginator:
        """Return a fresh paginator and keep it to place its token in each request."""
        self._paginator = build_paginator(self.stream_config.pagination, records_of=self._records_of, stream=self.name)
        return self._paginator

    def get_http_request(self, *, page: PageContext) -> HTTPRequest:
        """Build the request for the paginator's current page.

        Configured params and headers, then the paginator's token and page size; a link
        paginator replaces the URL with the next URL as given.
        """
        request = HTTPRequest(
            url=self._url,
            method=self.http_method,
            headers=self.http_headers,
            params=dict(self._params),
        )
        if self._paginator is not None:
            self._paginator.update_request(request)
        return request

    def _records_of(self, response: requests.Response) -> list[Any]:
        return records_at(read_json(response), self._data_path, url=self.redact_url(response.url))

    def parse_response(self, response: requests.Response) -> Iterable[dict]:
        """Yield the records at ``data_path`` in response order."""
        yield from self._records_of(response)

    def redact_url(self, url: str | None) -> str:
        """Return ``url`` with secrets masked (query-auth param, known secret names, values)."""
        return redact_text(redact_url(url, self._query_secret_params), self._secrets)

    def response_error_message(self, response: requests.Response) -> str:
        """Build an error message: stream, status, reason, redacted URL, short body excerpt.

        The SDK's default appends the whole body; this one quotes at most 300 characters
        with secrets masked, and says what a 401 usually means.
        """
        msg = (
            f"Stream '{self.name}': API error {response.status_code} {response.reason} "
            f"for {self.redact_url(response.url)}"
        )
        if response.status_code == HTTPStatus.UNAUTHORIZED:
            msg += " (the credential is invalid or expired)"
        excerpt = body_excerpt(response)
        if excerpt:
            msg += f": {redact_text(excerpt, self._secrets)}"
        return msg
