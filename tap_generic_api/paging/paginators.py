"""``pagination`` config -> singer-sdk paginator (cursor, offset, page, link, none).

Each type reads its next token from a response (``get_next``, ``has_more``) and puts it into the
next request (``update_request``); the state they share, the page cap and loop detection are in
:class:`~tap_generic_api.paging.base.SafePaginator`. The types are chosen from :data:`PAGINATORS`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import requests
import simplejson
from singer_sdk.streams.rest import HTTPRequest

from tap_generic_api.config import PaginationConfig
from tap_generic_api.errors import ForeignHostError
from tap_generic_api.http.responses import read_json
from tap_generic_api.paging.base import RecordsOf, SafePaginator
from tap_generic_api.paging.link_header import next_link
from tap_generic_api.paths import MISSING, DottedPath


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
    TOKEN_IS_URL = True

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
