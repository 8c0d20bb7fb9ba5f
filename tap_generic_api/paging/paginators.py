"""``pagination`` config -> singer-sdk paginator (cursor, offset, page, link, none).

A paginator is a small state object that owns its token and page count: it reads each
response (:meth:`SafePaginator.advance`) and puts its token into the next request
(:meth:`SafePaginator.update_request`); the page loops (:mod:`tap_generic_api.paging.loops`)
never read or write its fields. The page cap (``pagination.max_pages``) and loop detection
live in one place, :class:`SafePaginator`. Modelled on singer-sdk's ``BaseAPIPaginator``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import requests
import simplejson
from singer_sdk.pagination import BaseAPIPaginator
from singer_sdk.streams.rest import HTTPRequest

from tap_generic_api.config import PaginationConfig
from tap_generic_api.errors import ForeignHostError, PaginationLoopError
from tap_generic_api.http.responses import read_json
from tap_generic_api.paging.link_header import next_link
from tap_generic_api.paths import MISSING, DottedPath

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

    #: Whether the paginator reads a response's body beyond its records (a cursor, a next URL):
    #: then records cannot be copied through undecoded (see :meth:`reads_body`).
    READS_BODY = False

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
        elif isinstance(self, LinkPaginator):
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
        """Warn when the empty page just counted is not the end by the pagination's stop rule."""
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


