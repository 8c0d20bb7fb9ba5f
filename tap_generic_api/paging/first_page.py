"""The first page with records is checked against ``data_path``, key fields and replication key.

A wrong ``data_path`` does not fail by itself: a path one level too short gives the
envelope as one record, and the run "succeeds" with one odd row per page. Records without
their key fields or replication key would be refused or merged wrongly downstream. Both
show on the first page, so the stream stops there, before any record is written, with an
error naming the likely path or field.

The same holds for ``pagination.response_path`` (cursor, or next URL in the body): the documented
end of the pages is the key present with ``null`` or an empty value. A key absent from the first
page that has records is most likely a wrong path (``next`` for ``next_cursor``), and following it
would read the first page only and end with exit 0; so it is an error naming the keys present.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from plugin_kit import fastjson
from tap_generic_api.errors import ResponseShapeError
from tap_generic_api.paths import MISSING, DottedPath

#: Levels searched below ``data_path`` for the list the records likely are.
SEARCH_DEPTH = 3
#: Field names quoted in an error.
FIELDS_SHOWN = 20
#: A record's fields, their values left as text.
_FIELDS = msgspec.json.Decoder(dict[str, msgspec.Raw])


class FirstPageCheck:
    """Checks the records of a stream's first page that has any (once per run, see :meth:`start`).

    Args:
        data_path: The stream's compiled ``data_path``.
        key_fields: ``destination.key_fields``.
        replication_key: The replication key, or None.
    """

    def __init__(
        self,
        data_path: DottedPath,
        key_fields: Sequence[str],
        replication_key: str | None,
        next_path: DottedPath | None = None,
        next_what: str = "cursor",
        limit: int | None = None,
    ) -> None:
        self.data_path = data_path
        self.fields = [(name, "destination.key_fields") for name in key_fields]
        if replication_key and replication_key not in key_fields:
            self.fields.append((replication_key, "replication_key"))
        self.pending = True
        #: ``pagination.response_path`` when the next token is read from the body, else None.
        self.next_path = next_path
        self.next_what = next_what
        #: ``pagination.limit``: a first page shorter than it is the last (as for offset and page).
        self.limit = limit
        self.next_pending = next_path is not None

    def start(self) -> None:
        """Check the next page with records again (a new run of the stream)."""
        self.pending = True
        self.next_pending = self.next_path is not None

    def check(self, document: Any, url: str) -> None:
        """Check one decoded response; after the first with records, do nothing more.

        Args:
            document: The decoded body (None: no body).
            url: The request URL, secrets masked, for the message.

        Raises:
            ResponseShapeError: ``data_path`` gives one object that holds a list of objects
                (unless that object has every key field and the replication key: then it is
                the record), or a record lacks a key field or the replication key. The message
                names the path to set, or the field, the record and the fields it has. Or the
                very first page has records but no key at ``pagination.response_path`` (absent,
                not ``null``): the message names the top-level keys and the closest path.
        """
        if not self.pending or document is None:
            return
        found = self.data_path.resolve(document)
        has_records = found is not MISSING and found is not None and found != []
        if self.next_pending:
            self.next_pending = False  # only the very first page: later pages may omit the key at the end
            # A first page without records, or shorter than pagination.limit, is the last one
            # (HubSpot leaves 'paging' out there): only a full first page must say how to go on.
            count = len(found) if isinstance(found, list) else 1
            if has_records and (self.limit is None or count >= self.limit):
                self._check_next_path(document, url)
        if not has_records:
            return  # no records here: records_at gives the error for a missing path
        if isinstance(found, dict):
            self._check_single_object(found, url)
            records: list[Any] = [found]
        elif isinstance(found, list):
            records = found
        else:
            return  # records_at refuses it with its own message
        for number, record in enumerate(records, 1):
            if not isinstance(record, dict):
                return
            for name, setting in self.fields:
                if name not in record:
                    self._missing_field(record, number, name, setting, url)
        self.pending = False

    def check_raw(self, records: Sequence[Any], url: str) -> None:
        """Check the records of one response given as their JSON text, like :meth:`check`.

        Each record is decoded alone, its values left undecoded, so the page is never held as
        Python objects (a page copied through undecoded stays about the size of its text).

        Args:
            records: Each record's JSON text (``msgspec.Raw``), every one an object.
            url: The request URL, secrets masked, for the message.

        Raises:
            ResponseShapeError: A record lacks a key field or the replication key (as :meth:`check`).
        """
        if not self.pending or not records:
            return
        if self.fields:
            for number, text in enumerate(records, 1):
                keys = _FIELDS.decode(text)
                for name, setting in self.fields:
                    if name not in keys:
                        self._missing_field(fastjson.loads(text), number, name, setting, url)
        self.pending = False

    def _check_next_path(self, document: Any, url: str) -> None:
        assert self.next_path is not None  # noqa: S101 - set whenever next_pending is
        if self.next_path.resolve(document) is not MISSING:
            return
        keys = sorted(document) if isinstance(document, dict) else []
        shown = ", ".join(f"'{key}'" for key in keys[:FIELDS_SHOWN]) or "none (the body is a list)"
        path = self.next_path.path
        paths = sorted(_key_paths(document, (), SEARCH_DEPTH))
        last = self.next_path.segments[-1] if self.next_path.segments else ""
        # difflib misses a short name inside a longer one ('next' in 'next_cursor'): those first.
        close = [p for p in paths if last and last in p.rsplit(".", 1)[-1]]
        close = close or difflib.get_close_matches(path, paths, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        msg = (
            f"pagination.response_path '{path}' is not in the first page's response ({url}); top-level keys "
            f"present: {shown}.{hint} An absent key is not the end of the pages (the last page has null or an "
            f"empty value there), so following it would read only the first page: set pagination.response_path "
            f"to the key holding the next {self.next_what}."
        )
        raise ResponseShapeError(msg)

    def _check_single_object(self, found: dict[str, Any], url: str) -> None:
        if self.fields and all(name in found for name, _ in self.fields):
            return  # the object carries the record's key: it is one record
        lists = sorted(_lists_of_objects(found, (), SEARCH_DEPTH), key=lambda item: -len(item[1]))
        if not lists:
            return
        path, items = lists[0]
        wanted = [name for name, _ in self.fields]
        with_fields = [item for item in lists if all(name in item[1][0] for name in wanted)]
        if with_fields:
            path, items = with_fields[0]
        here = self.data_path.path
        full = ".".join([*self.data_path.segments, *path])
        key = ".".join(path)
        unit = "object" if len(items) == 1 else "objects"
        msg = (
            f"data_path '{here}' gives one object in the response from {url}; its key '{key}' holds a list of "
            f"{len(items)} {unit}: set data_path to '{full}'."
        )
        if not self.fields:
            msg += " If the object itself is the one record, set destination.key_fields to its key field(s)."
        raise ResponseShapeError(msg)

    def _missing_field(self, record: dict[str, Any], number: int, name: str, setting: str, url: str) -> None:
        fields = sorted(record)[:FIELDS_SHOWN]
        msg = f"record {number} of the first page ({url}) has no '{name}' field ({setting}); fields present: {fields}."
        deeper = next((path for path, items in _lists_of_objects(record, (), SEARCH_DEPTH) if name in items[0]), None)
        if deeper is not None:
            full = ".".join([*self.data_path.segments, str(number - 1), *deeper])
            msg += f" The records may be the list at '{full}': check data_path ('{self.data_path.path}')."
        else:
            msg += f" Check {setting}, and data_path ('{self.data_path.path}')."
        raise ResponseShapeError(msg)


def _lists_of_objects(
    node: dict[str, Any], prefix: tuple[str, ...], depth: int
) -> Iterable[tuple[tuple[str, ...], list[Any]]]:
    """Yield ``(path, list)`` for each non-empty list of objects under ``node``, breadth first, ``depth`` levels."""
    nested: list[tuple[tuple[str, ...], dict[str, Any]]] = []
    for key, value in node.items():
        if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            yield (*prefix, key), value
        elif isinstance(value, dict):
            nested.append(((*prefix, key), value))
    if depth > 1:
        for path, value in nested:
            yield from _lists_of_objects(value, path, depth - 1)


def _key_paths(node: Any, prefix: tuple[str, ...], depth: int) -> Iterable[str]:
    """Yield the dotted path of every key in the objects of ``node``, ``depth`` levels (lists not entered)."""
    if not isinstance(node, dict) or depth < 1:
        return
    for key, value in node.items():
        yield ".".join((*prefix, str(key)))
        yield from _key_paths(value, (*prefix, str(key)), depth - 1)
