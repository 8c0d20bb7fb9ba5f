"""HTTP retry policy (the seed's): which answers are retried, and how long to wait.

* 429: wait ``Retry-After`` when present (seconds or an HTTP date, RFC 9110 section 10.2.3),
  else ``2^attempt`` seconds; ``retry_on_429: false`` fails at once.
* 500, 502, 503, 504, timeouts and connection errors: wait ``2^attempt`` seconds.
* Any other 4xx or 5xx fails at once.
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

#: 5xx answers worth retrying (the seed's list).
RETRY_STATUSES = frozenset({500, 502, 503, 504})


class RetryWaitTooLongError(FatalAPIError):
    """The API asked for a wait longer than ``rate_limit.max_retry_wait`` seconds."""


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


def classify(response: requests.Response, *, retry_on_429: bool, message: str) -> None:
    """Raise the error a non-2xx response calls for; return quietly on success.

    Args:
        response: The response.
        retry_on_429: Whether 429 is retried.
        message: Error text (stream, status, redacted URL, body excerpt).

    Raises:
        RetriableAPIError: 429 (when retried) or a retryable 5xx.
        FatalAPIError: Any other 4xx or 5xx.
    """
    status = response.status_code
    if status < HTTPStatus.BAD_REQUEST:
        return
    if status == HTTPStatus.TOO_MANY_REQUESTS:
        if retry_on_429:
            raise RetriableAPIError(message, response)
        raise FatalAPIError(message + " (rate_limit.retry_on_429 is false)")
    if status in RETRY_STATUSES:
        raise RetriableAPIError(message, response)
    raise FatalAPIError(message)
