"""Exceptions raised by tap-generic-api, grouped by what the caller should do.

- Fix the config: :class:`~plugin_kit.errors.ConfigError` and its subclasses here; raised before
  any request (or, for a start that STATE gives, before the stream's first request).
- Retry: :class:`EmptyBodyError`, :class:`OAuth2TokenUnavailableError`, :class:`DeadlineExceededError`
  are retried by the stream's retry policy like any transient answer.
- Give up on the API: :class:`APIRequestError` and the other ``FatalAPIError`` subclasses; the
  answer cannot be read as configured, or the API pages in a way that would lose or repeat records.
- Keep the bookmark: :class:`WindowTruncatedError`, :class:`PaginationTruncatedError`,
  :class:`BookmarkTypeError`; records written so far stay, the bookmark does not move past them.

Each error carries what it names as attributes (``stream``, ``url``, ``key``; None when not
known where it is raised), so that callers and tests need not parse its message.
Errors both plugins raise (config errors, output errors) are in :mod:`plugin_kit.errors`.
"""

from __future__ import annotations

from typing import Any

import requests
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

from plugin_kit.errors import ConfigError


class _Names:
    """What an error names: ``stream``, ``url`` (secrets masked) and config ``key``; None when unknown.

    Args:
        message: The full message (secrets masked).
        stream: The stream's name.
        url: The request's URL, secrets masked.
        key: The config key at fault.
    """

    def __init__(
        self, message: str, *, stream: str | None = None, url: str | None = None, key: str | None = None
    ) -> None:
        super().__init__(message)
        self.stream, self.url, self.key = stream, url, key


class TapAPIError(_Names, FatalAPIError):
    """The API's answers cannot be used: the stream stops (base of the tap's fatal API errors)."""


# -- fix the config ------------------------------------------------------------------


class CredentialError(_Names, ConfigError):
    """No credential could be resolved for a stream's ``auth`` block."""


class OAuth2TokenError(CredentialError):
    """The token endpoint refused the grant; the message has its status and a redacted excerpt."""


class TooManyWindowsError(ValueError):
    """The range would need more than :data:`~tap_generic_api.windows.MAX_WINDOWS` windows.

    Raised by :func:`~tap_generic_api.windows.date_windows`; the stream turns it into a
    :class:`~plugin_kit.errors.ConfigError` naming ``date_window_size``.
    """


# -- retried -------------------------------------------------------------------------


class EmptyBodyError(RetriableAPIError):
    """A 2xx answer other than 204 whose body is empty: retried as transient, then a failure.

    A JSON API never answers a successful read with nothing (RFC 8259 has no empty JSON text);
    servers and proxies that are overloaded or cut an answer short do. Read as "no records",
    it would end a paginated stream early with exit 0 (see docs/TAP_CONFIG.md, "Pagination").
    """


class OAuth2TokenUnavailableError(RetriableAPIError):
    """The token endpoint answered 429 or 5xx: retried like any request (``rate_limit.max_retries``)."""


class DeadlineExceededError(requests.exceptions.ReadTimeout):
    """The exchange took longer than ``timeout`` seconds in all (retried like any timeout)."""


# -- give up on the API ----------------------------------------------------------------


class APIRequestError(TapAPIError):
    """A request failed for good (retries exhausted, or a network error); secrets masked."""


class ResponseShapeError(TapAPIError):
    """A 2xx response whose body cannot be read as configured (not JSON, no ``data_path``)."""


class ReportJobError(TapAPIError):
    """A report job failed, did not finish within ``job.timeout``, or answered without its status or results."""


class RetryWaitTooLongError(TapAPIError):
    """The API asked for a wait longer than ``rate_limit.max_retry_wait`` seconds."""


class TooManyRedirectsError(TapAPIError):
    """More than :data:`~tap_generic_api.http.redirects.MAX_REDIRECTS` redirects for one request; lists the chain."""


class PaginationLoopError(_Names, RuntimeError):
    """The API handed back a cursor or next URL this stream has already requested."""


class ForeignHostError(_Names, RuntimeError):
    """A next link points to a host other than the configured one (credentials would leak)."""


# -- keep the bookmark -------------------------------------------------------------------


class WindowTruncatedError(TapAPIError):
    """A date window of an incremental stream reached ``pagination.max_pages``."""


class PaginationTruncatedError(TapAPIError):
    """An incremental stream not in replication-key order reached ``pagination.max_pages``."""


class BookmarkTypeError(TapAPIError):
    """The bookmark in STATE and the records' replication key values cannot be compared."""


# -- control flow inside the tap -----------------------------------------------------------


class StreamStoppedError(RuntimeError):
    """Raised in a date window's worker when the stream stops (another window failed)."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self.stream = stream


class IgnoredStatusError(Exception):
    """A child request was answered with a status its stream lists in ``ignore_statuses``: skip that parent.

    Args:
        status: The HTTP status.
        url: The request's URL, secrets masked.
    """

    def __init__(self, status: int, url: str) -> None:
        super().__init__(f"HTTP {status} from {url}")
        self.status, self.url = status, url


class ChildStreamError(TapAPIError):
    """A child stream's request sequence for one parent record failed; the message names the parent record."""
