"""Reading pagination signals out of a body: scalar fields outside the records, by name."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

#: Deepest object level searched (``paging.next.after`` is 3).
MAX_DEPTH = 4

#: Field names that hold a next page's cursor or URL (``has_next`` and booleans are flags, not tokens).
NEXT_NAME = re.compile(r"(^|[_.@-])(next|after|cursor|continuation|(next_?)?page_?token|end_?cursor)", re.IGNORECASE)
#: Flags saying more pages follow.
MORE_NAMES = ("has_more", "hasMore", "has_next", "hasNext", "more", "has_next_page", "hasNextPage", "more_items")
#: Totals of records.
TOTAL_NAMES = (
    "total",
    "total_count",
    "totalCount",
    "total_results",
    "totalResults",
    "total_items",
    "totalItems",
    "total_entries",
    "count",
    "totalSize",
    "total_size",
)
#: Totals of pages.
PAGES_NAMES = ("total_pages", "totalPages", "last_page", "lastPage", "page_count", "pageCount", "pages", "num_pages")
#: The current page number, echoed back.
PAGE_NAMES = ("page", "current_page", "currentPage", "page_number", "pageNumber")
#: The current offset, echoed back.
OFFSET_NAMES = ("offset", "skip", "start")
#: The page size, echoed back.
LIMIT_NAMES = ("limit", "per_page", "perPage", "page_size", "pageSize", "size", "page_limit")
#: The largest page size, where the API states it.
MAX_LIMIT_NAMES = ("max_limit", "max_per_page", "max_page_size", "maxPageSize", "max_size")


def scalars(document: Any, skip: str, path: str = "", depth: int = 0) -> Iterator[tuple[str, Any]]:
    """Yield ``(dotted path, value)`` of every scalar in ``document``'s objects, except under ``skip`` (the records)."""
    if not isinstance(document, dict) or depth >= MAX_DEPTH:
        return
    for key, value in document.items():
        here = f"{path}.{key}" if path else str(key)
        if here == skip:
            continue
        if isinstance(value, dict):
            yield from scalars(value, skip, here, depth + 1)
        elif not isinstance(value, list):
            yield here, value


def last_name(path: str) -> str:
    """Return the last segment of a dotted path."""
    return path.rsplit(".", 1)[-1]


def named(fields: list[tuple[str, Any]], names: tuple[str, ...], kind: type | tuple[type, ...]) -> tuple[str, Any]:
    """Return the first ``(path, value)`` whose last segment is one of ``names`` and whose value is ``kind``.

    Returns ``("", None)`` when there is none. Booleans are not integers here.
    """
    for name in names:
        for path, value in fields:
            if (
                last_name(path) == name
                and isinstance(value, kind)
                and not (isinstance(value, bool) and kind is not bool)
            ):
                return path, value
    return "", None


def looks_like_url(value: Any) -> bool:
    """Return True for an absolute URL, a path or a query string (a next link)."""
    return isinstance(value, str) and (value.startswith(("http://", "https://", "/", "?")))


def next_fields(fields: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """Return the fields named like a next cursor or next URL (not flags), in body order."""
    return [
        (path, value)
        for path, value in fields
        if NEXT_NAME.search(last_name(path))
        and not isinstance(value, bool)
        and not last_name(path).startswith("has")
        or (NEXT_NAME.search(path) and last_name(path) in ("href", "url", "link"))
    ]
