"""Reading a response body: JSON once per response, records at ``data_path``.

Records that go out unchanged can also be read undecoded (:func:`raw_records_at`).
"""

from __future__ import annotations

import codecs
import logging
import re
import sys
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import msgspec
import requests

from plugin_kit import fastjson
from plugin_kit.redact import redact_url
from tap_generic_api.errors import EmptyBodyError, ResponseShapeError
from tap_generic_api.http.encodings import json_text
from tap_generic_api.paths import MISSING, DottedPath

#: Characters read past a cut before masking, so a secret across the cut (up to this long) is masked whole.
SECRET_MARGIN_CHARS = 4096
#: Characters of a body quoted in an error message.
BODY_EXCERPT_CHARS = 300

_CACHE_ATTR = "_tap_generic_api_json"
LOGGER = logging.getLogger("tap_generic_api.responses")


_CHARSET = re.compile(r"charset\s*=\s*([^;\s]+)", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")
_SCRIPT = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)


def body_excerpt(
    response: requests.Response, limit: int = BODY_EXCERPT_CHARS, redact: Callable[[str], str] = str
) -> str:
    """Return the first ``limit`` characters of the body on one line (HTML tags removed, unless only tags are left).

    ``redact`` runs before each cut, so a secret straddling a cut is not half shown.
    """
    window = limit * 20  # enough text for ``limit`` characters once whitespace is collapsed
    text = redact(response.text[: window + SECRET_MARGIN_CHARS])[:window]
    if "html" in response.headers.get("Content-Type", "").lower() or text.lstrip().startswith("<"):
        stripped = _TAG.sub(" ", _SCRIPT.sub(" ", text))
        # An XML body is all tags: without them the excerpt would be empty, so it is shown as sent.
        text = stripped if stripped.strip() else text
    text = redact(" ".join(text.split()))
    return text[:limit] + ("..." if len(text) > limit else "")


def check_body(response: requests.Response, describe: str) -> None:
    """Raise :class:`EmptyBodyError` for a 2xx response other than 204 with an empty (or blank) body.

    Args:
        response: A response (only 2xx are checked).
        describe: Who asked what, for the message (stream and redacted URL).

    Raises:
        EmptyBodyError: The body is empty; the retry policy retries it like a 503.
    """
    status = response.status_code
    if not HTTPStatus.OK <= status < HTTPStatus.MULTIPLE_CHOICES or status == HTTPStatus.NO_CONTENT:
        return
    if not getattr(response, "_content_consumed", True):
        return  # a body read as it arrives (JSON Lines, CSV: tap_generic_api.formats), not here
    content = response.content
    if content and not content.isspace():  # not strip(): it copies a large body that ends in a newline
        return
    msg = (
        f"{describe}: status {response.status_code} with an empty body, where JSON was expected (an overloaded "
        "server or proxy answers so); reading it as no records would end the stream early"
    )
    raise EmptyBodyError(msg)


def declared_charset(response: requests.Response) -> str:
    """Return the charset the ``Content-Type`` header declares (lower case), or ``""``.

    Not ``response.encoding``: requests assumes ISO-8859-1 for any ``text/*`` type without a
    charset, which garbles the UTF-8 that JSON is (RFC 8259 section 8.1) when an API labels it
    ``text/plain`` or ``text/html``.
    """
    match = _CHARSET.search(response.headers.get("Content-Type", ""))
    return match.group(1).strip("\"'").lower().replace("_", "-") if match else ""


