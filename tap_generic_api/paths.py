"""The seed's dotted paths into a JSON document (`data_path`, `pagination.response_path`).

Rules (from the seed's examples):

* ``""`` is the document root (GitHub: the body is the array of records).
* Segments are separated by dots: ``paging.next.after``.
* A segment that is an integer indexes a list; negative integers count from the end, so
  ``data.-1.id`` is the id of the last record (Stripe's ``starting_after`` cursor).
* A key that itself contains a dot (``@odata.nextLink``) is matched literally: at each
  level the longest run of remaining segments that is a key of the object wins.

JSONPath (``$.a[*]``) is not used because users copy the seed's dotted form unchanged;
a compiled :class:`DottedPath` resolves without re-parsing on every page.
"""

from __future__ import annotations

from typing import Any, Final


class _Missing:
    """Sentinel type: the path does not exist in the document."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()


class DottedPath:
    """A compiled dotted path.

    Args:
        path: The dotted path, ``""`` for the root.

    Example:
        >>> DottedPath("data.-1.id").resolve({"data": [{"id": "a"}, {"id": "b"}]})
        'b'
        >>> DottedPath("@odata.nextLink").resolve({"@odata.nextLink": "u"})
        'u'
    """

    __slots__ = ("_segments", "path")

    def __init__(self, path: str) -> None:
        self.path = path
        self._segments: tuple[str, ...] = tuple(path.split(".")) if path else ()

    def __repr__(self) -> str:
        return f"DottedPath({self.path!r})"

    @property
    def segments(self) -> tuple[str, ...]:
        """The path's segments (``()`` for the root)."""
        return self._segments

    def resolve(self, document: Any) -> Any:
        """Return the value at this path, or :data:`MISSING` when any step is absent.

        Args:
            document: A decoded JSON document (dicts, lists, scalars).

        Returns:
            The value found (which may be ``None`` when the document holds ``null``),
            or :data:`MISSING`.
        """
        return _resolve(document, self._segments)


def _resolve(node: Any, segments: tuple[str, ...]) -> Any:
    if not segments:
        return node
    if isinstance(node, dict):
        # Longest literal key first, so "@odata.nextLink" beats "@odata" -> "nextLink".
        for end in range(len(segments), 0, -1):
            key = ".".join(segments[:end])
            if key in node:
                found = _resolve(node[key], segments[end:])
                if found is not MISSING:
                    return found
        return MISSING
    if isinstance(node, list):
        try:
            index = int(segments[0])
        except ValueError:
            return MISSING
        if -len(node) <= index < len(node):
            return _resolve(node[index], segments[1:])
        return MISSING
    return MISSING
