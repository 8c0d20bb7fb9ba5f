"""The date-window driver: the pages of each date window of a run, in date order, several windows at once.

A stream with ``date_window_size`` splits its range into windows (:mod:`tap_generic_api.windows`)
and asks each window's request sequence for its pages; this module runs the windows (up to
``pagination.max_concurrency`` at once), keeps their pages in date order, and decides what a
window cut at ``pagination.max_pages`` means for the bookmark.
"""

from __future__ import annotations

import functools
import itertools
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from plugin_kit.concurrency import in_order
from tap_generic_api import templating
from tap_generic_api.config import StreamConfig
from tap_generic_api.errors import WindowTruncatedError
from tap_generic_api.paging.base import SafePaginator
from tap_generic_api.windows import DateWindow

#: Opens one window: returns its paginator and its pages (``alone``: the run's only window,
#: which may fetch pages ahead).
OpenWindow = Callable[[DateWindow, bool], tuple[SafePaginator, Iterator[list[dict]]]]


def pages_by_window(
    config: StreamConfig,
    windows: list[DateWindow],
    open_window: OpenWindow,
    *,
    stopping: threading.Event,
    logger: logging.Logger,
) -> Iterator[list[dict]]:
    """Yield the pages of each date window, window by window in date order, each in page order.

    Up to ``pagination.max_concurrency`` windows are fetched at once (each one page after
    another, all under the shared rate limit). At most ``2 * max_concurrency`` windows are open
    at once, holding at most ``6 * max_concurrency + 3`` pages between them (:func:`in_order`).

    Args:
        config: The stream's config.
        windows: The run's windows, oldest first.
        open_window: Starts one window's request sequence.
        stopping: Set when the reader stops; the windows' workers then send nothing more.
        logger: The stream's logger.

    Raises:
        WindowTruncatedError: A window of an unsorted incremental stream reached ``max_pages``.
    """
    workers = min(config.pagination.max_concurrency, len(windows))
    logger.info(
        "Stream '%s': %d date window(s) of %g days from %s to %s, up to %d at once.",
        config.name,
        len(windows),
        config.date_window_size,
        iso(windows[0].start_at),
        iso(windows[-1].end_at),
        workers,
    )

    cut_by: dict[DateWindow, str] = {}  # what cut each truncated window short, for messages

    def window_pages(window: DateWindow) -> Iterator[tuple[DateWindow, list[dict] | None]]:
        paginator, pages = open_window(window, len(windows) == 1)
        for page in pages:
            yield window, page
        if paginator.truncated:
            cut_by[window] = paginator.cut_by
            yield window, None

    producers = [functools.partial(window_pages, window) for window in windows]
    if workers == 1:
        pairs: Iterator[tuple[DateWindow, list[dict] | None]] = itertools.chain.from_iterable(
            produce() for produce in producers
        )
    else:
        pairs = in_order(producers, workers, thread_name_prefix=f"{config.name}-window", stop=stopping)
    check = WindowCheck(config.replication_key)
    try:
        for window, page in pairs:
            if page is None:
                if not config.replication_key:
                    continue  # no bookmark: the next windows are fetched as usual
                if config.is_sorted:
                    # The bookmark is this window's last record: the next run goes on from it.
                    logger.warning(
                        "Stream '%s': the date window %s to %s %s; the run ends "
                        "here and the next one goes on from the bookmark.",
                        config.name,
                        iso(window.start_at),
                        iso(window.end_at),
                        _window_cut(cut_by[window], full=False),
                    )
                    return
                # The bookmark would move past the records this window left out: to its own
                # newest record when the API sends newest first, past it with later windows.
                msg = (
                    f"Stream '{config.name}': the date window {iso(window.start_at)} to "
                    f"{iso(window.end_at)} {_window_cut(cut_by[window], full=True)}. The run stops "
                    "here so that the bookmark does not move past the records left out; lower "
                    "date_window_size or raise max_pages."
                )
                raise WindowTruncatedError(msg, stream=config.name)
            outside = check.outside(window, page)
            if outside is not None:
                logger.warning(
                    "Stream '%s': the date window %s to %s returned a record with %s = %r, outside it: the "
                    "API may ignore the window's params, and records may come more than once. Check that "
                    "the params use the API's own start and end filters.",
                    config.name,
                    iso(window.start_at),
                    iso(window.end_at),
                    config.replication_key,
                    outside,
                )
            yield page
    finally:
        close = getattr(pairs, "close", None)
        if close is not None:
            close()  # stops the workers now, not when the generator is collected


class WindowCheck:
    """Spots records whose replication key lies outside their date window (once per run).

    Only the first and last record of each page are looked at: a misconfigured API returns
    records from everywhere, so the ends show it, at no cost per record.
    """

    def __init__(self, replication_key: str | None) -> None:
        self.key = replication_key
        self.done = replication_key is None

    def outside(self, window: DateWindow, page: list[dict]) -> Any:
        """Return the first value outside ``[window.start_at, window.end_at]`` (once), else None."""
        if self.done or not page:
            return None
        for record in (page[0], page[-1]):
            value = record.get(self.key) if isinstance(record, dict) else None
            if value is None:
                continue
            try:
                moment = templating.to_datetime(value)
            except (ValueError, TypeError, OverflowError, OSError):
                self.done = True  # not a date: nothing to compare with
                return None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            if not window.start_at <= moment <= window.end_at:
                self.done = True
                return value
        return None


def iso(moment: datetime) -> str:
    """Return ``moment`` as ISO-8601 UTC with a Z, for log lines."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _window_cut(cut_by: str, *, full: bool) -> str:
    """Word a paginator's ``cut_by`` for a window: "reached pagination.max_pages", "was cut short at page 3 ..."."""
    prefix = "stopped at "
    if not cut_by.startswith(prefix):
        return f"was {cut_by}"
    cap = cut_by[len(prefix) :]
    return f"reached {cap} and was cut short" if full else f"reached {cap.split(' (')[0]}"