def read_json(response: requests.Response, redact: Callable[[str], str] = redact_url, stream: str = "") -> Any:
    """Decode the body once and cache it on the response (paginator and parser share it).

    Floats are decoded as :class:`decimal.Decimal` so amounts keep every digit; ``NaN`` and
    ``Infinity`` are accepted. An empty body (204 No Content; other empty answers are refused by
    :func:`check_body` first) is ``None``: no records. A byte-order mark, or a declared charset
    other than UTF-8, is honoured (:func:`tap_generic_api.http.encodings.json_text`).

    Args:
        response: A 2xx response.
        redact: Masks secrets in a URL or text, for the error message.
        stream: The stream's name, for the warning about values made strict JSON.

    Returns:
        The decoded document. The response's body is then emptied (``response.content`` is
        ``b""``), so a large page is not held twice; every later reader reads the document.

    Raises:
        ResponseShapeError: The body is not JSON (an HTML error page sent with status 200);
            the message gives the URL (secrets redacted), content type and an excerpt. Or it
            is nested deeper than the decoder allows (the message gives the URL).
    """
    cached = getattr(response, _CACHE_ATTR, MISSING)
    if cached is not MISSING:
        return cached
    try:
        body = json_text(response.content, declared_charset(response))
        if not body.strip():
            setattr(response, _CACHE_ATTR, None)
            return None
        document, repairs = fastjson.decode_strict(body)
    except ValueError:
        msg = (
            f"Response from {redact(response.url)} is not JSON "
            f"(status {response.status_code}, content type "
            f"{redact(response.headers.get('Content-Type', 'unknown'))!r}): {body_excerpt(response, redact=redact)!r}"
        )
        raise ResponseShapeError(msg) from None
    except RecursionError:
        msg = (
            f"Response from {redact(response.url)} is JSON nested deeper than the decoder allows "
            f"(about {sys.getrecursionlimit()} levels of arrays and objects); no API's records are that deep, "
            "so the body is more likely damaged or hostile."
        )
        raise ResponseShapeError(msg) from None
    if repairs.non_finite or repairs.surrogates or repairs.invalid_utf8:
        _warn_repairs(repairs, redact(response.url), stream)
    setattr(response, _CACHE_ATTR, document)
    # Everything after reads the decoded document; the body would only double a large page's memory.
    response._content = b""  # noqa: SLF001 - requests' own slot for a read body
    return document


def remember_document(response: requests.Response, document: Any) -> None:
    """Cache ``document`` as the response's decoded body (:func:`read_json` returns it from now on)."""
    setattr(response, _CACHE_ATTR, document)


def _warn_repairs(repairs: fastjson.Repairs, url: str, stream: str) -> None:
    """Log what was changed to make a body strict JSON (RFC 8259 has no NaN; I-JSON no lone surrogate).

    ``NaN`` / ``Infinity`` become null rather than stopping the run: every other value of the
    page is sound, JSON (and so every Singer target) cannot carry them, and null is how APIs that
    write them mean "no value"; the warning says where, so the change is never silent.
    """
    where = f"Stream '{stream}': response" if stream else "Response"
    if repairs.non_finite:
        shown = ", ".join(repairs.non_finite[:5]) + (" ..." if len(repairs.non_finite) > 5 else "")  # noqa: PLR2004
        LOGGER.warning(
            "%s from %s holds %d NaN/Infinity number(s), which JSON cannot carry; written as null: %s",
            where,
            url,
            len(repairs.non_finite),
            shown,
        )
    if repairs.invalid_utf8:
        LOGGER.warning(
            "%s from %s holds bytes that are not UTF-8 (JSON is UTF-8, RFC 8259 section 8.1); each is "
            "written as U+FFFD.",
            where,
            url,
        )
    if repairs.surrogates:
        LOGGER.warning(
            "%s from %s holds %d string(s) with lone UTF-16 surrogates (not Unicode text); "
            "each such surrogate is written as U+FFFD.",
            where,
            url,
            repairs.surrogates,
        )


