"""The page loops of one request sequence: one page after another, or numbered pages fetched ahead.

The loops ask the paginator for each token and hand it each response; the paginator decides
when the sequence ends (:mod:`tap_generic_api.paging.paginators`). Sending, retries and the
rate limit are the caller's ``fetch``.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

import requests

from plugin_kit.concurrency import AheadTuner, DaemonPool
from tap_generic_api.paging.base import SafePaginator
from tap_generic_api.paging.paginators import NumberedPaginator

#: Sends the request for a token (rendered, authenticated, retried) and returns the answer.
Fetch = Callable[[Any], requests.Response]
#: Returns a response's records (decoded once and cached).
RecordsOf = Callable[[requests.Response], list[Any]]


def _whole(records: Any) -> list[Any]:
    """Return a page's records as a list; a body read as it arrives is read to its end (one page of ``limit``)."""
    return records if isinstance(records, list) else records.collect()


def pages_in_turn(paginator: SafePaginator, fetch: Fetch, records_of: RecordsOf) -> Iterator[list[Any]]:
    """Yield the records of each page, fetched one after another (the SDK's ``request_records`` loop).

    A page without records ends the sequence unless the paginator follows empty pages (a cursor
    or next link on it).

    Raises:
        PaginationLoopError: The paginator saw a token or page again.
    """
    while not paginator.finished:
        response = fetch(paginator.current_value)
        records = records_of(response)
        if not records and not paginator.continue_if_empty(response):
            paginator.end_at_empty_page(response)
            break
        if records:
            if isinstance(records, list):
                paginator.check_page(records)
                yield records
            else:  # a body read as it arrives (tap_generic_api.formats): its chunks, in order
                paginator.check_page(records.first())
                yield from records
        paginator.advance(response)


def pages_ahead(  # noqa: C901, PLR0912 - one loop whose exits each end the sequence for a different reason
    paginator: NumberedPaginator,
    fetch: Fetch,
    records_of: RecordsOf,
    *,
    stream: str,
    ahead_state: threading.local,
    stopping: threading.Event,
    logger: logging.Logger,
) -> Iterator[list[Any]]:
    """Yield numbered pages in order, fetching pages ahead of the one being written, as many as pay off.

    How many requests go ahead is tuned while the stream runs (:class:`AheadTuner`): more on a
    slow API, none on one that answers about as fast as its pages are written, where requests
    ahead only contend with the writer for the interpreter.

    Args:
        paginator: The sequence's paginator (offset or page number, with a ``limit``).
        fetch: Sends the request for a token.
        records_of: Returns a response's records.
        stream: Stream name, for thread names and messages.
        ahead_state: Per-thread state of the caller's sending: ``ended`` is set to an event that
            is set when the sequence ends, so a request still waiting is dropped, not sent.
        stopping: Set here when the loop fails, so requests ahead send no retry.
        logger: The stream's logger.

    Raises:
        PaginationLoopError: Two pages in a row hold the same records.
    """
    config = paginator.config
    # Requests ahead may still wait for the rate limit when the sequence ends (at the short
    # page, an error, max_pages): they are then dropped instead of sent, so the API sees no
    # request after the stream has moved on.
    ended = threading.Event()

    def fetch_ahead(token: int) -> requests.Response:
        ahead_state.ended = ended
        return fetch(token)

    pending: collections.deque[tuple[int, Future[requests.Response]]] = collections.deque()
    resume_at: int | None = None
    tuner = AheadTuner(config.max_concurrency)
    limit = int(config.limit or 0)

    def submit(pool: DaemonPool) -> bool:
        """Request the next page ahead; return False at ``max_pages`` requests."""
        token = paginator.issue()
        if token is None:
            return False
        pending.append((token, pool.submit(fetch_ahead, token)))
        return True

    # Daemon threads (DaemonPool): an error or a signal ends the run without waiting for the
    # requests ahead, which stop at their next retry (`stopping`).
    with DaemonPool(config.max_concurrency, f"{stream}-page") as pool:
        try:
            submit(pool)
            while pending:
                page_token, future = pending.popleft()
                asked = time.monotonic()
                response = future.result()
                tuner.page_arrived(asked, time.monotonic())
                records = _whole(records_of(response))
                paginator.count_page()
                if records and len(records) == limit:
                    # Ask for the next pages before writing this one.
                    while len(pending) < tuner.ahead and submit(pool):
                        pass
                if records:
                    paginator.check_page(records)
                    yield records
                if not records or len(records) < limit:
                    if not records:
                        paginator.warn_if_cut(response)
                    break
                if paginator.reached_cap():
                    break
                resume_at = paginator.overfull_resume(page_token, records)
                if resume_at is not None:
                    logger.warning(
                        "Stream '%s': the API returned %d records for limit %d; fetching the rest one page at a time.",
                        stream,
                        len(records),
                        limit,
                    )
                    break
                if not pending:
                    submit(pool)
        except BaseException:
            stopping.set()
            raise
        finally:
            ended.set()
            for _, future in pending:
                future.cancel()
    logger.debug("Stream '%s': at most %d requests went ahead.", stream, tuner.most_ahead)
    while resume_at is not None:
        if paginator.reached_cap():
            return
        records = _whole(records_of(fetch(resume_at)))
        paginator.count_page()
        if records:
            paginator.check_page(records)
            yield records
        if not records or len(records) < limit:
            return
        resume_at += len(records)
