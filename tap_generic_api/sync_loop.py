"""The stream's sync loop, page by page: RECORD messages, bookmark updates, STATE every so many records.

It is singer-sdk's ``Stream._sync_records`` loop for one unpartitioned stream without child streams,
a page at a time instead of a record at a time; the SDK's per-record partition and child-stream
bookkeeping costs more than decoding and encoding the record. It calls the SDK's own state
methods, so the messages are the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from singer_sdk.exceptions import InvalidStreamSortException
from singer_sdk.singerlib.catalog import REPLICATION_INCREMENTAL

from tap_generic_api import bookmarks
from tap_generic_api.paging.base import SafePaginator


def sync_pages(
    stream: Any,
    pages: Iterable[list[dict]],
    *,
    write_page: Callable[[list[dict]], None],
    paginators: Callable[[], list[SafePaginator]],
) -> Iterator[list[dict]]:
    """Write each page's RECORD messages, move the bookmark, and yield the page.

    STATE goes out at the first page boundary after every ``STATE_MSG_FREQUENCY`` records, and the
    state is finalized at the end.

    Args:
        stream: The singer-sdk stream (its state methods, ``stream_config``, ``STATE_MSG_FREQUENCY``).
        pages: The run's new records, page by page.
        write_page: Writes one page's RECORD messages.
        paginators: Returns the run's paginators (read after the last page: was any cut short?).

    Raises:
        ResponseShapeError: A record lacks the replication key.
        BookmarkTypeError: The bookmark cannot be compared with the records' values.
        PaginationTruncatedError: A cut at ``max_pages`` would move the bookmark past records left out.
    """
    try:
        yield from _sync(stream, pages, write_page, paginators)
    finally:
        # Closed now, not when a traceback that holds this frame is freed: the page loops' request
        # counters log their metric as they close, which must come before the run's error line.
        close = getattr(pages, "close", None)
        if close is not None:
            close()


def _sync(
    stream: Any,
    pages: Iterable[list[dict]],
    write_page: Callable[[list[dict]], None],
    paginators: Callable[[], list[SafePaginator]],
) -> Iterator[list[dict]]:
    config = stream.stream_config
    incremental = stream.replication_method == REPLICATION_INCREMENTAL
    frequency = stream.STATE_MSG_FREQUENCY
    record_counter = stream.get_record_counter()
    timer = stream.get_sync_timer()
    with record_counter, timer:
        record_counter.with_context({})
        timer.with_context({})
        stream._write_starting_replication_value(None)  # noqa: SLF001 - the SDK's own loop calls these
        count = 0
        newest: Any = None  # the last record's replication key value (sorted streams)
        for page in pages:
            write_page(page)
            if incremental:
                try:
                    for record in page:
                        stream._increment_stream_state(record, context=None)  # noqa: SLF001
                except KeyError:
                    bookmarks.check_replication_key(config, page, count)
                    raise
                except TypeError as exc:
                    start = stream.get_starting_replication_key_value(None)
                    raise bookmarks.bookmark_type_error(config, start, page) from exc
                except InvalidStreamSortException as exc:
                    raise bookmarks.unsorted_error(config, exc) from None
                newest = page[-1].get(config.replication_key)
            if (count + len(page)) // frequency > count // frequency:
                stream._write_state_message()  # noqa: SLF001
            count += len(page)
            record_counter.increment(len(page))
            yield page
        cut_by = next((p.cut_by for p in paginators() if p.truncated), None)
        if incremental and cut_by is not None:
            if not config.is_sorted:
                bookmarks.stop_truncated(config, cut_by)
            bookmarks.check_progress(config, stream.get_starting_replication_key_value(None), newest, cut_by)
        stream._finalize_state(stream.get_context_state(None))  # noqa: SLF001
