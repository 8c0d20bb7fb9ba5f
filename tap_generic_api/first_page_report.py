"""``--test``: what each stream would extract, from its first page, before anything is loaded."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from singer_sdk.exceptions import FatalAPIError

from plugin_kit.errors import ConfigError
from tap_generic_api.children.templates import ParentTemplates
from tap_generic_api.errors import ForeignHostError, PaginationLoopError, ResponseShapeError

if TYPE_CHECKING:
    from tap_generic_api.streams import GenericAPIStream


#: The errors a stream's first page may end with; reported, and the other streams still run.
FAILURES = (FatalAPIError, ResponseShapeError, ForeignHostError, PaginationLoopError, ConfigError)


def first_page(stream: GenericAPIStream, parent_record: dict[str, Any] | None = None) -> list[Any]:
    """Return the records of a stream's first page (with date windows: of the newest window).

    The request is the one a first run makes (no bookmark), through the stream's auth, rate
    limit, retries and first-page checks (:mod:`tap_generic_api.paging.first_page`). A child
    stream's ``{parent.<path>}`` placeholders are filled from ``parent_record`` as a run fills them.

    Raises:
        ResponseShapeError: The page does not hold records where ``data_path`` points.
        FatalAPIError: The API refused the request.
        ConfigError: ``parent_record`` lacks a field a placeholder names.
    """
    if parent_record is not None:
        templates = ParentTemplates(stream.stream_config, _parent_name(stream), stream.templates)
        rendered = templates.render(templates.values(parent_record, 1), None)
        stream._records_of.first_page.start()  # noqa: SLF001 - the child's checks, as a run starts them
        pages = stream.runner.pages_in_turn(None, rendered, stream.get_new_paginator(rendered))
        return next(iter(pages), [])
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


def _parent_name(stream: GenericAPIStream) -> str:
    return stream.stream_config.parent or ""


def print_first_pages(streams: Iterable[GenericAPIStream], echo: Callable[[str], Any] = print) -> int:
    """Print the report line of each stream; a stream that fails gets its error and the others still run.

    A child stream is asked for the children of its parent's first record (the parent's first
    page is read first when needed); its line names that record by the values filled in.

    Returns:
        The exit status: 0 when every stream's first page was read, else 1.
    """
    by_name = {stream.name: stream for stream in streams}
    order: list[GenericAPIStream] = []

    def add(stream: GenericAPIStream) -> None:  # a parent before its children
        parent = by_name.get(_parent_name(stream))
        if parent is not None and parent not in order:
            add(parent)
        if stream not in order:
            order.append(stream)

    for stream in by_name.values():
        add(stream)
    pages: dict[str, list[Any]] = {}  # each stream's first page, when it was read
    status = 0
    for stream in order:
        parent = by_name.get(_parent_name(stream))
        parent_record = None
        if parent is not None:
            if not pages.get(parent.name):
                reason = "failed" if parent.name not in pages else "has no records on its first page"
                echo(f"Stream '{stream.name}': not tested: its parent stream '{parent.name}' {reason}.")
                status = 1 if parent.name not in pages else status
                continue
            parent_record = pages[parent.name][0]
        try:
            records = pages[stream.name] = first_page(stream, parent_record)
            line = describe(stream.name, records)
            if parent is not None:
                line = describe_child(stream, parent.name, parent_record, line)
        except FAILURES as exc:
            # Masked like every message: one built from a response may hold any secret.
            echo(stream.messages.safe(str(exc)))
            status = 1
            continue
        echo(stream.messages.safe(line))
    return status


def describe_child(stream: GenericAPIStream, parent: str, parent_record: dict[str, Any], line: str) -> str:
    """Return a child stream's report ``line`` naming the parent record its request was filled from.

    ``Stream 'orders' (for record 1 of parent stream 'users': {parent.id} = 7): 2 records on the first page; ...``
    """
    templates = ParentTemplates(stream.stream_config, parent, stream.templates)
    filled = ", ".join(f"{{parent.{path}}} = {value!r}" for path, value in templates.values(parent_record, 1).items())
    head = f"Stream '{stream.name}'"
    return f"{head} (for record 1 of parent stream '{parent}': {filled}){line[len(head) :]}"
