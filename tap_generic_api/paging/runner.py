"""The pages of a stream run.

One request sequence, or one per date window; pages fetched one at a time or ahead; records
older than the bookmark skipped; progress and the stream's summary logged.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import requests

from plugin_kit.progress import Progress, SummaryMetric
from tap_generic_api import bookmarks
from tap_generic_api.paging import loops
from tap_generic_api.paging.base import SafePaginator
from tap_generic_api.paging.paginators import NumberedPaginator
from tap_generic_api.paging.windows import pages_by_window
from tap_generic_api.request_templates import RenderedRequest
from tap_generic_api.windows import DateWindow

if TYPE_CHECKING:
    import logging
    from collections.abc import Callable

    from singer_sdk.metrics import Counter

    from tap_generic_api.config import StreamConfig
    from tap_generic_api.http.retry_policy import RetryPolicy
    from tap_generic_api.paging.records import RecordReader
    from tap_generic_api.partitions.plan import StreamPartition
    from tap_generic_api.request_templates import RequestTemplates


class Stream(Protocol):
    """What the runner uses of its stream: config, templates, and the singer-sdk hooks that send and count."""

    name: str
    logger: logging.Logger
    stream_config: StreamConfig
    templates: RequestTemplates
    retry_policy: RetryPolicy
    replication_key: str | None
    task_share: StreamPartition | None
    _rendered: RenderedRequest
    _records_of: RecordReader

    def get_new_paginator(self, rendered: RenderedRequest | None = None) -> SafePaginator: ...  # noqa: D102
    def request_decorator(self, func: Callable) -> Callable: ...  # noqa: D102
    def _request(self, prepared_request: requests.PreparedRequest, context: Mapping | None) -> requests.Response: ...
    def _prepare(self, rendered: RenderedRequest, paginator: SafePaginator, token: Any) -> requests.PreparedRequest: ...
    def get_http_request_counter(self) -> Counter: ...  # noqa: D102
    def update_sync_costs(self, request: Any, response: requests.Response, context: Any) -> None: ...  # noqa: D102
    def get_starting_replication_key_value(self, context: Any) -> Any: ...  # noqa: D102
    @property
    def stream_state(self) -> dict: ...  # noqa: D102


class PageRunner:
    """Runs a stream's page loops; the stream sends the requests (its SDK hooks) and writes the records.

    Args:
        stream: The stream.

    Attributes:
        paginators: Every paginator of the current run (one per date window), for the summary.
        stopping: Set when the windows' reader stops: their workers send no new request and no retry.
        ahead: Per thread: the event that tells a request fetched ahead that its page sequence ended
            (see :func:`~tap_generic_api.paging.loops.pages_ahead`); such a request is dropped before it is sent.
    """

    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        self.paginators: list[SafePaginator] = []
        #: This run's progress of the stream (its ``count``: records sent), once it has started.
        self.progress: Progress | None = None
        self.stopping = threading.Event()
        self.ahead = threading.local()

    def run_pages(self, context: Mapping | None, bookmark: Any) -> Iterator[list[dict]]:
        """Yield the run's pages: of one request sequence, or of each date window in date order.

        With ``date_window_size``, up to ``pagination.max_concurrency`` windows are fetched at
        once (each one page after another, all under the shared rate limit) and their pages
        still come out window by window, in page order. At most ``2 * max_concurrency``
        windows are open at once, holding at most ``6 * max_concurrency + 3`` pages between
        them (:func:`in_order`).
        """
        stream = self.stream
        self.stopping.clear()  # a stream object may run again (tests, the SDK's test suites)
        share = None
        if stream.task_share is not None:
            end = stream.templates.run_started
            share = stream.task_share.plan(
                stream.stream_config, stream.stream_state, bookmark, end=end, logger=stream.logger
            )
        if share is None or share.taken:
            yield from self._share_pages(context, bookmark, None if share is None else share.windows)
        if share is not None:
            truncated = any(paginator.truncated for paginator in self.paginators)
            stream.task_share.finish(stream.stream_state, complete=not truncated)

    def _share_pages(
        self, context: Mapping | None, bookmark: Any, windows: list[DateWindow] | None
    ) -> Iterator[list[dict]]:
        """Yield the pages of the run, or of ``windows`` (a partitioned run's share)."""
        stream = self.stream
        if stream.stream_config.job is not None:
            from tap_generic_api.report_jobs import ReportJob  # noqa: PLC0415 - it imports the stream's modules

            yield from ReportJob(stream, context, bookmark).pages()  # type: ignore[arg-type]
            return
        if not stream.stream_config.date_window_size:
            yield from self.pages(context, stream._rendered)
            return
        if windows is None:
            windows = stream.templates.windows(bookmark)

        def open_window(window: DateWindow, alone: bool) -> tuple[SafePaginator, Iterator[list[dict]]]:
            rendered = stream.templates.render(bookmark, window)
            paginator = stream.get_new_paginator(rendered)
            # One window alone may fetch pages ahead; several are already fetched concurrently.
            return paginator, self.pages(context, rendered, paginator=paginator, ahead=alone)

        yield from pages_by_window(
            stream.stream_config, windows, open_window, stopping=self.stopping, logger=stream.logger
        )

    def pages(
        self,
        context: Mapping | None,
        rendered: RenderedRequest,
        *,
        paginator: SafePaginator | None = None,
        ahead: bool = True,
    ) -> Iterator[list[dict]]:
        """Yield the records of each page of one request sequence, in page order.

        Offset and page-number pagination with a ``limit`` know the next request before the
        current answer arrives: with ``ahead``, up to ``pagination.max_concurrency`` requests
        are in flight (under the shared rate limit), and pages are still yielded in order
        (:func:`~tap_generic_api.paging.loops.pages_ahead`). Other types fetch one page after another.

        Args:
            context: The SDK's stream context (None: this stream has no partitions).
            rendered: The request templates, rendered for the run or for one date window.
            paginator: The paginator to use (default a new one for ``rendered``).
            ahead: Allow requests ahead of the page being read (False inside date windows,
                which are already fetched concurrently).
        """
        stream = self.stream
        paginator = paginator or stream.get_new_paginator(rendered)
        if ahead and isinstance(paginator, NumberedPaginator) and paginator.may_fetch_ahead():
            decorated = stream.request_decorator(stream._request)
            yield from loops.pages_ahead(
                paginator,
                lambda token: decorated(stream._prepare(rendered, paginator, token), context),
                stream._records_of,
                stream=stream.name,
                ahead_state=self.ahead,
                stopping=self.stopping,
                logger=stream.logger,
            )
        else:
            yield from self.pages_in_turn(context, rendered, paginator)

    def pages_in_turn(
        self, context: Mapping | None, rendered: RenderedRequest, paginator: SafePaginator
    ) -> Iterator[list[dict]]:
        """Fetch pages one after another, each request counted in the SDK's metrics."""
        stream = self.stream
        decorated = stream.request_decorator(stream._request)
        with stream.get_http_request_counter() as request_counter:
            request_counter.with_context(context)

            def fetch(token: Any) -> requests.Response:
                prepared = stream._prepare(rendered, paginator, token)
                response = decorated(prepared, context)
                request_counter.increment()
                stream.update_sync_costs(prepared, response, context)
                return response

            yield from loops.pages_in_turn(paginator, fetch, stream._records_of)

    def record_pages(self, context: Mapping | None) -> Iterator[list[dict]]:
        """Render templates with this run's bookmark, then yield the new records page by page.

        With a replication key, records older than the bookmark are skipped (the API may
        ignore the filter); records equal to it are kept, as Singer's at-least-once rule wants.
        Progress is logged per page and the summary at the end.
        """
        stream = self.stream
        bookmark = stream.get_starting_replication_key_value(context) if stream.replication_key else None
        stream._rendered = stream.templates.render(bookmark)
        key = stream.replication_key
        self.progress = progress = Progress(stream.logger, stream.name)
        stream.retry_policy.retries = 0
        self.paginators = []
        stream._records_of.first_page.start()
        pages = 0
        for page in self.run_pages(context, bookmark):
            pages += 1
            if key and bookmark is not None:
                page = [r for r in page if not bookmarks.older(r.get(key), bookmark)]
            if page:
                progress.add(len(page), pages=pages)
                yield page
        progress.summary(
            SummaryMetric.STREAM_SUMMARY,
            pages=sum(paginator.count for paginator in self.paginators),
            retries=stream.retry_policy.retries,
            truncated=any(paginator.truncated for paginator in self.paginators),
        )
