"""HTTP retry policy (the seed's): which answers are retried, and how long to wait.

* 429: wait ``Retry-After`` when present (seconds or an HTTP date, RFC 9110 section 10.2.3),
  else ``2^attempt`` seconds; ``retry_on_429: false`` fails at once.
* The other transient statuses (:data:`RETRY_STATUSES`), timeouts and connection errors:
  wait ``2^attempt`` seconds.
* Any other 4xx or 5xx fails at once.

The transient statuses are the ones whose meaning says "try again later" rather than "this
request is wrong": every 5xx (RFC 9110 section 15.6: the server failed) except 501 Not
Implemented and 505 HTTP Version Not Supported (section 15.6.2 / 15.6.6: the same request will
fail again), which covers the 520-524 that CDNs answer for trouble at the origin (Cloudflare's
"5xx errors" documentation: unknown error, web server down, connection timed out, origin
unreachable, timeout), and 408 Request Timeout (RFC 9110 section 15.5.9: the server closed an
idle connection; the request may be repeated) and 429 Too Many Requests (RFC 6585 section 4).
``rate_limit.retry_statuses`` replaces the set.
* After ``max_retries`` retries the last error is raised.

The waits are produced by a ``backoff`` wait generator (plugged into the SDK's
``request_decorator``); the SDK's own generator ignores ``Retry-After``.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Generator
from datetime import UTC
from http import HTTPStatus

import requests
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

from tap_generic_api.config.models import RETRY_STATUSES
from tap_generic_api.errors import RetryWaitTooLongError


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Return the wait in seconds a ``Retry-After`` header asks for, or None if absent/invalid.

    Args:
        value: The header value: delay-seconds (``"120"``) or an HTTP date
            (``"Wed, 21 Oct 2015 07:28:00 GMT"``).
        now: Current time (epoch seconds), for tests.

    Returns:
        Seconds to wait, at least 0.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else time.time()
    return max(0.0, when.timestamp() - current)


def wait_generator(
    *, max_retry_wait: float, describe: Callable[[requests.Response], str]
) -> Callable[[], Generator[float, BaseException, None]]:
    """Return a ``backoff`` wait-generator factory implementing the policy above.

    ``backoff`` primes the generator, then sends each exception and sleeps for the value
    yielded.

    Args:
        max_retry_wait: Longest acceptable wait in seconds.
        describe: Builds the error text for a response (stream, status, redacted URL).

    Returns:
        A zero-argument callable returning the generator.

    Raises:
        RetryWaitTooLongError: (from the generator) a ``Retry-After`` beyond ``max_retry_wait``.
    """

    def generator() -> Generator[float, BaseException, None]:
        attempt = 0
        exception = yield 0.0  # priming value, discarded by backoff
        while True:
            wait = float(2**attempt)
            response = getattr(exception, "response", None)
            if isinstance(response, requests.Response) and response.status_code == HTTPStatus.TOO_MANY_REQUESTS:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if retry_after is not None:
                    wait = retry_after
            if wait > max_retry_wait:
                what = describe(response) if isinstance(response, requests.Response) else str(exception)
                msg = (
                    f"{what}: the API asks to wait {wait:.0f} s before retrying, more than "
                    f"rate_limit.max_retry_wait ({max_retry_wait:.0f} s). Stopping instead of hanging."
                )
                raise RetryWaitTooLongError(msg)
            attempt += 1
            exception = yield wait

    return generator


def classify(
    response: requests.Response,
    *,
    retry_on_429: bool,
    message: str,
    retry_statuses: frozenset[int] = RETRY_STATUSES,
) -> None:
    """Raise the error a non-2xx response calls for; return quietly on success.

    Args:
        response: The response.
        retry_on_429: Whether 429 is retried.
        message: Error text (stream, status, redacted URL, body excerpt).
        retry_statuses: The statuses retried (``rate_limit.retry_statuses``; default
            :data:`RETRY_STATUSES`).

    Raises:
        RetriableAPIError: A status in ``retry_statuses`` (429 only when ``retry_on_429``).
        FatalAPIError: Any other 4xx or 5xx.
    """
    status = response.status_code
    if status < HTTPStatus.BAD_REQUEST:
        return
    if status == HTTPStatus.TOO_MANY_REQUESTS and status in retry_statuses:
        if retry_on_429:
            raise RetriableAPIError(message, response)
        raise FatalAPIError(message + " (rate_limit.retry_on_429 is false)")
    if status in retry_statuses:
        raise RetriableAPIError(message, response)
    raise FatalAPIError(message)
