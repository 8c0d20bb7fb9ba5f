"""One deadline for a whole HTTP exchange: connect, headers and the entire body.

requests' ``timeout`` bounds each socket operation, not the request: a server that sends one
byte every 2 s never trips a 10 s timeout and holds the run forever. requests has no total
timeout (psf/requests#3099), and urllib3's ``Timeout(total=...)`` is applied once before the
headers, not to the body; so the body is read here, one socket read at a time, with the socket's
timeout set to the time left before each read.
"""

from __future__ import annotations

import socket
import time

import requests
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError, SSLError
from urllib3.util import Timeout

from tap_generic_api.encodings import decompress_undeclared

#: Most bytes taken from the socket by one read of a body.
CHUNK_BYTES = 1 << 20


class DeadlineExceededError(requests.exceptions.ReadTimeout):
    """The exchange took longer than ``timeout`` seconds in all (retried like any timeout)."""


def send_before(
    session: requests.Session,
    request: requests.PreparedRequest,
    *,
    deadline: float,
    timeout: float,
    proxies: dict[str, str],
) -> requests.Response:
    """Send ``request`` and read its whole body before ``deadline``; no redirect is followed.

    Args:
        session: The session sending it (its adapters, cookies, verify settings).
        request: The prepared request.
        deadline: ``time.monotonic()`` value by which the body must be complete.
        timeout: The configured ``timeout`` in seconds, for the error message.
        proxies: The proxies for the request's URL.

    Returns:
        The response, its body read (``response.content``) and decompressed (declared
        ``Content-Encoding`` or gzip / zlib data without one, see :mod:`tap_generic_api.encodings`).

    Raises:
        DeadlineExceededError: Connect, headers and body together took more than ``timeout``.
        requests.RequestException: The connection failed or broke (retried by the caller).
    """
    left = _time_left(deadline, timeout)
    try:
        response = session.send(
            request, timeout=Timeout(connect=left, read=left), allow_redirects=False, proxies=proxies, stream=True
        )
    except requests.exceptions.Timeout as exc:
        raise DeadlineExceededError(_message(timeout)) from exc
    try:
        body = _read_body(response, deadline, timeout)
    except BaseException:
        response.close()
        raise
    response._content = decompress_undeclared(body)  # noqa: SLF001 - requests' own slot for a read body
    response._content_consumed = True  # noqa: SLF001
    response.raw.release_conn()
    return response


def _read_body(response: requests.Response, deadline: float, timeout: float) -> bytes:
    raw = response.raw
    chunks: list[bytes] = []
    try:
        while True:
            left = _time_left(deadline, timeout)
            sock = getattr(getattr(raw, "connection", None), "sock", None)
            if isinstance(sock, socket.socket):
                sock.settimeout(left)
            chunk = raw.read1(CHUNK_BYTES, decode_content=True)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    except (ReadTimeoutError, TimeoutError) as exc:
        raise DeadlineExceededError(_message(timeout)) from exc
    except DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(exc) from exc
    except SSLError as exc:
        raise requests.exceptions.SSLError(exc) from exc
    except ProtocolError as exc:
        raise requests.exceptions.ChunkedEncodingError(exc) from exc


def _time_left(deadline: float, timeout: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise DeadlineExceededError(_message(timeout))
    return left


def _message(timeout: float) -> str:
    return f"no complete response within timeout ({timeout:g} s for connect, headers and whole body)"
