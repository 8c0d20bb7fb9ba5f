"""Reading a stream's records from a response: at ``data_path``, checked on the first page, decoded or raw."""

from __future__ import annotations

from typing import Any

import requests

from tap_generic_api.config import StreamConfig
from tap_generic_api.errors import ResponseShapeError
from tap_generic_api.formats.streamed import FormatReader, StreamedRecords
from tap_generic_api.http.messages import StreamMessages
from tap_generic_api.http.responses import raw_records_at, read_json, records_at
from tap_generic_api.paging.first_page import FirstPageCheck
from tap_generic_api.paging.paginators import PAGINATORS
from tap_generic_api.paths import DottedPath


def records_pass_through(config: StreamConfig) -> bool:
    """Return True when a stream's records need not be decoded at all (when they also go out unchanged).

    No field is read from them (no replication key to filter on or to bookmark), and the
    paginator needs only their count or the ``Link`` header, not the body's other fields
    (:meth:`~tap_generic_api.paging.paginators.SafePaginator.reads_body`). Then each record's JSON
    text is copied into its RECORD message instead of being decoded and encoded again, which is
    most of the tap's work per record.
    """
    pagination = config.pagination
    return not config.replication_key and not PAGINATORS[pagination.type].reads_body(pagination)


class RecordReader:
    """Returns the records of a response (callable), decoded once and cached on the response.

    Args:
        config: The stream's config (``data_path``, key fields, replication key).
        messages: Masks secrets in URLs, for errors.

    Attributes:
        data_path: The stream's ``data_path``.
        first_page: The check of the first page with records (started per run).
        raw: While True, records are each record's JSON text, undecoded (see :func:`records_pass_through`).
    """

    def __init__(self, config: StreamConfig, messages: StreamMessages) -> None:
        self.name = config.name
        self.messages = messages
        self.data_path = DottedPath(config.data_path)
        pagination = config.pagination
        next_path = DottedPath(pagination.response_path) if PAGINATORS[pagination.type].reads_body(pagination) else None
        what = "URL" if pagination.type == "link" else "cursor"
        self.first_page = FirstPageCheck(
            self.data_path, config.key_fields, config.replication_key, next_path, what, pagination.limit
        )
        self.raw = False
        self.formats = FormatReader(config, lambda response: f"Stream '{self.name}': {messages.url(response.url)}")

    def __call__(self, response: requests.Response) -> list[Any] | StreamedRecords:
        """Return the records of ``response`` at ``data_path``; JSON Lines and CSV as they arrive.

        A JSON Lines or CSV body (:mod:`tap_generic_api.formats`) gives a :class:`StreamedRecords`
        (chunks of records read while the body arrives), whose first chunk is checked like a first page.

        Raises:
            ResponseShapeError: The body is not JSON, or not records where ``data_path`` points; names the stream.
        """
        url = self.messages.url
        streamed = self.formats(response)
        if streamed is not None:
            if self.first_page.pending and streamed:
                self.first_page.check(streamed.first(), url(response.url))
            return streamed
        try:
            if self.raw:
                raw = raw_records_at(response, self.data_path)
                if raw is not None:
                    self.first_page.check_raw(raw, url(response.url))
                    return raw
            if self.first_page.pending:  # until a page with records passes; before any is written
                self.first_page.check(read_json(response, url, self.name), url(response.url))
            return records_at(read_json(response, url, self.name), self.data_path, url=url(response.url))
        except ResponseShapeError as exc:
            msg = f"Stream '{self.name}': {exc}"
            raise ResponseShapeError(msg, stream=self.name) from None