class NoPaginator(SafePaginator):
    """A single request (``type: none``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(None, **kwargs)

    def says_ended(self, response: requests.Response) -> bool:
        """Return True: there is only one page."""
        return True

    def has_more(self, response: requests.Response) -> bool:
        """Return False: one page only."""
        return False

    def get_next(self, response: requests.Response) -> None:
        """Return None: there is no next page."""
        return None


class CursorPaginator(SafePaginator):
    """Cursor from the body at ``response_path``, sent back as ``param``.

    ``data.-1.id`` (the last record's id, Stripe's ``starting_after``) works because paths
    index lists. An empty page that still carries a cursor is followed: some APIs page
    through empty pages.
    """

    signal = "cursor"
    READS_BODY = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(None, **kwargs)
        self._path = DottedPath(self.config.response_path)

    def get_next(self, response: requests.Response) -> str | None:
        """Return the cursor at ``response_path`` as text, or None when absent or empty."""
        value = self._path.resolve(read_json(response, self.redact))
        if value is MISSING or value is None or value == "" or value is False:
            return None
        if isinstance(value, dict | list):
            return simplejson.dumps(value, separators=(",", ":"))  # an object cursor travels as JSON text
        return str(value)

    def continue_if_empty(self, response: requests.Response) -> bool:
        """Return True when an empty page still carries a next cursor."""
        return self.get_next(response) is not None

    def says_ended(self, response: requests.Response) -> bool:
        """Return True for an empty list, or a body whose cursor is there and empty (``null``, ``""``, false)."""
        return super().says_ended(response) or _explicit_end(self._path, read_json(response, self.redact))


class NumberedPaginator(SafePaginator):
    """Offset or page-number pagination: the next token does not depend on the body.

    Stops on an empty page, or on a page shorter than ``limit`` when a limit is set. With a
    ``limit``, the stream can fetch several pages at once (``pagination.max_concurrency``).
    """

    #: Token of the first request.
    FIRST = 0
    NUMBERED = True

    def token_after(self, token: int) -> int:
        """Return the token of the page after ``token``, assuming full pages of ``limit``."""
        raise NotImplementedError

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(self.FIRST, **kwargs)
        self._issued = 0
        self._next_ahead = self.FIRST

    def may_fetch_ahead(self) -> bool:
        """Return True when pages may be requested before the current one is read.

        That needs the next token without the answer: full pages of a fixed ``limit``.
        """
        return bool(self.config.limit) and self.config.max_concurrency > 1

    def issue(self) -> int | None:
        """Return the token of the next page to request ahead, or None at ``pagination.max_pages`` requests."""
        if self._issued >= self.config.max_pages:
            return None
        token = self._next_ahead
        self._next_ahead, self._issued = self.token_after(token), self._issued + 1
        return token

    def overfull_resume(self, token: int, records: list[Any]) -> int | None:
        """Return where to go on one page at a time when a page holds more than ``limit`` records, else None.

        Only offsets move by the records received: the offsets requested ahead overlap such a
        page, so the loop drops them and goes on from the real offset.
        """
        return None

    def has_more(self, response: requests.Response) -> bool:
        """Return False on an empty page or a page shorter than ``limit``."""
        count = len(self.records_of(response))
        limit = self.config.limit
        return count > 0 and (limit is None or count >= limit)


class OffsetPaginator(NumberedPaginator):
    """Numeric offset in ``param`` (first 0), advancing by the records received."""

    FIRST = 0

    def token_after(self, token: int) -> int:
        """Return ``token + limit``."""
        return token + int(self.config.limit or 0)

    def get_next(self, response: requests.Response) -> int:
        """Return the offset of the next page."""
        return int(self._value) + len(self.records_of(response))

    def overfull_resume(self, token: int, records: list[Any]) -> int | None:
        """Return ``token + len(records)`` for a page over ``limit`` (the real next offset), else None."""
        if len(records) > int(self.config.limit or 0):
            return token + len(records)
        return None


class PagePaginator(NumberedPaginator):
    """Page number in ``param`` (first 1)."""

    FIRST = 1

    def token_after(self, token: int) -> int:
        """Return ``token + 1``."""
        return token + 1

    def get_next(self, response: requests.Response) -> int:
        """Return the next page number."""
        return int(self._value) + 1


class LinkPaginator(SafePaginator):
    """Next URL from the body at ``response_path``, or from the RFC 8288 ``Link`` header.

    The next URL is requested as given (resolved against the current URL when relative),
    never rebuilt from the configured params.
    """

    signal = "link"

    @classmethod
    def reads_body(cls, config: PaginationConfig) -> bool:
        """Return True with ``response_path`` (the next URL is in the body), False with the ``Link`` header."""
        return bool(config.response_path)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(None, **kwargs)
        self._path = DottedPath(self.config.response_path) if self.config.response_path else None

    def says_ended(self, response: requests.Response) -> bool:
        """Return True with the ``Link`` header (its absence is the end), else as for a cursor."""
        if self._path is None or super().says_ended(response):
            return True
        return _explicit_end(self._path, read_json(response, self.redact))

    def get_next(self, response: requests.Response) -> str | None:
        """Return the absolute next URL, or None on the last page.

        Raises:
            ForeignHostError: The link points to another host not in ``allowed_hosts``.
        """
        if self._path is None:
            link = next_link(response.headers.get("Link"))
        else:
            value = self._path.resolve(read_json(response, self.redact))
            link = value if isinstance(value, str) else None
        if not link:
            return None
        next_url = urljoin(response.url, link)
        allowed = {host_of(self.first_url or response.url), *self.allowed_hosts}
        host = host_of(next_url)
        if host not in allowed:
            msg = (
                f"Stream '{self.stream}': the next link points to host '{host}', not the configured "
                f"host '{host_of(self.first_url or response.url)}' ({self.redact(next_url)}). Credentials are "
                "only sent to the configured host; add the host to allowed_hosts to follow it."
            )
            raise ForeignHostError(msg, stream=self.stream, url=self.redact(next_url))
        return next_url

    def continue_if_empty(self, response: requests.Response) -> bool:
        """Return True when an empty page still links to a next page."""
        return self.get_next(response) is not None

    def update_request(self, request: HTTPRequest, token: Any = None) -> None:
        """First page: configured URL, params and page size.

        Later pages: the next URL as given, byte for byte; configured params (and the page
        size) the next URL lacks are appended, never repeated.
        """
        token = self._value if token is None else token
        first_params = dict(request.params)
        if self.config.limit is not None:
            first_params[self.config.limit_param] = self.config.limit
        if token is None:
            request.params = first_params
            return
        request.url = _append_missing(token, first_params)
        request.params = {}


def _explicit_end(path: DottedPath, document: Any) -> bool:
    """Return True when ``document`` holds ``path`` with an empty value: the API says there is no next page."""
    return document is not None and path.resolve(document) in (None, "", False)


def host_of(url: str) -> str:
    """Return ``host[:port]`` of a URL, lower-case."""
    return urlsplit(url).netloc.rsplit("@", 1)[-1].lower()


def _append_missing(url: str, params: dict[str, Any]) -> str:
    """Append to ``url`` the ``params`` whose names its query lacks; the rest stays byte for byte."""
    scheme, netloc, path, query, fragment = urlsplit(url)
    present = {name for name, _ in parse_qsl(query, keep_blank_values=True)}
    missing = [(k, str(v)) for k, v in params.items() if k not in present and v is not None]
    if not missing:
        return url
    extra = urlencode(missing)
    query = f"{query}&{extra}" if query else extra
    return urlunsplit((scheme, netloc, path, query, fragment))


PAGINATORS: dict[str, type[SafePaginator]] = {
    "none": NoPaginator,
    "cursor": CursorPaginator,
    "offset": OffsetPaginator,
    "page": PagePaginator,
    "link": LinkPaginator,
}


def build_paginator(config: PaginationConfig, *, records_of: RecordsOf, stream: str, **options: Any) -> SafePaginator:
    """Return a fresh paginator for one stream run.

    Args:
        config: The stream's pagination block (``type`` already checked).
        records_of: Function returning a response's records.
        stream: Stream name, for messages.
        **options: ``first_url``, ``allowed_hosts``, ``redact`` (see :class:`SafePaginator`).

    Returns:
        A new paginator positioned at the first page.
    """
    return PAGINATORS[config.type](config=config, records_of=records_of, stream=stream, **options)
