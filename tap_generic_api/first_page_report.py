"""``--test``: what each stream would extract, from its first page, before anything is loaded."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from singer_sdk.exceptions import FatalAPIError

from tap_generic_api.errors import ForeignHostError, PaginationLoopError, ResponseShapeError

if TYPE_CHECKING:
    from tap_generic_api.streams import GenericAPIStream


def first_page(stream: GenericAPIStream) -> list[Any]:
    """Return the records of a stream's first page (with date windows: of the newest window).

    The request is the one a first run makes (no bookmark), through the stream's auth, rate
    limit, retries and first-page checks (:mod:`tap_generic_api.paging.first_page`).

    Raises:
        ResponseShapeError: The page does not hold records where ``data_path`` points.
        FatalAPIError: The API refused the request.
    """
    windows = stream.templates.windows(None) if stream.stream_config.date_window_size else [None]
    rendered = stream.templates.render(None, windows[-1] if windows else None)
    pages = stream.runner.pages_in_turn(None, rendered, stream.get_new_paginator(rendered))
    return next(iter(pages), [])


def describe(name: str, records: list[Any]) -> str:
    """Return the report line of one stream.

    ``Stream 'users': 100 records on the first page; first record's keys: id, email, name`` (keys
    in the record's order), or a hint to check ``data_path`` when the page holds no records.
    """
    if not records:
        return f"Stream '{name}': 0 records on the first page (check data_path, params and the date range)."
    first = records[0]
    keys = ", ".join(str(key) for key in first) if isinstance(first, dict) else f"(a {type(first).__name__})"
    count = f"{len(records)} record{'' if len(records) == 1 else 's'}"
    return f"Stream '{name}': {count} on the first page; first record's keys: {keys}"


def print_first_pages(streams: Iterable[GenericAPIStream], echo: Callable[[str], Any] = print) -> int:
    """Print the report line of each stream; a stream that fails gets its error and the others still run.

    Returns:
        The exit status: 0 when every stream's first page was read, else 1.
    """
    status = 0
    for stream in streams:
        try:
            records = first_page(stream)
        except (FatalAPIError, ResponseShapeError, ForeignHostError, PaginationLoopError) as exc:
            # Masked like every message: one built from a response may hold any secret.
            echo(stream.messages.safe(str(exc)))
            status = 1
            continue
        echo(describe(stream.name, records))
    return status
