"""Writing Singer messages to stdout: msgspec encoding, buffered, flushed at STATE messages.

The SDK's writer encodes each message with simplejson and flushes stdout after every one;
at 1,000-record pages that costs more than fetching them. This writer encodes with msgspec
(Decimal-exact), keeps up to :data:`FLUSH_BYTES` in memory, and flushes whenever a STATE
message is written (so a STATE never waits behind its records) and at exit.
"""

from __future__ import annotations

import atexit
import sys
from typing import Any

from singer_sdk.io_base import SingerMessageType, SingerWriter

from plugin_kit import fastjson
from plugin_kit.errors import OutputError

#: Bytes buffered before a write to stdout.
FLUSH_BYTES = 1 << 16
#: Records encoded at a time by :meth:`BufferedSingerWriter.write_records` (a usual page is one slice).
SLICE_RECORDS = 1000
#: Encoded bytes above which a slice holds fewer records next time.
SLICE_BYTES = 1 << 20


class BufferedSingerWriter(SingerWriter):
    """A Singer writer that buffers encoded messages and writes them in blocks."""

    def __init__(self) -> None:
        super().__init__()
        self._buffer = bytearray()
        # Where the buffered messages go: stdout as it was when the first of them was written
        # (a caller that redirects stdout for one run gets that run's messages, even at exit).
        self._out: Any = None
        atexit.register(self.flush)

    def serialize_message(self, message: Any) -> str:
        """Encode one message as JSON text."""
        return fastjson.dumps(message.to_dict()).decode()

    def write_message(self, message: Any) -> None:
        """Buffer one message; flush on STATE messages and when the buffer is full."""
        if not self._buffer:
            self._out = sys.stdout
        self._buffer += fastjson.dumps(message.to_dict())
        self._buffer += b"\n"
        if message.type == SingerMessageType.STATE or len(self._buffer) >= FLUSH_BYTES:
            self.flush()

    def write_records(self, prefix: bytes, records: list[Any], suffix: bytes) -> None:
        """Buffer one RECORD message per record from pre-encoded parts (the hot path).

        The records are encoded as JSON lines, :data:`SLICE_RECORDS` at a time (fewer when
        they are large), so a large page is never held again as one block of output on top of
        itself; since JSON text never holds a raw newline, each line break is where one message
        ends and the next begins.

        Args:
            prefix: ``{"type":"RECORD","stream":"<name>","record":``.
            records: The records, in order: dicts, or their JSON text as ``msgspec.Raw``
                (copied as is; it must hold no line break).
            suffix: The rest of each message, closing brace and newline included.
        """
        step = SLICE_RECORDS
        start = 0
        while start < len(records):
            part = records[start : start + step] if start or len(records) > step else records
            start += len(part)
            lines = fastjson.dumps_lines(part)
            if len(lines) > SLICE_BYTES:  # large records: fewer per slice, at least one
                step = max(1, step * SLICE_BYTES // len(lines))
            buffer = self._buffer
            if not buffer:
                self._out = sys.stdout
            buffer += prefix
            buffer += lines[:-1].replace(b"\n", suffix + prefix)
            buffer += suffix
            del lines
            if len(buffer) >= FLUSH_BYTES:
                self.flush()

    def flush(self) -> None:
        """Write the buffered messages to stdout (its binary layer when it has one).

        Raises:
            OutputError: The program reading stdout closed it, or the write failed.
        """
        if not self._buffer:
            return
        data = bytes(self._buffer)
        self._buffer.clear()
        out = self._out or sys.stdout
        binary = getattr(out, "buffer", None)
        try:
            if binary is not None:
                out.flush()
                binary.write(data)
                binary.flush()
            else:
                out.write(data.decode())
                out.flush()
        except OSError as exc:
            raise OutputError(exc) from None
