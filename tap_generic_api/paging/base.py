"""The paginator base: the state every paginator owns, the page cap and loop detection, in one place.

A paginator is a small state object that owns its token and page count: it reads each response
(:meth:`SafePaginator.advance`) and puts its token into the next request
(:meth:`SafePaginator.update_request`); the page loops (:mod:`tap_generic_api.paging.loops`)
never read or write its fields. Modelled on singer-sdk's ``BaseAPIPaginator``; the types are in
:mod:`tap_generic_api.paging.paginators`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import requests
from singer_sdk.pagination import BaseAPIPaginator
from singer_sdk.streams.rest import HTTPRequest

from tap_generic_api.config import PaginationConfig
from tap_generic_api.errors import PaginationLoopError
from tap_generic_api.http.responses import read_json
from tap_generic_api.paths import DottedPath

#: Returns the records of a response (already decoded and cached).
RecordsOf = Callable[[requests.Response], list[Any]]

logger = logging.getLogger("tap_generic_api.pagination")


class SafePaginator(BaseAPIPaginator[Any]):
    """Base paginator with the page cap and loop detection shared by every type.

    Args:
        start_value: Token of the first request.
        config: The stream's pagination block.
        records_of: Function returning a response's records.
        stream: Stream name, for messages.
        first_url: The configured (rendered) URL; next links must stay on its host.
        allowed_hosts: Other hosts next links may point to.
        redact: Masks secrets in a URL, for messages.
        data_path: The stream's ``data_path``, to tell ``null`` records from an empty list.
    """

    def __init__(
        self,
        start_value: Any,
        *,
        config: PaginationConfig,
        records_of: RecordsOf,
        stream: str,
        first_url: str = "",
        allowed_hosts: tuple[str, ...] = (),
        redact: Callable[[str], str] = str,
        data_path: DottedPath | None = None,
    ) -> None:
        super().__init__(start_value)
        self.config = config
        self.records_of = records_of
        self.stream = stream
        self.first_url = first_url
        self.allowed_hosts = allowed_hosts
        self.redact = redact
        self.data_path = data_path or DottedPath("")
        self._seen: set[Any] = set()
        # Records of the last page read, for numbered types' loop detection (check_page).
        self._previous: list[Any] | None = None
        self._pages_read = 0
        self.truncated = False
        #: What cut the sequence short, as a phrase for messages ("" while it is not truncated).
        self.cut_by = ""

    #: Whether the paginator reads a response's body beyond its records (a cursor, a next URL):
    #: then records cannot be copied through undecoded (see :meth:`reads_body`).
    READS_BODY = False

    #: Whether tokens are URLs: then a next link back to the first page is a loop too.
    TOKEN_IS_URL = False

    #: Whether the next token comes from the tap, not the API (offset, page number): an API that
    #: ignores it answers every request alike, which the repeated-token check cannot see.
    NUMBERED = False

    @classmethod
    def reads_body(cls, config: PaginationConfig) -> bool:
        """Return True when this type needs a response's body beyond its records.

        When False (and the stream reads no field of the records), each record's JSON text can be
        copied into its RECORD message undecoded.
        """
        return cls.READS_BODY

    @property
    def count(self) -> int:
        """Pages read so far, empty last pages included (the stream's summary)."""
        return self._page_count

    def count_page(self) -> None:
        """Count one page read (the loops fetching ahead call this; :meth:`advance` counts its own)."""
        self._page_count += 1

    def reached_cap(self) -> bool:
        """Finish at ``pagination.max_pages`` pages, marked truncated with a warning; else return False.

        The one place the page cap is enforced.
        """
        if self._page_count < self.config.max_pages:
            return False
        logger.warning(
            "Stream '%s': stopped after %d pages (pagination.max_pages); the result may "
            "be truncated. Raise max_pages or narrow the request with params.",
            self.stream,
            self._page_count,
        )
        self.truncated = True
        self.cut_by = f"stopped at pagination.max_pages ({self.config.max_pages} pages)"
        self._finished = True
        return True

    def check_page(self, records: list[Any]) -> None:
        """Stop when a numbered type's page holds the same records as the page before it.

        Called with each page's records before they are written. Offset and page numbers come from
        the tap, not the API, so the repeated-token check in :meth:`advance` cannot see an API that
        ignores them: it answers every request alike, and the same records would be written until
        ``pagination.max_pages``.

        Raises:
            PaginationLoopError: Two pages in a row hold the same records.
        """
        if not self.NUMBERED:
            return
        self._pages_read += 1
        if records == self._previous:
            number = self._pages_read
            msg = (
                f"Stream '{self.stream}': pages {number - 1} and {number} hold the same {len(records)} "
                "records; the API seems to ignore the pagination parameter. Stopping so no record "
                "is written twice; check pagination.type and pagination.param."
            )
            raise PaginationLoopError(msg, stream=self.stream)
        self._previous = records

    def advance(self, response: requests.Response) -> None:
        """Move to the next token, or finish.

        Finishes when ``has_more`` is false or there is no next token; when the API echoes
        the current token straight back (it marks the last page so; logged as a warning);
        and at ``pagination.max_pages`` (logged as a warning: the result may be truncated).

        Args:
            response: The response just read.

        Raises:
            PaginationLoopError: The next token was already requested earlier in this stream.
        """
        self._page_count += 1
        if self._value is not None:
            self._seen.add(self._value)
        elif self.TOKEN_IS_URL:
            self._seen.add(response.url)  # the first page: a next link back to it is a loop
        if not self.has_more(response):
            self._finished = True
            return
        new_value = self.get_next(response)
        if new_value is None or new_value == "":
            self._finished = True
            return
        if new_value == self._value:
            logger.warning(
                "Stream '%s': the API returned the same pagination token again (%r); "
                "treating the page as the last one.",
                self.stream,
                self.redact(str(new_value)),
            )
            self._finished = True
            return
        if new_value in self._seen:
            msg = (
                f"Stream '{self.stream}': pagination loop detected, the API returned "
                f"{self.redact(str(new_value))!r} which was already requested in this run. Stopping so no "
                "page is read twice; check pagination.type and pagination.response_path."
            )
            raise PaginationLoopError(msg, stream=self.stream)
        if self.reached_cap():
            return
        self._value = new_value

    def end_at_empty_page(self, response: requests.Response) -> None:
        """End the stream at a page without records that does not lead on (no cursor, no next link).

        The page counts in the summary. After the first page, an empty page ends the stream
        silently only when the pagination's own stop rule says so (:meth:`says_ended`); else
        (no body, or ``null`` where the records should be, and no stop signal) a warning names
        the page.

        Args:
            response: The empty page's response.
        """
        self._page_count += 1
        self.warn_if_cut(response)

    def warn_if_cut(self, response: requests.Response) -> None:
        """Warn when the empty page just counted is not the end by the pagination's stop rule.

        The sequence is then marked truncated, as at ``max_pages``: an incremental stream's
        bookmark must not move past records the cut may have left out
        (:func:`tap_generic_api.bookmarks.stop_truncated`).
        """
        if self._page_count > 1 and not self.says_ended(response):
            what = f"null at data_path '{self.data_path.path}'"
            if read_json(response, self.redact) is None:
                what = "an empty or null body"
            logger.warning(
                "Stream '%s': page %d (%s, status %d) has %s instead of records, and no next %s; the stream ends "
                "here and may be incomplete. The API should answer the last page with an empty list.",
                self.stream,
                self._page_count,
                self.redact(response.url),
                response.status_code,
                what,
                self.signal,
            )
            self.truncated = True
            self.cut_by = f"cut short at page {self._page_count}, which had {what} and no next {self.signal}"

    #: What leads to the next page, for messages.
    signal = "page"

    def null_page(self, response: requests.Response) -> bool:
        """Return True when ``response`` has no body, or ``null`` at ``data_path``, rather than a list."""
        document = read_json(response, self.redact)
        return document is None or self.data_path.resolve(document) is None

    def says_ended(self, response: requests.Response) -> bool:
        """Return True when the pagination's stop rule reads an empty ``response`` as the last page.

        An empty list is the end; a page without a body or with ``null`` records is not, by
        itself (types that read a stop signal from the body override this).
        """
        return not self.null_page(response)

    def update_request(self, request: HTTPRequest, token: Any = None) -> None:
        """Put a token (default: the current one) and the page size into ``request``, in place.

        They go into the query or, with ``location: body``, the JSON body.
        """
        token = self._value if token is None else token
        values: dict[str, Any] = {}
        if self.config.limit is not None:
            values[self.config.limit_param] = self.config.limit
        if token is not None and self.config.param:
            values[self.config.param] = token
        if self.config.location == "body":
            request.data = {**(request.data or {}), **values}  # type: ignore[dict-item]
        else:
            request.params.update(values)

    def get_next(self, response: requests.Response) -> Any:  # pragma: no cover - abstract
        """Return the next token, or None when there is no next page."""
        raise NotImplementedError