def records_at(document: Any, path: DottedPath, *, url: str) -> list[Any]:
    """Return the records at ``data_path``.

    A list is the records; a single object is one record; ``null`` is zero records.

    Args:
        document: The decoded body.
        path: The compiled ``data_path``.
        url: The request URL (already redacted), for error messages.

    Returns:
        The records, in response order.

    Raises:
        ResponseShapeError: The path is absent (never a silent zero-row run), or holds
            something other than objects; the message names the path and what it found.
    """
    if document is None:
        return []
    found = path.resolve(document)
    if found is MISSING:
        keys = sorted(document) if isinstance(document, dict) else type(document).__name__
        msg = f"data_path '{path.path}' not found in the response from {url}. Top-level keys present: {keys}."
        raise ResponseShapeError(msg)
    if found is None:
        return []
    records = found if isinstance(found, list) else [found]
    for position, record in enumerate(records):
        if not isinstance(record, dict):
            msg = (
                f"data_path '{path.path}' in the response from {url} holds a {type(record).__name__} at "
                f"position {position}, not an object: records must be JSON objects."
            )
            raise ResponseShapeError(msg)
    return records


#: Attribute caching a response's undecoded records on the response.
_RAW_CACHE_ATTR = "_tap_generic_api_raw_records"
_RAW_FIELDS = msgspec.json.Decoder(dict[str, msgspec.Raw])
_RAW_LIST = msgspec.json.Decoder(list[msgspec.Raw])
_OPEN_BRACE = ord("{")
#: A ``\uD800``-``\uDFFF`` escape: maybe a lone surrogate, which the decoding path replaces.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
#: Bytes checked at a time (a copy or a decoding of a whole large page would hold it again).
_CHECK_SLICE = 1 << 20


def raw_records_at(response: requests.Response, path: DottedPath) -> list[msgspec.Raw] | None:
    """Return the records at ``data_path`` as their JSON text, undecoded, when they can go out as is.

    Records that the tap writes unchanged need not be decoded into Python objects and encoded
    back: their text is copied into the RECORD messages. That needs a UTF-8 body whose
    ``data_path`` holds a list of objects on one line (a record with a line break inside
    would break the one-message-per-line framing), in valid UTF-8. Anything else returns None, and the
    caller decodes the body with :func:`read_json` (which also gives the precise error).

    Args:
        response: A 2xx response.
        path: The compiled ``data_path`` (plain keys; indexes and backtracking are left to
            :func:`records_at`).

    Returns:
        Each record's JSON text (``msgspec.Raw``, bytes-like), in response order, or None.
    """
    cached = getattr(response, _RAW_CACHE_ATTR, MISSING)
    if cached is not MISSING:
        return cached
    records = None
    if declared_charset(response) in ("", "utf-8", "utf8"):
        # The records' text stays a view into the body (not a copy): a large page is held once.
        text = _raw_at(response.content, path.segments)
        if text and _one_line_utf8(text) and not _SURROGATE_ESCAPE.search(text):
            try:
                listed = _RAW_LIST.decode(text)
            except (msgspec.DecodeError, RecursionError):  # read_json gives the precise error
                listed = None
            if listed is not None and all(memoryview(r)[0] == _OPEN_BRACE for r in listed):
                records = listed
    setattr(response, _RAW_CACHE_ATTR, records)
    return records


def _raw_at(text: bytes | msgspec.Raw, segments: tuple[str, ...]) -> bytes | msgspec.Raw | None:
    if not segments:
        return text
    try:
        fields = _RAW_FIELDS.decode(text)
    except (msgspec.DecodeError, RecursionError):
        return None
    for end in range(len(segments), 0, -1):
        key = ".".join(segments[:end])
        if key in fields:
            return _raw_at(fields[key], segments[end:])
    return None


def _one_line_utf8(text: bytes | msgspec.Raw) -> bool:
    """Return True when ``text`` holds no line break and is valid UTF-8, checked a slice at a time.

    msgspec does not check text it leaves raw; a line break would split a RECORD message.
    """
    view = memoryview(text)
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for start in range(0, len(view), _CHECK_SLICE):
            piece = bytes(view[start : start + _CHECK_SLICE])  # bytes' memchr search; a regex is 20 times slower
            if b"\n" in piece or b"\r" in piece:
                return False
            if not (piece.isascii() and not decoder.getstate()[0]):
                decoder.decode(piece)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True
