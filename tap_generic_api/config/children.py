"""Child stream keys (``parent``, ``include_from_parent``, ``parent_only``, ``ignore_statuses``), checked.

A child stream names its ``parent`` and uses ``{parent.<dotted path>}`` placeholders filled
from each parent record. Everything that can be checked before a request is checked here: an
unknown parent (with a did-you-mean), a cycle, a parent that is itself a child, a child
without any parent placeholder, settings a child cannot use, and copied-field names that
collide. Fields a placeholder names are checked on the first parent record
(:mod:`tap_generic_api.children.templates`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from plugin_kit.errors import ConfigError
from plugin_kit.redact import strings_in
from tap_generic_api.config.checks import boolean, string_list

#: ``{parent.<dotted path>}``; ``{{`` and ``}}`` are literal braces, as in every template. A field
#: name may hold any character but braces and dots (APIs send ``user id``, ``über``, ``@type``).
PARENT_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{parent\.([^{}.]+(?:\.[^{}.]+)*)\}")
#: Prefix of the fields ``include_from_parent`` adds to each child record.
INCLUDED_PREFIX = "_parent_"
#: Lowest and highest HTTP status ``ignore_statuses`` may list: the error classes 4xx and 5xx
#: (RFC 9110 section 15); a 2xx listed would skip every parent answered with its children.
_STATUSES = (400, 599)


@dataclass(frozen=True)
class ChildKeys:
    """A stream's child-stream settings.

    Attributes:
        parent: The parent stream's name, or None for a stream that is not a child.
        include_from_parent: Dotted paths of parent fields copied into each child record.
        parent_only: This stream's records are read for its children only, never emitted.
        ignore_statuses: HTTP statuses that, answered to a child request, skip that parent.
    """

    parent: str | None = None
    include_from_parent: tuple[str, ...] = ()
    parent_only: bool = False
    ignore_statuses: frozenset[int] = frozenset()


def included_name(path: str) -> str:
    """Return the child-record field holding parent field ``path``: ``author.id`` -> ``_parent_author_id``."""
    return INCLUDED_PREFIX + path.replace(".", "_").replace("-", "_")


def parent_paths(templates: Iterable[str]) -> list[str]:
    """Return the dotted paths of the ``{parent.<path>}`` placeholders in ``templates``, first use first."""
    seen: dict[str, None] = {}
    for template in templates:
        for match in PARENT_PLACEHOLDER.finditer(template):
            if match.group(1):
                seen.setdefault(match.group(1))
    return list(seen)


def parse_child_keys(block: Mapping[str, Any], where: str) -> ChildKeys:
    """Check one stream block's child keys.

    Raises:
        ConfigError: A key has the wrong type, ``include_from_parent`` names collide, or
            ``ignore_statuses`` holds something that is not an HTTP status.
    """
    parent = block.get("parent")
    if parent is not None and (not isinstance(parent, str) or not parent.strip()):
        msg = f"{where}.parent must be the name of another stream, got {parent!r}."
        raise ConfigError(msg)
    include = string_list(block.get("include_from_parent"), f"{where}.include_from_parent", "parent field paths")
    names: dict[str, str] = {}
    for path in include:
        name = included_name(path)
        if name in names:
            msg = (
                f"{where}.include_from_parent: '{path}' and '{names[name]}' would both be copied as '{name}'; "
                "list only one of them."
            )
            raise ConfigError(msg)
        names[name] = path
    statuses = block.get("ignore_statuses")
    if statuses is not None and (
        not isinstance(statuses, list)
        or not all(
            isinstance(s, int) and not isinstance(s, bool) and _STATUSES[0] <= s <= _STATUSES[1] for s in statuses
        )
    ):
        msg = (
            f"{where}.ignore_statuses must be a list of HTTP error statuses, 400 to 599 (for example [404]), "
            f"got {statuses!r}."
        )
        raise ConfigError(msg)
    return ChildKeys(
        parent=parent.strip() if isinstance(parent, str) else None,
        include_from_parent=tuple(include),
        parent_only=boolean(block, "parent_only", where, default=False),
        ignore_statuses=frozenset(statuses or ()),
    )


def check_parents(streams: list[Any]) -> None:
    """Check the parent links between parsed stream configs (:class:`~tap_generic_api.config.StreamConfig`).

    Raises:
        ConfigError: Names the stream and key: an unknown parent (with the closest name), a
            cycle, a parent that is itself a child, a child without ``{parent.<field>}``, a
            child with date windows or schema inference, ``include_from_parent`` or
            ``ignore_statuses`` on a stream without a parent, or ``parent_only`` on a stream
            without children.
    """
    by_name = {stream.name: stream for stream in streams}
    for stream in streams:
        where = stream.where
        if stream.parent is None:
            for key, value in (
                ("include_from_parent", stream.include_from_parent),
                ("ignore_statuses", stream.ignore_statuses),
            ):
                if value:
                    msg = f"{where}.{key} has no effect here: it applies to child streams; set {where}.parent."
                    raise ConfigError(msg)
            continue
        parent = by_name.get(stream.parent)
        if parent is None:
            close = difflib.get_close_matches(stream.parent, list(by_name), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            msg = (
                f"{where}.parent: no stream is named '{stream.parent}'{hint}. "
                f"Stream names: {', '.join(sorted(by_name))}."
            )
            raise ConfigError(msg)
        _check_cycle(stream, by_name)
        if parent.parent is not None:
            msg = (
                f"{where}.parent: '{parent.name}' is itself a child of '{parent.parent}'; a child's parent must be "
                "a stream without a parent (one level)."
            )
            raise ConfigError(msg)
        _check_child(stream)
    has_children = {stream.parent for stream in streams if stream.parent}
    for stream in streams:
        if stream.parent_only and stream.name not in has_children:
            msg = (
                f"{stream.where}.parent_only: no stream names '{stream.name}' as its parent, so its records "
                "would be read and dropped; remove parent_only."
            )
            raise ConfigError(msg)


def _check_cycle(stream: Any, by_name: Mapping[str, Any]) -> None:
    chain = [stream.name]
    current = stream
    while current.parent is not None and current.parent in by_name:
        if current.parent in chain:
            loop = " -> ".join([*chain[chain.index(current.parent) :], current.parent])
            msg = f"{stream.where}.parent: the streams' parents form a cycle ({loop}); no stream can be its own parent."
            raise ConfigError(msg)
        chain.append(current.parent)
        current = by_name[current.parent]


def _check_child(stream: Any) -> None:
    where = stream.where
    keyed = [("url", stream.url)]
    keyed += [(f"params.{k}", str(v)) for k, v in stream.params.items()]
    keyed += [(f"headers.{k}", str(v)) for k, v in stream.headers.items()]
    keyed += [("body", text) for text in strings_in(stream.body)]
    for key, template in keyed:
        rest = PARENT_PLACEHOLDER.sub("", template)
        if "{parent." in rest or "{parent}" in rest:
            # Left as text, it would go to the API as is: every parent would make a wrong request.
            start = rest.find("{parent")
            msg = (
                f"{where}.{key}: '{rest[start : start + 40]}' is not a placeholder: write {{parent.<field>}}, "
                "or {parent.<field>.<field>} for a nested field."
            )
            raise ConfigError(msg)
    if not parent_paths(used_templates(stream)):
        msg = (
            f"{where}.parent is '{stream.parent}' but the url, params, headers and body use no "
            "{parent.<field>} placeholder, so every parent would make the same request; use one, "
            "for example '/posts/{parent.id}/comments'."
        )
        raise ConfigError(msg)
    if parent_paths([stream.url.split("://", 1)[-1].split("/", 1)[0]]) or not stream.url.lower().startswith(
        ("http://", "https://")
    ):
        # The credentials' origin is the configured URL's: a parent record must not choose the host.
        msg = (
            f"{where}.url must start with a fixed scheme and host (https://api.example.com/...); "
            "{parent.<field>} placeholders may follow in the path and query."
        )
        raise ConfigError(msg)
    for key, value, why in (
        ("date_window_size", stream.date_window_size, "date windows of a child stream are not supported"),
        ("infer_schema", stream.infer_schema, "a child's requests need a parent record; give 'schema' instead"),
    ):
        if value:
            msg = f"{where}.{key}: {why}; remove it."
            raise ConfigError(msg)
    taken = set((stream.schema or {}).get("properties") or {}) & {included_name(p) for p in stream.include_from_parent}
    if taken:
        msg = (
            f"{where}.include_from_parent: the stream's schema already has {', '.join(sorted(taken))}; the copied "
            "parent fields are named _parent_<path>: rename the schema's property."
        )
        raise ConfigError(msg)


def used_templates(stream: Any) -> list[str]:
    """Return every template string of a stream config: url, params, headers and body strings."""
    return [stream.url, *map(str, stream.params.values()), *map(str, stream.headers.values()), *strings_in(stream.body)]
