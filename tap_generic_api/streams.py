"""One generic REST stream, driven by a checked :class:`StreamConfig`: the singer-sdk hooks and their wiring.

Each hook delegates: request templates (:mod:`~tap_generic_api.request_templates`), sending
(:mod:`~tap_generic_api.http.transport`), retries (:mod:`~tap_generic_api.http.retry_policy`), page
loops (:mod:`~tap_generic_api.paging.runner`), records (:mod:`~tap_generic_api.paging.records`), the sync
loop (:mod:`~tap_generic_api.sync_loop`) and the fast RECORD writer (:mod:`~tap_generic_api.record_output`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import requests
from pyrate_limiter import Limiter
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.streams import RESTStream
from singer_sdk.streams.rest import HTTPRequest, PageContext

from tap_generic_api import sync_loop
from tap_generic_api.auth import NoAuth, OAuth2GrantAuth
from tap_generic_api.children.sync import sync_parent
from tap_generic_api.config import StreamConfig
from tap_generic_api.http.messages import StreamMessages
from tap_generic_api.http.retry_policy import RetryPolicy
from tap_generic_api.http.transport import Transport
from tap_generic_api.paging.base import SafePaginator
from tap_generic_api.paging.paginators import build_paginator
from tap_generic_api.paging.records import RecordReader, records_pass_through
from tap_generic_api.paging.runner import PageRunner
from tap_generic_api.partitions.plan import StreamPartition
from tap_generic_api.record_output import FastRecordOutput
from tap_generic_api.request_templates import RenderedRequest, RequestTemplates
from tap_generic_api.schemas import INFER_SCHEMA_MAX_WINDOWS, declared_schema, infer_from_pages
from tap_generic_api.windows import DateWindow

if TYPE_CHECKING:
    from singer_sdk import Tap


class GenericAPIStream(RESTStream[Any]):
    """A REST stream whose URL, auth, pagination and record path all come from config.

    Requests go through the run's shared rate limiter, are retried per :mod:`~tap_generic_api.http.retries`,
    and follow the stream's paginator. Templates are checked at start-up and rendered when
    the stream starts (incremental variables need the bookmark from STATE).

    Args:
        tap: The tap.
        stream_config: The stream's checked config.
        variables: Values for ``{variable}`` placeholders (config ``variables`` + built-ins).
        authenticator: The request authenticator, or None for an API without auth.
        limiter: The shared limiter for this stream's ``requests_per_second``.
        run_started: The run's start time (UTC), the ``{end_date}`` of incremental runs.
        secrets: Secret strings to mask in any message this stream writes.
    """

    # Records go out exactly as the API sent them.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    # A STATE message every 1,000 records (the SDK's default is 10,000): an interrupted run
    # of a sorted stream resumes at most one target batch back.
    STATE_MSG_FREQUENCY = 1000
    path = ""
    #: This stream's place in a partitioned run (config ``partition``); None when the run is not split.
    task_share: StreamPartition | None = None

    def __init__(
        self,
        tap: Tap,
        stream_config: StreamConfig,
        *,
        variables: Mapping[str, Any],
        authenticator: Any,
        limiter: Limiter,
        run_started: datetime,
        secrets: Iterable[str] = (),
    ) -> None:
        self.stream_config = stream_config
        # The SDK calls the authenticator on every request.
        self._authenticator = authenticator or NoAuth()
        self.messages = StreamMessages(stream_config, secrets, self._authenticator)
        self._records_of = RecordReader(stream_config, self.messages)
        self._paginator: SafePaginator | None = None
        self.runner = PageRunner(self)
        self.output = FastRecordOutput(self)
        self.templates = RequestTemplates(stream_config, variables, run_started)
        # Rendered for real when the stream starts; these are the start-up values.
        self._rendered = self.templates.render(None)
        self.templates.check_url(self._rendered.url, self.redact_url)
        schema = declared_schema(stream_config.schema, stream_config.key_fields, stream_config.replication_key)
        super().__init__(tap=tap, name=stream_config.name, schema=schema, http_method=stream_config.method)
        self.primary_keys = list(stream_config.key_fields)
        # A malformed proxy in the environment is a config error now, not at the first request.
        self.transport = Transport(
            stream_config,
            self.requests_session,
            authenticate=self._authenticator,
            limiter=limiter,
            home_url=lambda: self._rendered.url,
            describe=self.redact_url,
            logger=self.logger,
            stopping=self.runner.stopping,
            ahead=self.runner.ahead,
        )
        self.retry_policy = RetryPolicy(
            stream_config.rate_limit,
            self.messages,
            stopping=self.runner.stopping,
            pause=self.transport.pause,
            logger=self.logger,
        )
        self.replication_key = stream_config.replication_key
        self._is_sorted = stream_config.is_sorted

    @property
    def is_sorted(self) -> bool:
        """Whether records arrive in replication-key order (config ``is_sorted``)."""
        return self._is_sorted

    # -- SDK hooks: request building ----------------------------------------------

    @property
    def url_base(self) -> str:
        """The rendered URL of the first page."""
        return self._rendered.url

    @property
    def authenticator(self) -> Any:
        """The stream's authenticator (a ``requests`` auth hook)."""
        return self._authenticator

    @property
    def timeout(self) -> float:  # type: ignore[override]
        """Seconds one request may take in all: connect, headers, body (config ``timeout``, default 60)."""
        return self.stream_config.timeout

    @property
    def http_headers(self) -> dict[str, str]:
        """Configured headers, rendered."""
        return dict(self._rendered.headers)

    def get_url(self, context: Mapping[str, Any] | None) -> str:
        """Return the rendered URL (templating is ours)."""
        return self._rendered.url

    def get_new_paginator(self, rendered: RenderedRequest | None = None) -> SafePaginator:
        """Return a fresh paginator for ``rendered`` (default: the run's request).

        The run's paginator is kept to place its token in each request of the SDK's loop;
        every paginator is kept for the stream's summary.
        """
        paginator = build_paginator(
            self.stream_config.pagination,
            records_of=self._records_of,
            stream=self.name,
            first_url=(rendered or self._rendered).url,
            allowed_hosts=self.stream_config.allowed_hosts,
            redact=self.redact_url,
            data_path=self._records_of.data_path,
        )
        if rendered is None or rendered is self._rendered:
            self._paginator = paginator
        self.runner.paginators.append(paginator)
        return paginator

    def get_http_request(self, *, page: PageContext) -> HTTPRequest:
        """Build the request for the paginator's current page: the configured one, then the paginator's token."""
        request = self._rendered.http_request(self.http_method)
        if self._paginator is not None:
            self._paginator.update_request(request, page.next_page_token)
        return request

    def build_prepared_request(self, *args: Any, **kwargs: Any) -> requests.PreparedRequest:
        """Build a request without credentials (arguments as for :class:`requests.Request`).

        The SDK authenticates here, outside the retry loop; :meth:`_send` authenticates each
        attempt instead, so an OAuth2 token endpoint outage is retried like the request itself.
        """
        request = requests.Request(*args, **kwargs)
        request.headers.setdefault("User-Agent", self.user_agent)
        return self.requests_session.prepare_request(request)

    def _prepare(self, rendered: RenderedRequest, paginator: SafePaginator, token: Any) -> requests.PreparedRequest:
        """Return the prepared request for ``token`` (the SDK's ``_prepare_request``, per window)."""
        request = rendered.http_request(self.http_method)
        # The paginator's token and page size; a link paginator replaces the URL with the next URL as given.
        paginator.update_request(request, token)
        return self.build_prepared_request(
            method=request.method,
            url=request.url,
            params=request.encode_params(),
            headers=request.headers,
            **({"json": request.data} if self.payload_as_json else {"data": request.data}),
        )

    # -- SDK hooks: sending, retries, errors (see tap_generic_api.http) -------------

    def _request(
        self, prepared_request: requests.PreparedRequest, context: Mapping | None, *, body_optional: bool = False
    ) -> requests.Response:
        """Send one request under the rate limit, then classify the answer.

        On a 401 with an OAuth2 grant the token is renewed once and the request sent again.
        ``body_optional``: a 2xx with an empty body is an answer, not a failure to retry (a report job's
        creation answered by a header).
        """
        response = self._send(prepared_request, context)
        if response.status_code == HTTPStatus.UNAUTHORIZED and isinstance(self._authenticator, OAuth2GrantAuth):
            self.logger.info("Stream '%s': 401 with an OAuth2 token; renewing the token and retrying once.", self.name)
            self._authenticator.invalidate()
            response = self._send(prepared_request, context)
        if body_optional:
            self.retry_policy.validate(response, body_optional=True)
        else:
            self.validate_response(response)
        return response

    def _send(self, prepared_request: requests.PreparedRequest, context: Mapping | None) -> requests.Response:
        response = self.transport.send(prepared_request, allow_redirects=self.allow_redirects)
        self._write_request_duration_log(endpoint=self.path, response=response, context=context, extra_tags=None)
        return response

    def validate_response(self, response: requests.Response) -> None:
        """Raise per the retry policy (:meth:`RetryPolicy.validate`)."""
        self.retry_policy.validate(response)

    def backoff_wait_generator(self) -> Any:
        """Return the waits (:meth:`RetryPolicy.waits`)."""
        return self.retry_policy.waits()

    def backoff_max_tries(self) -> int:
        """Return the attempts per request: 1 + ``rate_limit.max_retries``."""
        return self.retry_policy.max_tries

    def backoff_jitter(self, value: float) -> float:
        """No jitter: waits are exactly what the API asked for, or ``2^attempt`` seconds."""
        return value

    def backoff_handler(self, details: Any) -> None:
        """Count and log each retry (:meth:`RetryPolicy.on_retry`)."""
        self.retry_policy.on_retry(details)

    def request_decorator(self, func: Callable) -> Callable:
        """Retry through the SDK's backoff hooks (:meth:`RetryPolicy.decorate`)."""
        return self.retry_policy.decorate(
            func,
            waits=self.backoff_wait_generator,
            on_retry=self.backoff_handler,
            jitter=self.backoff_jitter,
            attempts=self.backoff_max_tries(),
        )

    def redact_url(self, url: str | None) -> str:
        """Return ``url`` with secrets masked (:meth:`StreamMessages.url`)."""
        return self.messages.url(url)

    def response_error_message(self, response: requests.Response) -> str:
        """Build an error message: stream, status, reason, redacted URL, short body excerpt."""
        return self.messages.error_message(response)

    # -- records -------------------------------------------------------------------

    def parse_response(self, response: requests.Response) -> Iterable[dict]:
        """Yield the records at ``data_path`` in response order (a JSON Lines or CSV body: chunk by chunk)."""
        records = self._records_of(response)
        yield from records if isinstance(records, list) else itertools.chain.from_iterable(records)

    def request_records(self, context: Mapping | None) -> Iterable[dict]:
        """Yield the records of every page in order (see :meth:`_pages`)."""
        for page in self.runner.pages(context, self._rendered):
            yield from page

    def get_records(self, context: Mapping | None) -> Iterable[dict[str, Any]]:
        """Yield the new records (see :meth:`PageRunner.record_pages`)."""
        for page in self.runner.record_pages(context):
            yield from page

    # -- fast output ------------------------------------------------------------------

    def _write_record_message(self, record: dict) -> None:
        """Write a RECORD message; with no stream maps or deselected fields, by the fast path."""
        if self.output.enabled():
            self.output.write_page([record])
        else:
            super()._write_record_message(record)

    def _write_each(self, page: list[dict]) -> None:
        for record in page:
            super()._write_record_message(record)

    def _sync_records(self, context: Any = None, *, write_messages: bool = True) -> Iterator[Any]:
        """Emit the stream's RECORD and STATE messages, page by page (:func:`sync_loop.sync_pages`).

        For one unpartitioned stream, no child streams, not a dry run; every other case goes to
        the SDK's loop. A stream with child streams runs them itself (:mod:`tap_generic_api.children`).
        """
        if self.child_streams and context is None:
            yield from sync_parent(self)
            return
        if (
            context is not None
            or self.partitions
            or self.child_streams
            or self.ABORT_AT_RECORD_COUNT is not None
            or not write_messages
            or not self.selected
        ):
            yield from super()._sync_records(context, write_messages=write_messages)
            return
        fast = self.output.enabled()
        self._records_of.raw = fast and records_pass_through(self.stream_config)
        try:
            yield from sync_loop.sync_pages(
                self,
                self.runner.record_pages(None),
                write_page=self.output.write_page if fast else self._write_each,
                paginators=lambda: self.runner.paginators,
            )
        finally:
            self._records_of.raw = False
        self._finalize_state(self.stream_state)
        self._write_state_message()

    def _write_schema_message(self) -> None:
        """Write SCHEMA, except for a stream read only for its children (``parent_only``)."""
        if not self.stream_config.parent_only:
            super()._write_schema_message()

    def _process_record(self, record: dict, child_context: Any = None, partition_context: Any = None) -> None:
        # The SDK's version copies partition keys into the record and syncs child streams;
        # this stream has neither, and the call costs as much as fetching the record.
        if partition_context or self.child_streams:
            super()._process_record(record, child_context=child_context, partition_context=partition_context)

    def infer_schema(self, pages: int) -> None:
        """Replace the schema with one inferred from the records of the first ``pages`` pages.

        Must run before the catalog is read (the tap calls it while building streams). With date
        windows, window by window from the newest (an API may refuse a longer range, and the oldest
        windows are often empty), until ``pages`` pages are read.
        """
        windows: list[DateWindow | None] = [None]
        if self.stream_config.date_window_size:
            windows = list(reversed(self.templates.windows(None)))[:INFER_SCHEMA_MAX_WINDOWS]
        rendered_requests = (self.templates.render(None, window) for window in windows)
        sampled_pages = itertools.chain.from_iterable(
            self.runner.pages_in_turn(None, rendered, self.get_new_paginator(rendered))
            for rendered in rendered_requests
        )
        extra = [self.replication_key] if self.replication_key else []
        self._schema = infer_from_pages(
            itertools.islice(sampled_pages, pages), [*self.primary_keys, *extra], stream=self.name, logger=self.logger
        )
        self._metadata = None
