"""Reading a response body: JSON once per response, records at ``data_path``."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import requests

from tap_generic_api import fastjson
from tap_generic_api.errors import ResponseShapeError
from tap_generic_api.paths import MISSING, DottedPath
from tap_generic_api.redact import redact_url

#: Characters of a body quoted in an error message.
BODY_EXCERPT_CHARS = 300

_CACHE_ATTR = "_tap_generic_api_json"


_TAG = re.compile(r"<[^>]*>")
_SCRIPT = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)


def body_excerpt(
    response: requests.Response, limit: int = BODY_EXCERPT_CHARS, redact: Callable[[str], str] = str
) -> str:
    """Return the first ``limit`` characters of the body on one line (HTML tags removed).

    ``redact`` runs before the cut, so a secret straddling the limit is not half shown.
    """
    text = response.text[: limit * 20]
    if "html" in response.headers.get("Content-Type", "").lower() or text.lstrip().startswith("<"):
        text = _TAG.sub(" ", _SCRIPT.sub(" ", text))
    text = redact(" ".join(text.split()))
    return text[:limit] + ("..." if len(text) > limit else "")


def read_json(response: requests.Response, redact: Callable[[str], str] = redact_url) -> Any:
    """Decode the body once and cache it on the response (paginator and parser share it).

    Floats are decoded as :class:`decimal.Decimal` so amounts keep every digit; ``NaN`` and
    ``Infinity`` are accepted. An empty body (204 No Content) is ``None``: no records. A
    body in a declared non-UTF-8 charset is decoded with it.

    Args:
        response: A 2xx response.
        redact: Masks secrets in a URL or text, for the error message.

    Returns:
        The decoded document.

    Raises:
        ResponseShapeError: The body is not JSON (an HTML error page sent with status 200);
            the message gives the URL (secrets redacted), content type and an excerpt.
    """
    cached = getattr(response, _CACHE_ATTR, MISSING)
    if cached is not MISSING:
        return cached
    declared = (response.encoding or "").lower().replace("_", "-")
    body: str | bytes = response.text if declared and declared not in ("utf-8", "utf8") else response.content
    if not body or not (body.strip() if isinstance(body, str) else body.strip()):
        setattr(response, _CACHE_ATTR, None)
        return None
    try:
        document = fastjson.loads(body)
    except ValueError:
        msg = (
            f"Response from {redact(response.url)} is not JSON "
            f"(status {response.status_code}, content type "
            f"{response.headers.get('Content-Type', 'unknown')!r}): {body_excerpt(response, redact=redact)!r}"
        )
        raise ResponseShapeError(msg) from None
    setattr(response, _CACHE_ATTR, document)
    return document


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
