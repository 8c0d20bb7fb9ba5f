"""Bookmark guards: what keeps an incremental stream's bookmark from moving past records it did not write.

Each guard raises an error naming the stream; the stream calls them from its sync loop.
"""

from __future__ import annotations

from typing import Any

from tap_generic_api.config import StreamConfig
from tap_generic_api.errors import BookmarkTypeError, PaginationTruncatedError, ResponseShapeError


def older(value: Any, bookmark: Any) -> bool:
    """Return True when ``value`` sorts before ``bookmark``; incomparable values are kept."""
    if value is None:
        return False
    try:
        return bool(value < bookmark)
    except TypeError:
        return False


def stop_truncated(config: StreamConfig, cut_by: str) -> None:
    """Stop an incremental, unsorted stream whose pages were cut short.

    Cut at ``pagination.max_pages``, or at a page after the first with no body or ``null``
    records and no stop signal: its bookmark would be the greatest value seen, past records
    the cut left out, and the next run would never fetch them. Its records are written; the
    bookmark stays, so the next run fetches the stream again from the same bookmark.

    Args:
        config: The stream's config.
        cut_by: What cut the pages short (the paginator's ``cut_by``).

    Raises:
        PaginationTruncatedError: Always.
    """
    msg = (
        f"Stream '{config.name}': {cut_by}. Its records are written, but the bookmark is "
        "not moved: the API's order is not the replication key's (is_sorted is false), so a bookmark "
        "from these pages could skip records the cut left out. Split the range with date_window_size, "
        "or raise max_pages when the page cap cut it."
    )
    raise PaginationTruncatedError(msg, stream=config.name)


def check_progress(config: StreamConfig, start: Any, newest: Any, cut_by: str) -> None:
    """Stop a sorted incremental stream cut short (``cut_by``) that made no progress.

    Its next run starts from the bookmark: when the cut left it where this run started
    (more pages of records share its value than max_pages allows), every run would fetch
    the same pages and end with success.

    Args:
        config: The stream's config.
        start: The bookmark the run started from (None: none).
        newest: The replication key value of the last record written (None: none written).
        cut_by: What cut the pages short (the paginator's ``cut_by``).

    Raises:
        PaginationTruncatedError: The bookmark did not move.
    """
    if newest is not None:
        try:
            if start is None or start < newest:
                return
        except TypeError:  # incomparable values: no way to tell, so no error
            return
    windows = " or lower date_window_size" if config.date_window_size else ""
    msg = (
        f"Stream '{config.name}': {cut_by} without moving its bookmark past {start!r}: "
        f"more records than those pages hold share that {config.replication_key} value (or are older), so "
        f"every run would fetch the same pages. Raise max_pages{windows}."
    )
    raise PaginationTruncatedError(msg, stream=config.name)


def bookmark_type_error(config: StreamConfig, bookmark: Any, page: list[dict]) -> BookmarkTypeError:
    """Return the error for a bookmark that cannot be compared with the records' values of ``page``."""
    key = config.replication_key
    value = next((r.get(key) for r in page if r.get(key) is not None), None)  # type: ignore[arg-type]
    msg = (
        f"Stream '{config.name}': the bookmark {bookmark!r} ({type(bookmark).__name__}) cannot be compared "
        f"with the records' {key} values, such as {value!r} ({type(value).__name__}). "
        "Fix the bookmark in the state file (or start_date) to the same type, or run without --state."
    )
    return BookmarkTypeError(msg[:1000], stream=config.name)


def check_replication_key(config: StreamConfig, page: list[dict], before: int) -> None:
    """Raise the error for the first record of ``page`` without the replication key field.

    Looked for only after the SDK's bookmark update failed, so records pay nothing for it.

    Args:
        config: The stream's config.
        page: The page being written.
        before: Records of the run written before this page.

    Raises:
        ResponseShapeError: A record lacks it; names the stream, the record, the key and the
            fields found. Returns when every record has it (the KeyError came from elsewhere).
    """
    key = config.replication_key
    position, record = next(((i, r) for i, r in enumerate(page) if key not in r), (None, None))
    if record is None or position is None:
        return
    number = before + position + 1
    fields = sorted(record)[:20]
    msg = (
        f"Stream '{config.name}': record {number} has no '{key}' field (the replication_key); "
        f"fields present: {fields}. Check replication_key, and data_path ('{config.data_path}')."
    )
    raise ResponseShapeError(msg, stream=config.name)


def unsorted_error(config: StreamConfig, exc: Exception, where: str = "") -> ResponseShapeError:
    """Return the error for records out of replication key order in a stream set ``is_sorted: true``.

    singer-sdk raises ``InvalidStreamSortException`` without naming the stream; this names it,
    the parent record (``where``, for a child stream) and the fix.
    """
    msg = (
        f"Stream '{config.name}': {str(exc).rstrip('.')}{where}. is_sorted is true, but the API does not return "
        f"the records in {config.replication_key} order; set is_sorted to false (the bookmark then moves when "
        "the run, or for a child stream the parent's sequence, ends)."
    )
    return ResponseShapeError(msg[:1000], stream=config.name)
