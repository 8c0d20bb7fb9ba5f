"""A body's bytes as JSON text: compression the headers do not declare, byte-order marks, charsets.

Some APIs (and some proxies) send gzip or zlib data without ``Content-Encoding``, or compress
twice; requests decodes only what the header declares. JSON is UTF-8 (RFC 8259 section 8.1),
but a byte-order mark or a ``charset`` in ``Content-Type`` says otherwise often enough.
"""

from __future__ import annotations

import codecs
import gzip
import zlib

#: RFC 1952 section 2.3.1: every gzip member starts with these two bytes.
GZIP_MAGIC = b"\x1f\x8b"
#: Byte-order marks, longest first (UTF-32 LE starts with UTF-16 LE's mark).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_ZLIB_CMF = frozenset({0x08, 0x18, 0x28, 0x48, 0x58, 0x68, 0x78})
_UTF8 = frozenset({"", "utf-8", "utf8"})


def is_zlib(data: bytes) -> bool:
    """Return True when ``data`` starts with a zlib header (RFC 1950 section 2.2).

    CMF names deflate (low nibble 8) with a window of at most 32 KiB, and CMF*256 + FLG is a
    multiple of 31. No JSON text starts so: its first byte is whitespace or one of ``{["-0-9tfn``
    (``8`` = 0x38 is the one such CMF that JSON can start with, so it is left out).
    """
    return len(data) >= 2 and data[0] in _ZLIB_CMF and (data[0] << 8 | data[1]) % 31 == 0  # noqa: PLR2004


def decompress_undeclared(data: bytes) -> bytes:
    """Return ``data`` decompressed when it is gzip or zlib ("deflate") data, else as it is.

    Called on the body after the declared ``Content-Encoding`` is undone, so a body compressed
    without saying so, or compressed twice, is read too. Data that only looks compressed (a
    damaged stream) is returned as it is, and the JSON decoder's error quotes it.

    Args:
        data: The body's bytes.

    Returns:
        The decompressed bytes, or ``data``.
    """
    for _ in range(2):  # at most two layers: declared once more than undone, or never declared
        try:
            if data.startswith(GZIP_MAGIC):
                data = gzip.decompress(data)
            elif is_zlib(data):
                data = zlib.decompress(data)
            else:
                return data
        except (OSError, EOFError, zlib.error):
            return data
    return data


def bom_codec(data: bytes) -> str | None:
    """Return the codec a byte-order mark at the start of ``data`` names (it drops the mark), or None.

    A mark is the strongest evidence of a text's encoding, stronger than a declared ``charset``
    (RFC 8259 section 8.1 for JSON; spreadsheet tools write UTF-16 CSV with one).
    """
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return codec
    return None


def json_text(data: bytes, charset: str) -> bytes | str:
    """Return the body as text a JSON decoder reads: UTF-8 bytes as they are, else decoded.

    A byte-order mark decides first (it is the strongest evidence, RFC 8259 section 8.1 allows
    a parser to ignore a UTF-8 one), then a ``charset`` other than UTF-8.

    Args:
        data: The body's bytes.
        charset: The ``charset`` parameter of ``Content-Type``, lower case, or ``""``.

    Returns:
        ``data`` when it is UTF-8 without a mark, else the decoded text.

    Raises:
        ValueError: ``data`` is not text in the charset it declares (or an unknown charset).
    """
    codec = bom_codec(data)
    if codec is not None:
        return data.decode(codec)
    if charset in _UTF8:
        return data
    try:
        return data.decode(charset)
    except LookupError:
        msg = f"unknown charset {charset!r} in Content-Type"
        raise ValueError(msg) from None
