"""A stream's retry policy: which answers are retried, how long to wait, what each retry logs.

Also the one error given when retries run out. Built on ``backoff``.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

import backoff
import requests
from singer_sdk.exceptions import RetriableAPIError

from tap_generic_api.config import RateLimitConfig
from tap_generic_api.errors import APIRequestError, IgnoredStatusError, StreamStoppedError
from tap_generic_api.http import retries
from tap_generic_api.http.messages import StreamMessages
from tap_generic_api.http.responses import check_body

#: Exceptions retried with backoff; other request errors fail at once.
RETRIED = (
    ConnectionResetError,
    RetriableAPIError,
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


class RetryPolicy:
    """Retries of one stream's requests, per its ``rate_limit`` block.

    Args:
        rate_limit: The stream's ``rate_limit`` block.
        messages: Masks secrets and words API errors.
        stopping: Set when the stream stops: no retry is made after it.
        pause: Holds the stream's other requests for a number of seconds (after a 429).
        logger: The stream's logger.

    Attributes:
        retries: Retries made since :attr:`retries` was last set to 0 (the stream's summary).
        ignore_statuses: Statuses answered by :class:`IgnoredStatusError` (a child stream's
            ``ignore_statuses``): at once, or once the retries ran out for a status that is retried.
    """

    def __init__(
        self,
        rate_limit: RateLimitConfig,
        messages: StreamMessages,
        *,
        stopping: threading.Event,
        pause: Callable[[float], None],
        logger: logging.Logger,
    ) -> None:
        self.rate_limit = rate_limit
        self.messages = messages
        self._stopping = stopping
        self._pause = pause
        self._logger = logger
        self.retries = 0
        self.ignore_statuses: frozenset[int] = frozenset()

    @property
    def max_tries(self) -> int:
        """Attempts per request: 1 + ``rate_limit.max_retries``."""
        return self.rate_limit.max_retries + 1

    def validate(self, response: requests.Response, *, body_optional: bool = False) -> None:
        """Raise per the policy: ``rate_limit.retry_statuses`` retriable, other errors fatal.

        A 2xx with an empty body (not 204) is retriable too (:func:`~tap_generic_api.http.responses.check_body`),
        unless ``body_optional`` (the answer is in its headers).

        Raises:
            IgnoredStatusError: The status is in :attr:`ignore_statuses` (a child stream skips the parent).
        """
        if response.status_code in self.ignore_statuses and not self._retried(response.status_code):
            raise IgnoredStatusError(response.status_code, self.messages.url(response.url))
        if response.status_code >= HTTPStatus.BAD_REQUEST:
            retries.classify(
                response,
                retry_on_429=self.rate_limit.retry_on_429,
                message=self.messages.error_message(response),
                retry_statuses=self.rate_limit.retry_statuses,
            )
        if not body_optional:
            check_body(response, f"Stream '{self.messages.name}': {self.messages.url(response.url)}")

    def _retried(self, status: int) -> bool:
        """Return True when ``status`` is retried (``rate_limit.retry_statuses``; 429 only with ``retry_on_429``)."""
        if status == HTTPStatus.TOO_MANY_REQUESTS and not self.rate_limit.retry_on_429:
            return False
        return status in self.rate_limit.retry_statuses

    def waits(self) -> Any:
        """Return the waits: ``Retry-After`` on 429 (seconds or HTTP date, RFC 9110 10.2.3), else ``2^attempt`` s."""
        return retries.wait_generator(max_retry_wait=self.rate_limit.max_retry_wait, describe=self.messages.describe)()

    def on_retry(self, details: Mapping[str, Any]) -> None:
        """Count and log one retry (stream, cause with the URL masked, wait); after a 429, pause the stream.

        Raises:
            StreamStoppedError: The stream has stopped (a date window failed): no retry.
        """
        if self._stopping.is_set():
            raise StreamStoppedError(self.messages.name)
        self.retries += 1
        exc = details.get("exception")
        response = getattr(exc, "response", None)
        if isinstance(response, requests.Response) and response.status_code == HTTPStatus.TOO_MANY_REQUESTS:
            # The stream's other threads (date windows, pages ahead) hold their requests for the same wait.
            self._pause(float(details.get("wait") or 0.0))
        if isinstance(response, requests.Response):
            cause = self.messages.describe(response)
        else:
            cause = self.messages.safe(str(exc))
        self._logger.warning(
            "Stream '%s': retrying in %.1f s (attempt %d of %d) after: %s",
            self.messages.name,
            details.get("wait", 0.0),
            details.get("tries", 0) + 1,
            self.max_tries,
            cause,
        )

    def decorate(
        self,
        func: Callable,
        *,
        waits: Callable[[], Any],
        on_retry: Callable[[Any], None],
        jitter: Callable[[float], float],
        attempts: int,
    ) -> Callable:
        """Retry ``func(prepared_request, context)`` with ``backoff``; give up with one clear, secret-free error.

        Built here rather than with the SDK's decorator because the SDK hands ``backoff`` its logger,
        whose messages quote exception text (a connection error's URL carries a query-auth key).

        Raises:
            APIRequestError: (from the decorated function) Retries ran out, or a request error not retried.
        """
        decorated = backoff.on_exception(
            waits, RETRIED, max_tries=attempts, on_backoff=on_retry, jitter=jitter, logger=None
        )(func)
        messages = self.messages

        @functools.wraps(func)
        def call(prepared_request: requests.PreparedRequest, context: Mapping | None) -> requests.Response:
            try:
                return decorated(prepared_request, context)
            except RetriableAPIError as exc:
                response = getattr(exc, "response", None)
                if isinstance(response, requests.Response) and response.status_code in self.ignore_statuses:
                    # A retried status also listed in ignore_statuses skips the parent only once
                    # the retries ran out: a transient 429 or 503 must not drop its children.
                    raise IgnoredStatusError(response.status_code, messages.url(response.url)) from None
                msg = f"{exc} (gave up after {attempts} attempts)"
                raise APIRequestError(msg, stream=messages.name) from None
            except requests.RequestException as exc:
                tries = f" after {attempts} attempts" if isinstance(exc, RETRIED) else ""  # others are not retried
                url = messages.url(prepared_request.url)
                msg = (
                    f"Stream '{messages.name}': request to {url} failed{tries}: "
                    f"{type(exc).__name__}: {messages.safe(str(exc))}"
                )
                raise APIRequestError(msg, stream=messages.name, url=url) from None

        return call
