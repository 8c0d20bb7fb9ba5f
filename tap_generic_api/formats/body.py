"""A response body as a decoded byte stream, read as it arrives: compression undone, a zip opened.

The declared ``Content-Encoding`` is undone by urllib3; gzip (RFC 1952) or zlib (RFC 1950)
data sent without saying so is recognised by its first bytes, as for JSON bodies
(:mod:`tap_generic_api.http.encodings`, whose tests of the magic bytes are reused), but
decompressed a block at a time instead of whole. A zip (PKWARE APPNOTE section 4.3) keeps its
directory at its end, so it cannot be read as it arrives: it is copied to a temporary file (disk,
not memory) and its one file is read from there. A zip with several files is an error: which of
them holds the stream's records is not something to guess.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from typing import IO

import requests
import urllib3

from tap_generic_api.errors import ResponseShapeError
from tap_generic_api.http.encodings import GZIP_MAGIC, is_zlib

#: Bytes read from the socket or a decompressor at a time.
BLOCK_BYTES = 1 << 16
#: Every zip file starts with a local file header, or (empty archive) the end of central directory.
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


class _ZlibReader(io.RawIOBase):
    """A readable stream of the zlib data read from ``source``, decompressed a block at a time."""

    def __init__(self, source: IO[bytes]) -> None:
        self._source = source
        self._decompress = zlib.decompressobj()
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            if self._decompress.eof:
                return 0
            data = self._source.read(BLOCK_BYTES)
            if not data:
                self._pending = self._decompress.flush()
                if not self._decompress.eof:
                    # The body ended before the stream's end marker (RFC 1950 section 2.2: the
                    # Adler-32 trailer): a cut transfer, never the end of the records.
                    msg = "the zlib data ended before its end marker"
                    raise EOFError(msg)
                if not self._pending:
                    return 0
                break
            self._pending = self._decompress.decompress(data)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


class _SocketReader(io.RawIOBase):
    """urllib3's body as a raw stream that stays readable at its end.

    urllib3 closes the response once the body is read, and a ``BufferedReader`` over it then
    raises on the next read, which the gzip reader makes (it looks for another member).
    """

    def __init__(self, raw: urllib3.BaseHTTPResponse) -> None:
        self._raw = raw
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._done:
            return 0
        data = self._raw.read1(len(buffer), decode_content=True)  # the declared Content-Encoding undone
        if not data:
            self._done = True
            return 0
        buffer[: len(data)] = data
        return len(data)


class Body:
    """The decoded bytes of one response, as a buffered stream (``stream``); closing it closes the response.

    Args:
        response: A 2xx response whose body has not been read (``stream=True``), or has been.
        describe: Who asked what, for error messages (stream and redacted URL).

    Attributes:
        stream: The decoded bytes.
        member: The name of the zip's file, or ``""`` when the body was no zip.

    Raises:
        ResponseShapeError: A zip holding no file or several; names them.
    """

    def __init__(self, response: requests.Response, describe: str) -> None:
        self.describe = describe
        self.member = ""
        self._declared_encoding = response.headers.get("Content-Encoding", "")
        self._closing = contextlib.ExitStack()
        self._closing.callback(response.close)
        if getattr(response, "_content_consumed", False):
            source: IO[bytes] = io.BufferedReader(io.BytesIO(response.content), BLOCK_BYTES)  # type: ignore[arg-type]
        else:
            source = io.BufferedReader(_SocketReader(response.raw), BLOCK_BYTES)
        try:
            with self.errors():  # peeking decompresses the first block: a damaged one fails here
                self.stream = self._decoded(source)
        except BaseException:
            self.close()
            raise

    def _decoded(self, source: IO[bytes]) -> IO[bytes]:
        stream = _decompressed(source)
        if _peek(stream).startswith(ZIP_MAGIC):
            # A zip's one file may be compressed again (``export.csv.gz`` inside ``export.zip``).
            stream = _decompressed(self._zip_member(stream))
        return stream

    def _zip_member(self, stream: IO[bytes]) -> IO[bytes]:
        spool = self._closing.enter_context(tempfile.TemporaryFile(prefix="tap-generic-api-zip-"))
        shutil.copyfileobj(stream, spool, BLOCK_BYTES)
        spool.seek(0)
        try:
            archive = self._closing.enter_context(zipfile.ZipFile(spool))
        except zipfile.BadZipFile as exc:
            msg = f"{self.describe}: the body starts like a zip file but is not one ({exc})."
            raise ResponseShapeError(msg) from None
        # macOS's archiver adds an AppleDouble copy of each file's metadata under __MACOSX/ (no data).
        files = [info for info in archive.infolist() if not info.is_dir() and not info.filename.startswith("__MACOSX/")]
        if len(files) != 1:
            names = [info.filename for info in files][:10]
            msg = (
                f"{self.describe}: the zip holds {len(files)} files {names}; a stream reads a zip holding one file "
                "(split the export, or give each file its own stream)."
            )
            raise ResponseShapeError(msg)
        self.member = files[0].filename
        try:
            return self._closing.enter_context(archive.open(files[0]))  # type: ignore[return-value]
        except (RuntimeError, NotImplementedError) as exc:  # encrypted; a method zipfile lacks (Deflate64)
            msg = f"{self.describe}: the zip's file {self.member!r} cannot be read ({exc})."
            raise ResponseShapeError(msg) from None

    def chunks(self) -> Iterator[bytes]:
        """Yield the decoded body a block at a time.

        Raises:
            ResponseShapeError: Compressed data is damaged or cut short; names the response.
        """
        with self.errors():
            while block := self.stream.read(BLOCK_BYTES):
                yield block

    @contextlib.contextmanager
    def errors(self) -> Iterator[None]:
        """Turn a decompression error while reading into a :class:`ResponseShapeError` naming the response."""
        try:
            yield
        except urllib3.exceptions.DecodeError as exc:
            # Not a lost connection: the body is not what its Content-Encoding declares.
            encoding = self._declared_encoding or "?"
            msg = f"{self.describe}: the body is not {encoding} data, as its Content-Encoding says ({exc})."
            raise ResponseShapeError(msg) from None
        except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
            if isinstance(exc, requests.RequestException | ConnectionError | TimeoutError):
                raise
            msg = f"{self.describe}: the body's compressed data is damaged or cut short ({exc})."
            raise ResponseShapeError(msg) from None

    def close(self) -> None:
        """Close the decoders, the temporary file and the response (its connection goes back to the pool)."""
        self._closing.close()


def _decompressed(source: IO[bytes]) -> IO[bytes]:
    """Return ``source`` with up to two layers of gzip or zlib undone (as for JSON bodies), buffered to peek."""
    stream = source if hasattr(source, "peek") else io.BufferedReader(source, BLOCK_BYTES)  # type: ignore[arg-type]
    for _ in range(2):
        head = _peek(stream)
        if head.startswith(GZIP_MAGIC):
            # GzipFile reads every member (RFC 1952 section 2.2 allows several) and raises at a cut one.
            stream = gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[assignment]
        elif is_zlib(head):
            stream = io.BufferedReader(_ZlibReader(stream), BLOCK_BYTES)
        else:
            break
    return stream


def _peek(stream: IO[bytes]) -> bytes:
    peek = getattr(stream, "peek", None)
    return peek(4)[:4] if peek is not None else b""
