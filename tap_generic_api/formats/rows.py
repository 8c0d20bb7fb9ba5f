"""Records from JSON Lines and CSV bodies, one line (or CSV row) at a time.

JSON Lines (https://jsonlines.org): UTF-8, one JSON value per line, LF or CRLF
line ends; every value must be an object here (a record). Blank lines are skipped.
CSV (RFC 4180): a header row naming the columns, then one record per row; fields may be
quoted, holding the delimiter, quotes (doubled) and line breaks. Python's ``csv`` module
reads it; records are dicts of column -> string, converted only where the stream's schema
gives a type (:mod:`tap_generic_api.formats.csv_values`).
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from plugin_kit import fastjson
from tap_generic_api.errors import ResponseShapeError
from tap_generic_api.http.encodings import bom_codec

LOGGER = logging.getLogger("tap_generic_api.formats")
#: Records handed on at a time: the page the rest of the tap sees of a body read as it arrives.
CHUNK_RECORDS = 1000
#: Longest CSV field read, in characters: BigQuery's largest row (100 MB for a load job).
CSV_FIELD_LIMIT = 100 * 2**20
# The csv module refuses fields over 128 KiB by default, which BigQuery stores (a long text or
# JSON column); the limit is the process's, and this process only reads API bodies.
csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))


def chunked(records: Iterable[dict[str, Any]], size: int = CHUNK_RECORDS) -> Iterator[list[dict[str, Any]]]:
    """Yield lists of up to ``size`` records, in order."""
    iterator = iter(records)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def jsonl_records(stream: IO[bytes], describe: str, charset: str = "") -> Iterator[dict[str, Any]]:
    """Yield each line's object.

    Args:
        stream: The decoded body (bytes).
        describe: Stream and redacted URL, for messages.
        charset: The ``Content-Type`` charset, or ``""``. JSON Lines are UTF-8 (jsonlines.org), read
            as bytes; a byte-order mark, else a declared charset other than UTF-8, is honoured as for
            JSON bodies (read as text then), rather than each of its non-ASCII characters turned into U+FFFD.

    Raises:
        ResponseShapeError: A line is not JSON, or not an object; names its line number.
    """
    warned = False
    lines: Iterable[bytes | str] = stream
    codec = _text_codec(stream, charset, describe)
    if codec:
        lines = io.TextIOWrapper(stream, encoding=codec, newline="\n")  # type: ignore[arg-type]
    for number, line in enumerate(lines, 1):
        if number == 1 and isinstance(line, bytes) and line.startswith(codecs.BOM_UTF8):
            line = line[len(codecs.BOM_UTF8) :]  # noqa: PLW2901 - a mark some exporters write
        if not line.strip():
            continue
        try:
            record, repairs = fastjson.decode_strict(line)
        except (ValueError, RecursionError):
            head = line[:200]
            excerpt = (head.decode("utf-8", "replace") if isinstance(head, bytes) else head).strip()
            msg = f"{describe}: line {number} is not JSON (response_format jsonl): {excerpt!r}"
            raise ResponseShapeError(msg) from None
        if not isinstance(record, dict):
            msg = f"{describe}: line {number} holds a {type(record).__name__}, not an object: records must be objects."
            raise ResponseShapeError(msg)
        if not warned and (repairs.non_finite or repairs.surrogates or repairs.invalid_utf8):
            warned = True
            LOGGER.warning(
                "%s: line %d holds NaN/Infinity, lone surrogates or bytes that are not UTF-8, which JSON cannot "
                "carry; written as null or U+FFFD (later lines are repaired alike without another warning).",
                describe,
                number,
            )
        yield record


def _text_codec(stream: IO[bytes], charset: str, describe: str) -> str | None:
    """Return the codec JSON Lines must be decoded with, or None for UTF-8 read as bytes (the fast path)."""
    codec = bom_codec(stream.peek(4)[:4]) if hasattr(stream, "peek") else None
    if codec == "utf-8-sig":
        return None  # the bytes path drops a UTF-8 mark
    if codec:
        return codec
    if charset in ("", "utf-8", "utf8"):
        return None
    try:
        codecs.lookup(charset)
    except LookupError:
        msg = f"{describe}: unknown charset {charset!r} in Content-Type."
        raise ResponseShapeError(msg) from None
    return charset


def csv_records(
    stream: IO[bytes],
    *,
    delimiter: str,
    charset: str,
    convert: Callable[[dict[str, str], int], dict[str, Any]],
    describe: str,
) -> Iterator[dict[str, Any]]:
    """Yield each row after the header as a record (column -> value).

    Args:
        stream: The decoded body (bytes).
        delimiter: ``csv_delimiter``.
        charset: The ``Content-Type`` charset, or ``""`` for UTF-8. A byte-order mark (UTF-8, UTF-16,
            UTF-32) decides over it, and is dropped.
        convert: Converts a row's strings per the schema (:class:`~tap_generic_api.formats.csv_values.CsvTypes`);
            gets the record and its row number (1 = the first row after the header).
        describe: Stream and redacted URL, for messages.

    Raises:
        ResponseShapeError: The header names a column twice or not at all, a row has more or fewer
            fields than the header, or the text is not CSV in the charset; names the row.
    """
    if not hasattr(stream, "peek"):
        stream = io.BufferedReader(stream)  # type: ignore[arg-type]
    # A byte-order mark wins over the charset (a UTF-8 mark read as latin-1 would rename the first column).
    encoding = bom_codec(stream.peek(4)[:4]) or ("utf-8-sig" if charset in ("", "utf-8", "utf8") else charset)  # type: ignore[attr-defined]
    try:
        text = io.TextIOWrapper(stream, encoding=encoding, newline="")  # newline="": the csv module's rule
    except LookupError:
        msg = f"{describe}: unknown charset {charset!r} in Content-Type."
        raise ResponseShapeError(msg) from None
    # strict: a quote opened and never closed is an error, not a field that swallows every row after
    # it (the default reader ends the field at the end of the body); so is text after a closing quote.
    reader = csv.reader(text, delimiter=delimiter, strict=True)
    row_number = ended = 0  # ended: the line the last row read ended on
    try:
        header = next(reader, None)
        if header is None:
            return
        _check_header(header, describe)
        width = len(header)
        ended = reader.line_num
        for row in reader:
            if not row:
                ended = reader.line_num
                continue  # a blank line
            row_number += 1
            if len(row) != width:
                msg = (
                    f"{describe}: row {row_number} (line {reader.line_num}) has {len(row)} fields, the header "
                    f"{width}; check csv_delimiter ({delimiter!r}) and the quoting."
                )
                raise ResponseShapeError(msg)
            ended = reader.line_num
            yield convert(dict(zip(header, row, strict=True)), row_number)
    except UnicodeDecodeError as exc:
        msg = f"{describe}: row {row_number + 1} (line {reader.line_num}) is not CSV as read ({exc})."
        raise ResponseShapeError(msg) from None
    except csv.Error as exc:
        msg = (
            f"{describe}: row {row_number + 1} (starting on line {ended + 1}) is not CSV as read ({exc}); a field "
            "that opens a quote must close it, followed by the delimiter or the end of the line (RFC 4180 section 2)."
        )
        raise ResponseShapeError(msg) from None


def _check_header(header: list[str], describe: str) -> None:
    seen: set[str] = set()
    for position, name in enumerate(header, 1):
        if not name.strip():
            msg = f"{describe}: the CSV header's column {position} has no name; every column needs one."
            raise ResponseShapeError(msg)
        if name in seen:
            msg = f"{describe}: the CSV header names column {name!r} twice; records would lose one of them."
            raise ResponseShapeError(msg)
        seen.add(name)
