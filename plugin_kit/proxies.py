"""Proxies from the environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY), as requests reads them.

requests looks them up on every request and reports a malformed one only when a request is
sent, as ``InvalidURL: Failed to parse: <the proxy URL>``, password included. Here they are
resolved once per host, checked before the first request, and their passwords are masked
like config secrets.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

import requests
import requests.utils
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from plugin_kit.errors import ConfigError
from plugin_kit.redact import redact_url

#: The variables requests reads proxies from (lower-case wins when both are set).
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


class ProxyConfigError(ConfigError):
    """A proxy URL in the environment cannot be used; the message names the variable."""


def _proxy_variables(environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """Return ``(name, value)`` of the proxy variables set, any case (requests ignores the case)."""
    wanted = {name.lower() for name in PROXY_VARIABLES}
    return [(name, value) for name, value in environ.items() if name.lower() in wanted and value]


def proxy_passwords(environ: Mapping[str, str] | None = None) -> list[str]:
    """Return the passwords in the proxy URLs of the environment, as written and decoded."""
    found: list[str] = []
    for _, value in _proxy_variables(os.environ if environ is None else environ):
        # Split by hand: urlsplit refuses some malformed URLs ("[::1" hosts), which must still
        # have their password masked.
        authority = value.split("://", 1)[-1].split("/", 1)[0]
        if "@" not in authority:
            continue
        user, _, password = authority.rpartition("@")[0].partition(":")
        secret = password or user  # a token may be sent as the user name alone
        found.extend(s for s in dict.fromkeys((secret, unquote(secret))) if s and s not in found)
    return found


def proxies_for(url: str, session: requests.Session | None = None) -> dict[str, str]:
    """Return the proxies requests would use for ``url`` (scheme -> proxy URL), checked.

    Args:
        url: A URL of the host to reach; only its scheme, host and port matter.
        session: The session whose ``proxies`` and ``trust_env`` apply (default: a new one's).

    Raises:
        ProxyConfigError: The proxy chosen for ``url`` is not a URL requests can use (a port out
            of range, no host); the message names the variable and masks the password.
    """
    own = session.proxies if session is not None else {}
    trust_env = session.trust_env if session is not None else True
    proxies = requests.utils.resolve_proxies(requests.Request("GET", url), own, trust_env)
    for proxy in proxies.values():
        problem = _proxy_problem(proxy)
        if problem:
            names = [name for name, value in _proxy_variables(os.environ) if value == proxy] or ["session proxies"]
            parts = urlsplit(url)
            try:
                shown = redact_url(proxy if "://" in proxy else f"http://{proxy}")
            except ValueError:  # too malformed to show safely
                shown = "(not shown)"
            msg = (
                f"The proxy for {parts.scheme}://{parts.netloc.rpartition('@')[2]} from {' / '.join(names)} "
                f"{problem}: {shown}. Fix or unset it, or exempt the host with NO_PROXY."
            )
            raise ProxyConfigError(msg)
    return proxies


def _proxy_problem(proxy: str) -> str:
    """Return why requests could not use ``proxy``, or an empty text."""
    try:
        parsed = parse_url(requests.utils.prepend_scheme_if_needed(proxy, "http"))
    except (LocationParseError, ValueError):
        return "is not a usable URL"
    if not parsed.host:
        return "is not a usable URL"
    if (parsed.scheme or "").startswith("socks") and importlib.util.find_spec("socks") is None:
        return "is a SOCKS proxy, which needs PySocks (pip install 'requests[socks]')"
    return ""
