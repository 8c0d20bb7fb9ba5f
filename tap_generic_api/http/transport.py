"""Sending a stream's requests.

Credentials per attempt, the rate limit, the shared 429 pause, one deadline per attempt,
proxies resolved once per host, and redirects that keep credentials to their origin.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
from pyrate_limiter import Limiter

from plugin_kit.proxies import proxies_for
from tap_generic_api.config import StreamConfig
from tap_generic_api.errors import StreamStoppedError, TooManyRedirectsError
from tap_generic_api.formats.choice import read_as_stream
from tap_generic_api.http import redirects
from tap_generic_api.http.deadline import DeadlineAdapter, send_before
from tap_generic_api.http.ratelimit import RateLimiters

#: Connections kept per host by requests' default adapter.
DEFAULT_POOL_SIZE = 10


class Transport:
    """Sends one stream's requests (from any of its threads).

    Args:
        config: The stream's config (``timeout``, ``allowed_hosts``, auth, ``max_concurrency``).
        session: The stream's session; its adapters are replaced by :class:`DeadlineAdapter`.
        authenticate: Adds credentials to a prepared request (the stream's authenticator).
        limiter: The shared limiter for the stream's ``requests_per_second``.
        home_url: Returns the rendered URL of the stream's first page (credentials' origin).
        describe: Masks secrets in a URL, for messages.
        logger: The stream's logger.
        stopping: Set when the stream stops: no thread sends or waits any longer.
        ahead: Per-thread state: ``ended`` is set when the page sequence of a request fetched
            ahead has ended (see :func:`~tap_generic_api.paging.loops.pages_ahead`).

    Raises:
        ProxyConfigError: The proxy for the first URL is malformed (checked now, not at the first request).
    """

    def __init__(
        self,
        config: StreamConfig,
        session: requests.Session,
        *,
        authenticate: Callable[[requests.PreparedRequest], requests.PreparedRequest],
        limiter: Limiter,
        home_url: Callable[[], str],
        describe: Callable[[str | None], str],
        logger: logging.Logger,
        stopping: threading.Event,
        ahead: threading.local,
    ) -> None:
        self.config = config
        self.session = session
        self._authenticate = authenticate
        self._limiter = limiter
        self._home_url = home_url
        self._describe = describe
        self._logger = logger
        self._stopping = stopping
        self._ahead = ahead
        #: Proxies for each ``scheme://host:port`` the stream sends to (see :meth:`proxies_for`).
        self._proxies: dict[str, dict[str, str]] = {}
        # Until when (monotonic seconds) a 429 paused the stream's requests, and which thread
        # got the 429 (it waits in its own retry).
        self._pause_lock = threading.Lock()
        self._paused_until = 0.0
        self._paused_by = 0
        # requests keeps 10 connections per host; with max_concurrency above 10 the others
        # would be opened and dropped on every request.
        size = max(DEFAULT_POOL_SIZE, config.pagination.max_concurrency)
        for prefix in ("http://", "https://"):
            session.mount(prefix, DeadlineAdapter(pool_connections=size, pool_maxsize=size))
        self.proxies_for(home_url())

    def send(
        self, prepared_request: requests.PreparedRequest, *, allow_redirects: bool = True, credentials: bool = True
    ) -> requests.Response:
        """Send one attempt of ``prepared_request`` (not modified) and return the answer, redirects followed.

        With ``credentials`` False, nothing of the stream's credentials is added (a report's download
        URL on another origin, see :mod:`tap_generic_api.report_jobs`), on redirects either.

        Raises:
            StreamStoppedError: The stream stopped, or the request's page sequence ended, before it was sent.
            DeadlineExceededError: The attempt took longer than ``timeout`` seconds in all.
            TooManyRedirectsError: More redirects than :data:`~tap_generic_api.http.redirects.MAX_REDIRECTS`.
        """
        self.wait_out_pause()
        # A copy per attempt: a resend after a token renewal must not rewrite the first request.
        authenticated = self._authenticate(prepared_request.copy()) if credentials else prepared_request.copy()
        RateLimiters.acquire(self._limiter)
        self.wait_out_pause()  # a 429 may have come while this thread waited for the limiter
        # One deadline for the whole attempt, redirects included (see deadline.py); redirects
        # are followed by redirects.follow, which keeps credentials to their origin.
        timeout = self.config.timeout
        deadline = time.monotonic() + timeout

        def send(request: requests.PreparedRequest) -> requests.Response:
            return send_before(
                self.session,
                request,
                deadline=deadline,
                timeout=timeout,
                proxies=self.proxies_for(request.url),
                leave_body=self._leave_body,
            )

        response = send(authenticated)
        if allow_redirects and response.is_redirect:
            response = self._follow_redirects(response, prepared_request, send, credentials=credentials)
        return response

    def _leave_body(self, response: requests.Response) -> bool:
        """Return True for a 2xx body read as it arrives (:func:`tap_generic_api.formats.choice.read_as_stream`)."""
        return response.ok and not response.is_redirect and read_as_stream(self.config.response_format, response)

    def _follow_redirects(
        self,
        response: requests.Response,
        prepared_request: requests.PreparedRequest,
        send: Callable[[requests.PreparedRequest], requests.Response],
        *,
        credentials: bool = True,
    ) -> requests.Response:
        """Follow redirects, with credentials only where they belong (see :mod:`tap_generic_api.http.redirects`)."""

        def send_limited(request: requests.PreparedRequest) -> requests.Response:
            RateLimiters.acquire(self._limiter)
            return send(request)

        def on_foreign(source: str, target: str) -> None:
            self._logger.warning(
                "Stream '%s': %s redirects to %s, another origin; following it without credentials "
                "(add the host to allowed_hosts to send them there).",
                self.config.name,
                self._describe(source),
                self._describe(target),
            )

        try:
            return redirects.follow(
                response,
                prepared_request,
                scope=redirects.CredentialScope.of_stream(self.config, self._home_url()),
                send=send_limited,
                authenticate=self._authenticate if credentials else lambda request: request,
                on_foreign=on_foreign,
                describe=self._describe,
            )
        except TooManyRedirectsError as exc:
            msg = f"Stream '{self.config.name}': {exc}"
            raise TooManyRedirectsError(msg, stream=self.config.name) from None

    def proxies_for(self, url: str | None) -> dict[str, str]:
        """Return the proxies for the URL's ``scheme://host:port``, resolved once per run.

        requests resolves them on every ``send`` (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and
        NO_PROXY): it reads the whole environment twice, about 0.1 ms per request with 40
        variables, more on CI machines that set hundreds. The environment does not change
        during a run, and the answer depends only on the scheme, host and port.

        Raises:
            ProxyConfigError: The proxy for this host is malformed (checked before sending).
        """
        url = url or ""
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}"
        proxies = self._proxies.get(key)
        if proxies is None:
            proxies = self._proxies[key] = proxies_for(url, self.session)
        return proxies

    def pause(self, wait: float) -> None:
        """Hold the stream's other threads' requests for ``wait`` seconds (after a 429 to this thread).

        The API asked the client, not this one request, to slow down (RFC 6585 section 4).
        """
        with self._pause_lock:
            until = time.monotonic() + wait
            if until > self._paused_until:
                self._paused_until, self._paused_by = until, threading.get_ident()

    def wait_out_pause(self) -> None:
        """Hold this thread while a 429 to another thread of the stream pauses it.

        Raises:
            StreamStoppedError: The stream stopped (a date window failed), before or while waiting;
                or, in a request fetched ahead, its page sequence has ended.
        """
        wait = self._paused_until - time.monotonic()
        if wait > 0 and self._paused_by != threading.get_ident():
            self._stopping.wait(wait)
        if self._stopping.is_set():
            raise StreamStoppedError(self.config.name)
        ended: Any = getattr(self._ahead, "ended", None)
        if ended is not None and ended.is_set():
            raise StreamStoppedError(self.config.name)
