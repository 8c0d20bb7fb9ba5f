"""Reading Singer messages from stdin with line numbers, so bad input is reported by line."""

from __future__ import annotations

import contextlib
import io
import sys
import typing as t
from collections import Counter
from collections.abc import Callable

import simplejson
from singer_sdk.io_base import SingerReader

from plugin_kit import fastjson
from plugin_kit.errors import first_line
from target_bigquery_smart.errors import InputError, cut
from target_bigquery_smart.raw_records import record_text

#: Characters of a bad line quoted in an error message.
EXCERPT = 120


class LineNumberedReader(SingerReader):
    """A Singer reader that counts lines and reports a failing line by number.

    The SDK's reader quotes a whole unparseable line in its error (records can be large or
    hold secrets) and never says which line. The loop below is the SDK's, with the count and
    an ``on_error`` hook added so the target can commit what it holds before stopping.
    """

    def __init__(self) -> None:
        super().__init__()
        self.line_number = 0
        #: Characters of the line being processed (the sinks' byte budget counts them).
        self.line_length = 0
        #: Called with the exception before it propagates (commit buffered rows, write STATE).
        self.on_error: Callable[[BaseException], None] | None = None
        #: Given ``(stream, record's JSON text)`` for each RECORD line instead of the decoded
        #: message, when set (raw layout; see :mod:`.raw_records`).
        self.raw_record_callback: Callable[[str, str], None] | None = None
        #: The line being processed (decoded whole when a record kept as text needs it).
        self.line = ""

    @property
    def default_input(self) -> t.IO[str]:  # type: ignore[override]
        """stdin, with bytes that are not UTF-8 kept as escapes instead of stopping the read.

        Under a strict locale a bad byte would raise while the line is read, outside any
        line-numbered handling; kept as an escape, the line fails to decode as JSON and is
        reported by number after the rows before it are committed.
        """
        stream = sys.stdin
        with contextlib.suppress(AttributeError, ValueError, io.UnsupportedOperation):
            stream.reconfigure(errors="surrogateescape")  # type: ignore[union-attr]
        return stream

    def deserialize_json(self, line: str) -> dict:
        """Decode one line; numbers with fractions become ``Decimal``.

        Raises:
            InputError: The line is not JSON (quoted up to 120 characters), or is nested
                deeper than the decoder allows (the interpreter's recursion limit).
        """
        try:
            return fastjson.loads(line)
        except RecursionError:
            msg = (
                f"Input line {self.line_number} is nested deeper than the JSON decoder allows (about "
                f"{sys.getrecursionlimit():,} levels of arrays and objects): {line.strip()[:EXCERPT]!r}"
            )
            raise InputError(msg) from None
        except ValueError:
            excerpt = line.strip()[:EXCERPT]
            # Bytes that are not UTF-8 were kept as lone surrogates (see default_input).
            undecodable = isinstance(line, str) and any("\udc80" <= char <= "\udcff" for char in line)
            reason = " (it holds bytes that are not UTF-8)" if undecodable else ""
            msg = f"Input line {self.line_number} is not valid JSON{reason}: {excerpt!r}"
            raise InputError(msg) from None

    def process_lines(
        self, file_input: t.IO[str] | t.IO[bytes] | None, callbacks: dict[str, Callable[[dict], None]]
    ) -> Counter:
        """Process each line; on an error, call ``on_error`` and re-raise with the line number.

        Blank lines are skipped. The loop does the least work per line that keeps these
        checks: it runs once per record. With :attr:`raw_record_callback` set, a RECORD line
        msgspec reads as strict JSON goes to it as text (:func:`.raw_records.record_text`).
        """
        stats: Counter = Counter()
        decode = self.deserialize_json
        raw_callback = self.raw_record_callback
        for line in file_input or self.default_input:
            self.line_number += 1
            self.line_length = len(line)
            if self.line_number == 1:
                line = line.lstrip("\ufeff")  # a byte-order mark some writers put first
            self.line = line
            try:
                found = record_text(line) if raw_callback is not None else None
                if found is not None:
                    raw_callback(*found)
                    kind = "RECORD"
                else:
                    try:
                        message = decode(line)
                    except InputError:
                        if not line.strip():
                            continue
                        raise
                    kind = message.get("type") if type(message) is dict else None
                    if kind is None:
                        if not isinstance(message, dict):
                            msg = (
                                f"Input line {self.line_number} is not a Singer message (a JSON object with a "
                                f"'type'): it is {type(message).__name__} {line.strip()[:EXCERPT]!r}"
                            )
                            raise InputError(msg)
                        self.assert_line_requires(message, requires={"type"})
                    callback = callbacks.get(kind)
                    if callback is None:
                        self._process_unknown_message(message)
                    else:
                        callback(message)
            except Exception as exc:
                located = getattr(exc, "located", False) or str(exc).startswith(f"Input line {self.line_number}")
                error = exc if located else self._located(exc, line)
                if self.on_error is not None:
                    self.on_error(error)
                if error is exc:
                    raise
                raise error from exc
            stats[kind] += 1
        return stats

    def _process_unknown_message(self, message_dict: dict) -> None:
        """Refuse a message of a type the target does not know, naming the line and the type.

        Raises:
            InputError: Always (the SDK raises a bare ValueError, printed as a traceback).
        """
        msg = (
            f"Input line {self.line_number}: unknown message type {str(message_dict.get('type'))[:40]!r} "
            "(expected SCHEMA, RECORD, STATE or ACTIVATE_VERSION)."
        )
        raise InputError(msg)

    def _located(self, exc: Exception, line: str) -> Exception:
        """Return an error of the same meaning whose text starts with the line number."""
        try:
            stream = simplejson.loads(line).get("stream")
        except (ValueError, AttributeError, RecursionError):
            stream = None
        where = f"Input line {self.line_number}" + (f" (stream '{cut(str(stream), 100)}')" if stream else "")
        text = first_line(exc, 500)
        try:
            return type(exc)(f"{where}: {text}")
        except TypeError:
            return InputError(f"{where}: {type(exc).__name__}: {text}")


def _names(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(name, str) for name in value)


def check_schema_message(message: dict) -> None:
    """Check the fields of a SCHEMA message that the SDK would fail on with a traceback.

    Raises:
        InputError: ``stream`` is not a non-empty string; ``schema`` is not an object, or its
            ``properties`` missing or not an object; ``key_properties`` or ``bookmark_properties`` is not
            a list of property names. The reader adds the input line number.
    """
    stream = message.get("stream")
    if not isinstance(stream, str) or not stream:
        msg = f"SCHEMA message: 'stream' must be a non-empty string, got {simplejson.dumps(stream, default=str)[:60]}."
        raise InputError(msg)
    schema = message.get("schema")
    if not isinstance(schema, dict):
        msg = f"SCHEMA message: 'schema' must be a JSON schema object, got {type(schema).__name__}."
        raise InputError(msg)
    if "properties" not in schema:
        # The SDK (and its standard target tests) require the key; its own message quotes the schema.
        msg = "SCHEMA message: 'schema' has no 'properties' (give {} for a stream without declared fields)."
        raise InputError(msg)
    if not isinstance(schema["properties"], dict):
        kind = type(schema["properties"]).__name__
        msg = f"SCHEMA message: 'schema.properties' must be an object of name -> schema, got {kind}."
        raise InputError(msg)
    for key in ("key_properties", "bookmark_properties"):
        value = message.get(key)
        if value is not None and not _names(value):
            shown = simplejson.dumps(value, default=str)[:60]
            msg = f"SCHEMA message: '{key}' must be a list of property names, got {shown}."
            raise InputError(msg)
