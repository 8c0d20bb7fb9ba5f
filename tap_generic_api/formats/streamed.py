"""A response's records in any format: JSON Lines and CSV read while the body arrives, a chunk at a time.

A JSON document is read whole (``data_path`` and the paginators need all of it) by
:mod:`tap_generic_api.http.responses`; a zip holding one JSON file is opened first. JSON Lines
and CSV bodies are left on the socket by the transport and read here a block at a time, so a
1 GB export is held one chunk of :data:`~tap_generic_api.formats.rows.CHUNK_RECORDS` records at
a time, never whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import requests
import urllib3

from tap_generic_api.config import StreamConfig
from tap_generic_api.errors import APIRequestError, ResponseShapeError
from tap_generic_api.formats import choice
from tap_generic_api.formats.body import ZIP_MAGIC, Body
from tap_generic_api.formats.csv_values import CsvTypes
from tap_generic_api.formats.rows import LOGGER, chunked, csv_records, jsonl_records
from tap_generic_api.http.responses import declared_charset, remember_document
from tap_generic_api.paging.paginators import PAGINATORS

_CACHE_ATTR = "_tap_generic_api_streamed"


class StreamedRecords:
    """The records of one response read as it arrives: iterating yields lists of records (chunks).

    Behaves as a page for the page loops: true when it holds a record (the first chunk is read
    to know), and its length is the number of records once every chunk has been read.

    Args:
        chunks: The record chunks, in order.
        body: The body they are read from (closed at the end, or on an error).
        describe: Stream and redacted URL, for messages.
    """

    def __init__(self, chunks: Iterator[list[dict[str, Any]]], body: Body, describe: str) -> None:
        self._chunks = chunks
        self._body = body
        self._describe = describe
        self._head: list[dict[str, Any]] | None = None
        self.count = 0
        self.done = False

    def first(self) -> list[dict[str, Any]]:
        """Return the first chunk (read now if not yet; ``[]`` for a body without records)."""
        if self._head is None:
            self._head = self._next() or []
        return self._head

    def __bool__(self) -> bool:
        return bool(self.first())

    def __iter__(self) -> Iterator[list[dict[str, Any]]]:
        head = self.first()
        if head:
            self.count += len(head)
            yield head
        while chunk := self._next():
            self.count += len(chunk)
            yield chunk

    def __len__(self) -> int:
        if not self.done:
            msg = "the records of a response read as it arrives are counted only once all are read"
            raise RuntimeError(msg)
        return self.count

    def collect(self) -> list[dict[str, Any]]:
        """Return every record as one list (for pages that are bounded by ``pagination.limit``)."""
        records = [record for chunk in self for record in chunk]
        self.count = len(records)
        return records

    def _next(self) -> list[dict[str, Any]] | None:
        if self.done:
            return None
        try:
            with self._body.errors():
                chunk = next(self._chunks, None)
        except (urllib3.exceptions.HTTPError, requests.RequestException, ConnectionError, TimeoutError) as exc:
            self._finish()
            msg = (
                f"{self._describe}: the connection failed while the body was read, after {self.count} records "
                f"({type(exc).__name__}: {exc}); those records are written, the rest is not."
            )
            raise APIRequestError(msg) from None
        except BaseException:
            self._finish()
            raise
        if chunk is None:
            self._finish()
        return chunk

    def _finish(self) -> None:
        self.done = True
        self._body.close()


class FormatReader:
    """Reads a response in the stream's format; for JSON, says so and lets the JSON reader work.

    Args:
        config: The stream's config (``response_format``, ``csv_delimiter``, ``schema``, ``data_path``, pagination).
        describe: Returns "Stream 'x': <redacted url>" for a response, for messages.
    """

    def __init__(self, config: StreamConfig, describe: Callable[[requests.Response], str]) -> None:
        self.config = config
        self.describe = describe
        self.types = CsvTypes(config.schema, f"Stream '{config.name}'", config.replication_key)
        self._reads_body = PAGINATORS[config.pagination.type].reads_body(config.pagination)

    def __call__(self, response: requests.Response) -> StreamedRecords | None:
        """Return the records of a JSON Lines or CSV response, or None for a JSON one.

        The result is cached on the response (paginators ask again for its length). A zip holding
        one JSON file is unzipped into the response's body first.

        Raises:
            ResponseShapeError: The body cannot be read in its format (see :mod:`~tap_generic_api.formats.rows`),
                or a setting that reads JSON (``data_path``, a cursor) meets another format.
        """
        cached = getattr(response, _CACHE_ATTR, None)
        if cached is not None:
            return cached
        fmt = choice.format_of(self.config.response_format, response)
        streamed = not getattr(response, "_content_consumed", True)
        if fmt == choice.JSON and not streamed and not response.content.startswith(ZIP_MAGIC):
            return None
        describe = self.describe(response)
        body = Body(response, describe)
        if body.member:
            fmt = choice.format_of_name(body.member, fmt) if not self.config.response_format else fmt
        if fmt == choice.JSON:
            with body.errors():
                content = body.stream.read()
            body.close()
            response._content = content  # noqa: SLF001 - requests' own slot for a read body
            response._content_consumed = True  # noqa: SLF001
            return None
        self._check_settings(fmt, describe)
        if fmt == choice.CSV:
            records = csv_records(
                body.stream,
                delimiter=self.config.csv_delimiter,
                charset=declared_charset(response),
                convert=self.types,
                describe=describe,
            )
        else:
            records = jsonl_records(body.stream, describe, declared_charset(response))
        result = StreamedRecords(chunked(records), body, describe)
        if not result and fmt == choice.CSV and response.status_code != requests.codes.no_content:
            LOGGER.info("%s: a CSV body without records.", describe)
        # The paginators' empty-page rule reads the JSON document: for these formats, no records is an empty list.
        remember_document(response, [])
        setattr(response, _CACHE_ATTR, result)
        return result

    def _check_settings(self, fmt: str, describe: str) -> None:
        if self.config.data_path:
            msg = (
                f"{describe}: the response is {fmt} (by its Content-Type), where data_path "
                f"'{self.config.data_path}' cannot apply; remove data_path or set response_format: json."
            )
            raise ResponseShapeError(msg)
        if self._reads_body:
            msg = (
                f"{describe}: the response is {fmt} (by its Content-Type), but pagination type "
                f"'{self.config.pagination.type}' reads its next token from a JSON body; use link (Link header), "
                "offset or page pagination, or set response_format: json."
            )
            raise ResponseShapeError(msg)
