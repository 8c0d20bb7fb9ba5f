"""Following redirects without sending credentials where they do not belong.

requests follows redirects itself but drops only ``Authorization`` on a redirect to another
host (``Session.rebuild_auth``): an API-key header, a key in the query string or a cookie would
follow it. Redirects are therefore followed here.

Where credentials go is decided by origin (scheme, host and port, RFC 6454 section 4), as the
Fetch standard does for ``Authorization`` on redirects: another port of the same host is another
server. Credentials follow a redirect to the configured URL's origin (or its ``https`` upgrade),
or to a host in ``allowed_hosts`` (``host`` for any port, or ``host:port``), never from ``https``
down to ``http``. Any other redirect is followed without them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import requests

from plugin_kit.redact import SECRET_NAME
from tap_generic_api.errors import TooManyRedirectsError

if TYPE_CHECKING:
    from tap_generic_api.config import StreamConfig

#: Most redirects followed for one request (requests' own default is 30; APIs need one or two).
MAX_REDIRECTS = 5
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: Headers that carry credentials whatever the auth type.
CREDENTIAL_HEADERS = frozenset({"authorization", "cookie"})


def origin(url: str) -> tuple[str, str, int]:
    """Return ``(scheme, host, port)`` of a URL, lower case, with the scheme's default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme, 0)


@dataclass(frozen=True)
class CredentialScope:
    """Where a stream's credentials may be sent, and what they are.

    Attributes:
        configured_url: The stream's ``url`` (its origin is trusted).
        allowed_hosts: ``allowed_hosts`` entries, lower case: ``host`` or ``host:port``.
        headers: Lower-case names of headers holding credentials (``Authorization``, the auth
            header, cookies, configured headers whose names look secret).
        params: Names of query parameters holding credentials (the auth parameter). Only these:
            a redirect to storage often carries its own signature in the query
            (``X-Amz-Signature``), which must stay.
    """

    configured_url: str
    allowed_hosts: tuple[str, ...] = ()
    headers: frozenset[str] = CREDENTIAL_HEADERS
    params: frozenset[str] = frozenset()

    @classmethod
    def build(
        cls, configured_url: str, allowed_hosts: Iterable[str], headers: Iterable[str], params: Iterable[str]
    ) -> CredentialScope:
        """Build a scope; header names are added to the ones always held secret."""
        return cls(
            configured_url=configured_url,
            allowed_hosts=tuple(h.lower() for h in allowed_hosts),
            headers=CREDENTIAL_HEADERS | {h.lower() for h in headers},
            params=frozenset(params),
        )

    @classmethod
    def of_stream(cls, stream_config: StreamConfig, url: str) -> CredentialScope:
        """Return the scope of a stream whose first page is ``url`` (its rendered ``url``).

        Its credentials: the ``auth.header_name`` header (auth type ``header``), configured
        headers whose names look secret, and the ``auth.param_name`` parameter (type ``query``).
        """
        auth = stream_config.auth
        return cls.build(
            url,
            stream_config.allowed_hosts,
            headers=[
                *([auth.header_name] if auth and auth.type == "header" else []),
                *(name for name in stream_config.headers if SECRET_NAME.search(name)),
            ],
            params=[auth.param_name] if auth and auth.type == "query" else [],
        )

    def trusts(self, url: str) -> bool:
        """Return True when credentials may be sent to ``url``."""
        scheme, host, port = origin(url)
        home_scheme, home_host, home_port = origin(self.configured_url)
        if home_scheme == "https" and scheme != "https":
            return False
        if (host, port) == (home_host, home_port) and scheme == home_scheme:
            return True
        if host == home_host and scheme == "https" and home_scheme == "http" and home_port == _DEFAULT_PORTS["http"]:
            return port == _DEFAULT_PORTS["https"]  # the upgrade requests also allows
        return host in self.allowed_hosts or f"{host}:{port}" in self.allowed_hosts

    def strip(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Remove credential headers and query parameters from ``request`` (changed in place)."""
        for name in list(request.headers):
            if name.lower() in self.headers or SECRET_NAME.search(name):
                del request.headers[name]
        scheme, netloc, path, query, fragment = urlsplit(request.url or "")
        pairs = parse_qsl(query, keep_blank_values=True)
        kept = [(n, v) for n, v in pairs if n not in self.params]
        if len(kept) != len(pairs):
            request.url = urlunsplit((scheme, netloc, path, urlencode(kept), fragment))
        return request


def follow(
    response: requests.Response,
    request: requests.PreparedRequest,
    *,
    scope: CredentialScope,
    send: Callable[[requests.PreparedRequest], requests.Response],
    authenticate: Callable[[requests.PreparedRequest], requests.PreparedRequest],
    on_foreign: Callable[[str, str], None],
    describe: Callable[[str], str],
) -> requests.Response:
    """Follow the redirects of ``response`` (RFC 9110 section 15.4), up to :data:`MAX_REDIRECTS`.

    301, 302 and 303 turn a request other than HEAD into a GET without a body (as browsers
    and requests do); 307 and 308 resend it as it was.

    Args:
        response: The answer to ``request``.
        request: The request as prepared, before authentication.
        scope: Where credentials may go.
        send: Sends one request (rate limit, deadline, proxies), no redirect followed.
        authenticate: Adds the credentials to a request.
        on_foreign: Called with (from URL, to URL) before a redirect is followed without credentials.
        describe: Masks secrets in a URL, for the error message.

    Returns:
        The first answer that is not a redirect.

    Raises:
        TooManyRedirectsError: More than :data:`MAX_REDIRECTS` redirects; the message names the chain.
    """
    chain = [response.url]
    while response.is_redirect:
        if len(chain) > MAX_REDIRECTS:
            location = urljoin(response.url, response.headers["Location"])
            shown = " -> ".join(describe(url) for url in [*chain, location])
            msg = f"more than {MAX_REDIRECTS} redirects: {shown}"
            raise TooManyRedirectsError(msg)
        target = urljoin(response.url, response.headers["Location"])
        nxt = request.copy()
        nxt.prepare_url(target, None)
        if response.status_code in (301, 302, 303) and nxt.method != "HEAD":
            nxt.method, nxt.body = "GET", None
            for name in ("Content-Length", "Content-Type", "Transfer-Encoding"):
                nxt.headers.pop(name, None)
        if scope.trusts(target):
            nxt = authenticate(nxt)
        else:
            on_foreign(response.url, target)
            nxt = scope.strip(nxt)
        response.close()
        response = send(nxt)
        chain.append(response.url)
    return response
