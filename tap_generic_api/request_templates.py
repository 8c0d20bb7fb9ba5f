"""Request templates: a stream's URL, params, headers and body checked at start-up and rendered per run or window."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import requests
from singer_sdk.streams.rest import HTTPRequest

from plugin_kit.errors import ConfigError
from plugin_kit.redact import strings_in
from tap_generic_api import templating
from tap_generic_api.config import StreamConfig
from tap_generic_api.errors import TooManyWindowsError
from tap_generic_api.windows import DateWindow, date_windows


class RenderedRequest(NamedTuple):
    """A stream's request templates rendered with one set of variables (one run, or one date window)."""

    url: str
    params: dict[str, str]
    headers: dict[str, str]
    body: Any

    def http_request(self, method: str) -> HTTPRequest:
        """Build the configured request: URL, params, headers and body (copies; a paginator then adds its token)."""
        body = self.body
        request = HTTPRequest(
            url=self.url,
            method=method,
            headers=dict(self.headers),
            params=dict(self.params),
            data=dict(body) if isinstance(body, Mapping) else body,
        )
        return request


class RequestTemplates:
    """A stream's request templates, checked on creation.

    Args:
        config: The stream's checked config.
        variables: Values for ``{variable}`` placeholders (config ``variables`` + built-ins).
        run_started: The run's start time (UTC), the ``{end_date}`` of incremental runs.

    Attributes:
        run_started: The run's start, the end of the last date window (settable for a controlled clock).

    Raises:
        ConfigError: A template uses an unknown variable, a start-date variable without
            ``start_date``, or ``date_window_size`` without start and end variables.
    """

    def __init__(self, config: StreamConfig, variables: Mapping[str, Any], run_started: datetime) -> None:
        self.config = config
        self._variables = dict(variables)
        # config end_date fixes the range's end, the same in every task of a partitioned run.
        self.run_started = templating.to_datetime(config.end_date) if config.end_date is not None else run_started
        self._check()

    def render(self, bookmark: Any, window: DateWindow | None = None) -> RenderedRequest:
        """Return the templates rendered for a run from ``bookmark`` (None: none), or for one date window."""
        return self.render_with(self.variables_for(bookmark, window))

    def check_url(self, url: str, redact: Callable[[str], str]) -> None:
        """Fail unless the rendered ``url`` is an http(s) URL requests can send.

        Raises:
            ConfigError: Names ``<stream>.url``; the URL is quoted with secrets masked by ``redact``.
        """
        if not url.lower().startswith(("http://", "https://")):
            msg = f"{self.config.where}.url must be an http:// or https:// URL, got {redact(url)!r}."
            raise ConfigError(msg)
        problem = _port_problem(url)
        if problem is None:
            try:
                requests.PreparedRequest().prepare_url(url, None)
            except requests.exceptions.InvalidURL:
                problem = "is not a valid URL"
        if problem is not None:
            # Neither requests' message nor the URL is quoted: either may hold a password that
            # the URL's shape keeps from being recognised as one.
            hint = (
                ""
                if problem.startswith("has port")
                else " (a user:password in it must be percent-encoded; better, put the password in secrets "
                "with auth.type basic)"
            )
            msg = f"{self.config.where}.url {problem}{hint}."
            raise ConfigError(msg)

    def _check(self) -> None:
        """Fail at start-up on unknown variables, or start-date variables without a start."""
        config = self.config
        known = set(self._variables) | set(templating.INCREMENTAL_VARIABLES)
        templates: list[tuple[str, str]] = [(f"{config.where}.url", config.url)]
        templates += [(f"{config.where}.params.{k}", str(v)) for k, v in config.params.items()]
        templates += [(f"{config.where}.headers.{k}", str(v)) for k, v in config.headers.items()]
        templates += [(f"{config.where}.body", s) for s in strings_in(config.body)]
        needs_start = {"start_date", "start_date_unix", "bookmark"}
        used: set[str] = set()
        for where, template in templates:
            for name in templating.placeholders(template):
                used.add(name)
                if name not in known:
                    templating.render(template, self._variables, where=where)  # raises, naming it
                if name in needs_start and config.start_date is None:
                    msg = (
                        f"'{where}' uses {{{name}}} but the stream has no start_date: set "
                        f"{config.where}.start_date (ISO-8601) for the first run."
                    )
                    raise ConfigError(msg)
        self._used_variables = frozenset(used)
        poll_url = config.job.poll_url if config.job else None
        if poll_url and set(templating.placeholders(poll_url)) - known - {"job_id"}:
            # A report job's status URL: the job id is known once the job is created.
            templating.render(poll_url, {**self._variables, "job_id": ""}, where=f"{config.where}.job.poll_url")
        if config.date_window_size and not (used & needs_start and used & {"end_date", "end_date_unix"}):
            # Every window would make the same requests and extract the same records again.
            msg = (
                f"{config.where}.date_window_size needs the request (url, params, headers or body) to use a "
                "start variable ({start_date}, {start_date_unix} or {bookmark}) and an end variable "
                "({end_date} or {end_date_unix}), so that each window asks for its own dates."
            )
            raise ConfigError(msg)

    def variables_for(self, bookmark: Any, window: DateWindow | None = None) -> dict[str, Any]:
        """Return the template variables: from ``bookmark`` or ``window``, then config ``variables``."""
        values = templating.incremental_variables(bookmark, self.config.start_date, self.run_started)
        if window is not None:
            values.update(window.variables())
        values.update(self._variables)
        return values

    def render_with(self, variables: Mapping[str, Any]) -> RenderedRequest:
        """Return the request templates rendered with ``variables``.

        Raises:
            ConfigError: A value does not fit its placeholder (see :mod:`~tap_generic_api.templating`).
        """
        config = self.config
        where = config.where
        if "start_date_unix" in self._used_variables and "start_date_unix" not in variables:
            msg = (
                f"Stream '{self.config.name}': {{start_date_unix}} needs a date, a timestamp or epoch seconds, but the "
                f"start (the bookmark in STATE, else {where}.start_date) is {variables.get('start_date')!r}."
            )
            raise ConfigError(msg)
        return RenderedRequest(
            url=templating.render(config.url, variables, where=f"{where}.url"),
            params=templating.render_mapping(config.params, variables, where=f"{where}.params"),
            headers=templating.render_mapping(config.headers, variables, where=f"{where}.headers"),
            body=templating.render_value(config.body, variables, where=f"{where}.body"),
        )

    def windows(self, bookmark: Any) -> list[DateWindow]:
        """Return the run's date windows: from the bookmark (else ``start_date``) to the run's start.

        Raises:
            ConfigError: The start is not a date, a timestamp or epoch seconds, or the range
                needs more than :data:`~tap_generic_api.windows.MAX_WINDOWS` windows.
        """
        config = self.config
        start = bookmark if bookmark is not None else config.start_date
        # Without STATE the SDK gives start_date as the starting value.
        from_state = bookmark is not None and bookmark != config.start_date
        source = "the bookmark in STATE" if from_state else f"{config.where}.start_date"
        try:
            start_at = templating.to_datetime(start)
        except (ValueError, OverflowError, OSError):
            msg = (
                f"Stream '{self.config.name}': date_window_size needs a date, a timestamp or epoch seconds to start "
                f"from, but {source} is {start!r}."
            )
            raise ConfigError(msg) from None
        try:
            return date_windows(start, self.run_started, float(config.date_window_size or 0))
        except TooManyWindowsError as exc:
            msg = (
                f"Stream '{self.config.name}': from {source} ({start_at:%Y-%m-%d}) to now, {exc}. Raise "
                f"{config.where}.date_window_size."
            )
            raise ConfigError(msg) from None


def _port_problem(url: str) -> str | None:
    """Return why the URL's numeric port is unusable (TCP ports are 1-65535), or None.

    A port that is not digits may be an unencoded password (``user:pa/ss@host``), so it is
    left to the general check, whose message gives that hint.
    """
    netloc = urlsplit(url).netloc
    digits = netloc.rsplit("@", 1)[-1].rpartition(":")[2]
    if ":" not in netloc or not digits.isdigit():
        return None
    if not 1 <= int(digits) <= 65535:
        return f"has port {int(digits)}; a port is a number from 1 to 65535"
    return None
