"""The probe's HTTP client: credentials from environment variables, a hard request budget, a slow rate.

The probe runs against an API nobody has configured yet, so it sends few requests and slowly:
never more than its budget (``--max-pages + 3``), spaced by the project's rate limits
(:func:`tap_generic_api.http.ratelimit.rates_for`, counted by pyrate-limiter's bucket) on an
injectable clock, so tests check the spacing without sleeping.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import requests
from pyrate_limiter import InMemoryBucket, RateItem

from plugin_kit.errors import ConfigError
from plugin_kit.redact import redact_text
from tap_generic_api.http.ratelimit import rates_for
from tap_generic_api.http.retries import parse_retry_after

#: Conservative default rate for an API whose limits are not known yet (requests per second).
DEFAULT_RATE = 2.0
#: Redirects followed per request, each a request of the budget (same scheme, host and port only).
MAX_REDIRECTS = 3
#: Statuses asked again after the wait ``Retry-After`` names (RFC 9110 section 10.2.3, RFC 6585 section 4).
RETRY_STATUSES = (429, 503)
#: Longest ``Retry-After`` the probe waits for (seconds); a longer one stops it, saying so.
MAX_RETRY_WAIT = 60.0
#: Wait before asking again when a 429 or 503 names no ``Retry-After`` (seconds).
DEFAULT_RETRY_WAIT = 2.0
#: Largest answer the probe reads (bytes): an export endpoint's one huge page would otherwise be
#: read whole into memory before a single finding.
MAX_BODY_BYTES = 64 * 1024 * 1024


class BudgetExceededError(RuntimeError):
    """The probe would send more requests than its budget allows."""


@dataclass(frozen=True)
class ProbeAuth:
    """How the probe authenticates, and the tap config block that does the same.

    Attributes:
        kind: ``bearer``, ``header``, ``query`` or ``basic`` (the tap's ``auth.type``).
        name: Header or query parameter name (``header`` / ``query``).
        env_var: The environment variable holding the secret.
        secret: The secret itself; only ever sent, never printed.
    """

    kind: str
    name: str
    env_var: str
    secret: str = field(repr=False)

    @property
    def secret_key(self) -> str:
        """Return the key under config ``secrets`` the tap reads the secret from (the variable, lower-case)."""
        return self.env_var.lower()

    def config_block(self) -> dict[str, Any]:
        """Return the tap's ``auth`` block: where the secret goes, with the secret left to ``secrets``."""
        block: dict[str, Any] = {"type": self.kind, "secret_key": self.secret_key}
        if self.kind == "header":
            block["header_name"] = self.name
        elif self.kind == "query":
            block["param_name"] = self.name
        return block

    def apply(self, headers: dict[str, str], params: dict[str, Any]) -> None:
        """Add the credential to a request's headers or query parameters, in place."""
        if self.kind == "bearer":
            headers["Authorization"] = f"Bearer {self.secret}"
        elif self.kind == "basic":
            headers["Authorization"] = "Basic " + base64.b64encode(self.secret.encode()).decode()
        elif self.kind == "header":
            headers[self.name] = self.secret
        else:
            params[self.name] = self.secret


def auth_from_env(
    *,
    bearer_env: str | None = None,
    header_env: str | None = None,
    query_env: str | None = None,
    basic_env: str | None = None,
    environ: dict[str, str] | None = None,
) -> ProbeAuth | None:
    """Return the credential named by the ``--*-env`` options, read from the environment.

    ``header_env`` and ``query_env`` are ``NAME=VAR``; ``basic_env`` names a variable holding
    ``user:password``. Secrets never come from the command line, where the process list and
    shell history would show them.

    Raises:
        ConfigError: More than one option is given, an option is malformed, or the variable is unset or empty.
    """
    environ = dict(os.environ) if environ is None else environ
    given = [
        (kind, value)
        for kind, value in (("bearer", bearer_env), ("header", header_env), ("query", query_env), ("basic", basic_env))
        if value
    ]
    if not given:
        return None
    if len(given) > 1:
        msg = "give one of --bearer-env, --header-env, --query-env, --basic-env (the tap sends one credential)."
        raise ConfigError(msg)
    kind, value = given[0]
    name = ""
    var = value
    if kind in ("header", "query"):
        name, sep, var = value.partition("=")
        if not sep or not name or not var:
            msg = f"--{kind}-env takes NAME=VAR (the {kind} name, then the environment variable), got {value!r}."
            raise ConfigError(msg)
    secret = environ.get(var, "")
    if not secret:
        msg = f"--{kind}-env: environment variable {var} is not set or empty."
        raise ConfigError(msg)
    if kind == "basic" and ":" not in secret:
        msg = f"--basic-env: environment variable {var} must hold user:password."
        raise ConfigError(msg)
    return ProbeAuth(kind=kind, name=name, env_var=var, secret=secret)


class Pacer:
    """Spaces requests by the project's rate limits, on an injectable clock.

    Args:
        requests_per_second: The rate (> 0).
        clock: Returns the time in seconds (monotonic).
        sleep: Waits a number of seconds (tests pass one that moves their clock).
    """

    def __init__(
        self,
        requests_per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._bucket = InMemoryBucket(rates_for(requests_per_second))
        self._clock = clock
        self._sleep = sleep

    def pause(self, seconds: float) -> None:
        """Wait ``seconds`` (a ``Retry-After``), on the pacer's clock."""
        self._sleep(seconds)

    def wait(self) -> None:
        """Return when one more request is allowed, sleeping as long as the bucket says."""
        while True:
            item = RateItem("probe", int(self._clock() * 1000))
            if self._bucket.put(item):
                return
            self._sleep(max(1, self._bucket.waiting(item)) / 1000)


class ProbeClient:
    """Sends the probe's GET requests with the credential, within the budget and the rate.

    Args:
        budget: Most requests to send.
        auth: The credential, or None.
        pacer: Spaces the requests.
        timeout: Seconds per request.
        session: The requests session (tests may pass one mounted on requests-mock).

    Attributes:
        sent: ``(url without the credential, params without it)`` of each request, in order.
        waits: ``(status, seconds)`` of each 429 or 503 waited out.
    """

    def __init__(
        self,
        *,
        budget: int,
        auth: ProbeAuth | None,
        pacer: Pacer,
        timeout: float = 30.0,
        session: requests.Session | None = None,
    ) -> None:
        self.budget = budget
        self.auth = auth
        self.pacer = pacer
        self.timeout = timeout
        self.session = session or requests.Session()
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.waits: list[tuple[int, float]] = []
        self._cache: dict[tuple[str, tuple[tuple[str, str], ...]], requests.Response] = {}

    @property
    def secrets(self) -> list[str]:
        """Return the secrets to mask in anything printed."""
        return [self.auth.secret] if self.auth else []

    def redact(self, text: str) -> str:
        """Return ``text`` with the credential masked."""
        return redact_text(text, self.secrets)

    @property
    def left(self) -> int:
        """Return how many requests the budget still allows."""
        return self.budget - len(self.sent)

    def get(self, url: str, params: dict[str, Any] | None = None) -> requests.Response:
        """Send a GET (or return the answer to the same request already sent) and return the response.

        Raises:
            BudgetExceededError: The budget is spent.
            requests.HTTPError: The answer is not 2xx (the message masks the credential).
        """
        params = {k: v for k, v in (params or {}).items() if v is not None}
        if self.auth and self.auth.kind == "query":
            url = without_param(url, self.auth.name)  # a next link may echo the credential back
        key = (url, tuple(sorted((str(k), str(v)) for k, v in params.items())))
        if key in self._cache:
            return self._cache[key]
        if self.left <= 0:
            msg = f"the probe's request budget ({self.budget}) is spent."
            raise BudgetExceededError(msg)
        response = self._send(url, params)
        if not response.ok:
            where = self.redact(response.url)
            msg = f"{response.status_code} {response.reason} from {where}: {self.redact(response.text[:300])}"
            if response.status_code in (401, 403):  # noqa: PLR2004
                given = f"the credential in ${self.auth.env_var}" if self.auth else "no credential was sent"
                msg += f" ({given}; give one with --bearer-env, --header-env, --query-env or --basic-env)"
            raise requests.HTTPError(msg, response=response)
        if response.is_redirect:
            msg = f"more than {MAX_REDIRECTS} redirects from {self.redact(url)}"
            raise requests.HTTPError(msg, response=response)
        self._cache[key] = response
        return response

    def _send(self, url: str, params: dict[str, Any]) -> requests.Response:
        """Send one GET, following same-origin redirects and waiting out 429/503, each try within the budget.

        requests follows redirects to other hosts and drops only ``Authorization`` there: a
        ``--header-env`` or ``--query-env`` credential would go to the other host. So redirects
        are followed here, and only to the same scheme, host and port.

        Raises:
            BudgetExceededError: The budget is spent (retries and redirects count).
            requests.HTTPError: A redirect to another origin, or a ``Retry-After`` over :data:`MAX_RETRY_WAIT`.
        """
        origin = urlsplit(url)[:2]
        redirects = retries = 0
        while True:
            if self.left <= 0:
                msg = f"the probe's request budget ({self.budget}) is spent."
                raise BudgetExceededError(msg)
            headers = {"Accept": "application/json"}
            sent_params = dict(params)
            if self.auth:
                self.auth.apply(headers, sent_params)
            self.pacer.wait()
            self.sent.append((url, params))
            response = self.session.get(
                url, params=sent_params, headers=headers, timeout=self.timeout, allow_redirects=False, stream=True
            )
            _read_capped(response, self.redact)
            if response.is_redirect and redirects < MAX_REDIRECTS:
                location = urljoin(response.url, response.headers["Location"])
                if urlsplit(location)[:2] != origin:
                    msg = (
                        f"{response.status_code} redirect from {self.redact(url)} to another host "
                        f"({self.redact(location)}): the credential is not sent there; probe that URL if you trust it"
                    )
                    raise requests.HTTPError(msg, response=response)
                url = without_param(location, self.auth.name) if self.auth and self.auth.kind == "query" else location
                params, redirects = {}, redirects + 1  # the Location holds the whole query
                continue
            if response.status_code in RETRY_STATUSES and retries < 2:  # noqa: PLR2004 - two waits at most
                wait = parse_retry_after(response.headers.get("Retry-After"))
                wait = DEFAULT_RETRY_WAIT if wait is None else wait
                if wait > MAX_RETRY_WAIT:
                    msg = (
                        f"{response.status_code} from {self.redact(url)} with Retry-After {wait:g} s, over the "
                        f"probe's {MAX_RETRY_WAIT:g} s: probe again later"
                    )
                    raise requests.HTTPError(msg, response=response)
                self.pacer.pause(wait)
                self.waits.append((response.status_code, wait))
                retries += 1
                continue
            return response


def _read_capped(response: requests.Response, redact: Callable[[str], str]) -> None:
    """Read the body of a streamed ``response`` into it, refusing more than :data:`MAX_BODY_BYTES`.

    Raises:
        requests.HTTPError: The body is larger (the message says how to ask for a smaller page).
    """
    chunks, size = [], 0
    for chunk in response.iter_content(chunk_size=1024 * 1024):
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            response.close()
            msg = (
                f"the answer from {redact(response.url)} is over {MAX_BODY_BYTES // (1024 * 1024)} MiB: probe with a "
                "smaller page size (--param limit=100, or the API's page-size parameter)"
            )
            raise requests.HTTPError(msg, response=response)
    response._content = b"".join(chunks)  # noqa: SLF001 - requests' own cache of a read body
    response._content_consumed = True  # noqa: SLF001


def without_param(url: str, name: str) -> str:
    """Return ``url`` without the query parameter ``name`` (the rest of the query kept in order)."""
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if k != name]
    if len(kept) == len(pairs):
        return url
    return urlunsplit(parts._replace(query=urlencode(kept)))
