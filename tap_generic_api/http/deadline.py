"""One deadline for a whole HTTP exchange: connect, headers and the entire body.

requests' ``timeout`` bounds each socket operation, not the request: a server that sends one
byte every 2 s never trips a 10 s timeout and holds the run forever. requests has no total
timeout (psf/requests#3099), and urllib3's ``Timeout(total=...)`` is applied once before the
headers, not to the body. So: connecting waits at most the time left; while the headers are
awaited a timer shuts the connection's socket at the deadline (:class:`DeadlineAdapter`, which
the stream mounts); and the body is read here, one socket read at a time, with the socket's
timeout set to the time left before each read.
"""

from __future__ import annotations

import heapq
import io
import itertools
import socket
import threading
import time
from collections.abc import Callable

import requests
import requests.adapters
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError, SSLError
from urllib3.util import Timeout

from tap_generic_api.errors import DeadlineExceededError
from tap_generic_api.http.encodings import decompress_undeclared

#: Most bytes taken from the socket by one read of a body.
CHUNK_BYTES = 1 << 20


#: The deadline of the request this thread is sending (``time.monotonic()`` seconds), if any.
_current = threading.local()


class _Watchdog:
    """One daemon thread that runs each registered action at its time unless cancelled first.

    A ``threading.Timer`` per request would start a thread per request (about half a
    millisecond each on a busy machine); this keeps one thread and a heap for the whole process.
    """

    def __init__(self) -> None:
        self._wake = threading.Condition()
        self._heap: list[tuple[float, int, list[Callable[[], None] | None]]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, when: float, action: Callable[[], None]) -> list[Callable[[], None] | None]:
        """Run ``action`` at ``when`` (``time.monotonic()`` seconds); return a handle for :meth:`cancel`."""
        handle: list[Callable[[], None] | None] = [action]
        with self._wake:
            heapq.heappush(self._heap, (when, next(self._order), handle))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="request-deadlines", daemon=True)
                self._thread.start()
            if self._heap[0][2] is handle:
                self._wake.notify()
        return handle

    @staticmethod
    def cancel(handle: list[Callable[[], None] | None]) -> None:
        """Keep the action of ``handle`` from running (it is dropped from the heap when due)."""
        handle[0] = None

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._heap and self._heap[0][2][0] is None:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._wake.wait()
                    continue
                when, _, handle = self._heap[0]
                left = when - time.monotonic()
                if left > 0:
                    self._wake.wait(left)
                    continue
                heapq.heappop(self._heap)
                action, handle[0] = handle[0], None
            if action is not None:
                action()


_WATCHDOG = _Watchdog()


class _HeadersBeforeDeadline:
    """Mixin for urllib3 connections: shut the socket when the headers are not in by the deadline."""

    sock: socket.socket | None

    def getresponse(self) -> object:
        deadline = getattr(_current, "deadline", None)
        if deadline is None:
            return super().getresponse()  # type: ignore[misc]
        handle = _WATCHDOG.watch(deadline, self._expire)
        try:
            return super().getresponse()  # type: ignore[misc]
        finally:
            _WATCHDOG.cancel(handle)

    def _expire(self) -> None:
        sock = self.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed: the response came in time after all


class _Connection(_HeadersBeforeDeadline, HTTPConnection):
    pass


class _TLSConnection(_HeadersBeforeDeadline, HTTPSConnection):
    pass


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Connection


class _TLSPool(HTTPSConnectionPool):
    ConnectionCls = _TLSConnection


class DeadlineAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter whose connections stop waiting for headers at the request's deadline.

    Arguments as for :class:`requests.adapters.HTTPAdapter`. Requests through a proxy keep
    urllib3's own connections (the time left bounds each read of their headers).
    """

    def init_poolmanager(self, *args: object, **kwargs: object) -> None:
        """Create the pool manager, with pools of deadline-aware connections."""
        super().init_poolmanager(*args, **kwargs)  # type: ignore[arg-type]
        self.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _TLSPool}


def send_before(
    session: requests.Session,
    request: requests.PreparedRequest,
    *,
    deadline: float,
    timeout: float,
    proxies: dict[str, str],
    leave_body: Callable[[requests.Response], bool] | None = None,
) -> requests.Response:
    """Send ``request`` and read its whole body before ``deadline``; no redirect is followed.

    A body ``leave_body`` picks (JSON Lines, CSV: read as it arrives by
    :mod:`tap_generic_api.formats`) is left unread; the deadline then covers connect and headers,
    and each later read of the body waits at most ``timeout`` seconds.

    Args:
        session: The session sending it (its adapters, cookies, verify settings).
        request: The prepared request.
        deadline: ``time.monotonic()`` value by which the body must be complete.
        timeout: The configured ``timeout`` in seconds, for the error message.
        proxies: The proxies for the request's URL.
        leave_body: Returns True for a response whose body is left on the socket.

    Returns:
        The response, its body read (``response.content``) and decompressed (declared
        ``Content-Encoding`` or gzip / zlib data without one, see :mod:`tap_generic_api.http.encodings`).

    Raises:
        DeadlineExceededError: Connect, headers and body together took more than ``timeout``.
        requests.RequestException: The connection failed or broke (retried by the caller).
    """
    left = _time_left(deadline, timeout)
    _current.deadline = deadline
    try:
        response = session.send(
            request, timeout=Timeout(connect=left, read=left), allow_redirects=False, proxies=proxies, stream=True
        )
    except requests.exceptions.Timeout as exc:
        raise DeadlineExceededError(_message(timeout)) from exc
    except requests.exceptions.ConnectionError as exc:
        if time.monotonic() >= deadline:  # the timer shut the socket while the headers trickled in
            raise DeadlineExceededError(_message(timeout)) from exc
        raise
    finally:
        _current.deadline = None
    if leave_body is not None and leave_body(response):
        sock = getattr(getattr(response.raw, "connection", None), "sock", None)
        if isinstance(sock, socket.socket):
            sock.settimeout(timeout)  # each read of a body read as it arrives waits at most ``timeout``
        return response
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
    # A BytesIO, not a list of chunks joined at the end: its getvalue() hands over its buffer
    # without a copy, so a page is held once while it arrives, not twice when it is joined.
    chunks = io.BytesIO()
    try:
        while True:
            left = _time_left(deadline, timeout)
            sock = getattr(getattr(raw, "connection", None), "sock", None)
            if isinstance(sock, socket.socket):
                sock.settimeout(left)
            chunk = raw.read1(CHUNK_BYTES, decode_content=True)
            if not chunk:
                return chunks.getvalue()
            chunks.write(chunk)
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
