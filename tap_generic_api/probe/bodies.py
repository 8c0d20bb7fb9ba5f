"""Finding the records in a response body: the ``data_path`` of the largest list of objects with shared keys."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tap_generic_api.paths import DottedPath
from tap_generic_api.probe.report import Finding

#: How deep into nested objects records are looked for (``data.items`` is 2).
MAX_DEPTH = 4


@dataclass(frozen=True)
class RecordList:
    """A list of objects in the body.

    Attributes:
        path: Its dotted path (``""`` = the root), as ``data_path``.
        count: Objects in it.
        shared: Keys every object has, sorted.
    """

    path: str
    count: int
    shared: tuple[str, ...]


def record_lists(document: Any, path: str = "", depth: int = 0) -> Iterator[RecordList]:
    """Yield every list of objects in ``document``, through objects only (not into the records).

    Args:
        document: The decoded body.
        path: The dotted path of ``document``.
        depth: How deep ``document`` is.
    """
    if isinstance(document, list):
        objects = [item for item in document if isinstance(item, dict)]
        if objects and len(objects) == len(document):
            shared = set(objects[0]).intersection(*objects[1:])
            yield RecordList(path, len(objects), tuple(sorted(shared)))
        return
    if isinstance(document, dict) and depth < MAX_DEPTH:
        for key, value in document.items():
            yield from record_lists(value, f"{path}.{key}" if path else str(key), depth + 1)


def choose_data_path(document: Any) -> tuple[RecordList | None, Finding]:
    """Return the records' list and the finding that explains it.

    The largest list of objects sharing at least one key wins; ties go to the shallower path.
    An empty list at a usual place (``data``, ``items``, ``results``, ...) is taken, at low
    confidence, when there is no other.
    """
    lists = sorted(record_lists(document), key=lambda c: (not c.shared, -c.count, c.path.count(".")))
    if not lists:
        empty = _empty_list_path(document)
        if empty is not None:
            source = f"body {_where(empty)} is an empty list"
            check = "the first page had no records: probe again with --param values that return some."
            return RecordList(empty, 0, ()), Finding("data_path", empty, source, "low", check, warning=True)
        keys = sorted(document)[:12] if isinstance(document, dict) else type(document).__name__
        source = f"no list of objects in the body (top-level: {keys})"
        check = "is this a list endpoint?"
        scalars = _list_of_scalars(document)
        if scalars:
            check = f"{scalars}: the tap's records are objects; is there an endpoint listing the objects themselves?"
        rows = _list_of_lists(document)
        if rows:
            check = f"body field '{rows}' is a list of lists: ask for objects (Datasette: --param _shape=objects)"
        return None, Finding("data_path", None, source, "none", check, warning=True)
    best = lists[0]
    shared = ", ".join(best.shared[:8]) + (", ..." if len(best.shared) > 8 else "")  # noqa: PLR2004
    source = f"body {_where(best.path)}: a list of {best.count} objects sharing keys {shared or '(none)'}"
    others = lists[1:]
    confidence = "high" if not others else "medium"
    check = ""
    if others:
        listed = ", ".join(f"{_where(c.path)} ({c.count})" for c in others[:4])
        check = f"other lists of objects in the body: {listed}; the largest was taken."
    return best, Finding("data_path", best.path, source, confidence, check)


def _list_of_scalars(document: Any) -> str:
    """Return what holds a list of scalars (ids or names, not records), or ""."""
    found = [("the body", document)] if isinstance(document, list) else []
    if isinstance(document, dict):
        found = [(f"body field '{k}'", v) for k, v in document.items() if isinstance(v, list)]
    for where, value in found:
        if value and all(not isinstance(v, dict | list) for v in value):
            kinds = sorted({type(v).__name__ for v in value})
            return f"{where} is a list of {len(value)} scalars ({', '.join(kinds)}), not objects"
    return ""


def _list_of_lists(document: Any) -> str:
    if isinstance(document, dict):
        for key, value in document.items():
            if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
                return str(key)
    return ""


def _where(path: str) -> str:
    return "root (the body is the list)" if path == "" else f"field '{path}'"


def _empty_list_path(document: Any) -> str | None:
    if document == []:
        return ""
    if isinstance(document, dict):
        for key in ("data", "items", "results", "records", "rows", "entries", "values"):
            if document.get(key) == []:
                return key
    return None


def records_of(document: Any, path: str) -> list[dict[str, Any]]:
    """Return the objects at ``path`` in ``document`` (empty when absent)."""
    node = DottedPath(path).resolve(document)
    return [r for r in node if isinstance(r, dict)] if isinstance(node, list) else []
