"""Which format a response body is read as: ``response_format``, else the ``Content-Type``.

Precedence: a configured ``response_format`` always wins (servers label exports
``application/octet-stream`` or ``text/plain`` often enough); without one, the media type of
``Content-Type`` decides (RFC 4180 registers ``text/csv``; JSON Lines has no registered type, so
the names in use are listed); anything else is JSON, as before. A zip's single file may name
its format by its extension (:func:`format_of_name`).
"""

from __future__ import annotations

import requests

JSON, JSONL, CSV = "json", "jsonl", "csv"
#: Media types (lower case, parameters removed) and the format they mean.
MEDIA_TYPES = {
    "text/csv": CSV,
    "application/csv": CSV,
    "application/x-ndjson": JSONL,
    "application/ndjson": JSONL,
    "application/jsonl": JSONL,
    "application/x-jsonl": JSONL,
    "application/jsonlines": JSONL,
    "application/x-jsonlines": JSONL,
    "application/json-lines": JSONL,
}
#: Media types of archives whose one file's name tells its format.
ZIP_TYPES = frozenset({"application/zip", "application/x-zip-compressed"})
_EXTENSIONS = {".csv": CSV, ".jsonl": JSONL, ".ndjson": JSONL, ".json": JSON}


def media_type(response: requests.Response) -> str:
    """Return the media type of ``Content-Type`` in lower case, without parameters (``""`` when absent)."""
    return response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()


def format_of(configured: str | None, response: requests.Response) -> str:
    """Return the format ``response`` is read as: ``configured``, else from ``Content-Type``, else json."""
    return configured or MEDIA_TYPES.get(media_type(response), JSON)


def read_as_stream(configured: str | None, response: requests.Response) -> bool:
    """Return True when the body is read as it arrives rather than whole.

    JSON Lines and CSV are (records can be taken a line at a time), and a zip without a
    configured format (its file's name decides; it is spooled to disk, never held in memory).
    A JSON document is read whole: ``data_path`` and the paginators need all of it.
    """
    if configured:
        return configured != JSON
    kind = media_type(response)
    return kind in MEDIA_TYPES or kind in ZIP_TYPES


def format_of_name(name: str, fallback: str) -> str:
    """Return the format a file's extension names (``.csv``, ``.jsonl``, ``.ndjson``, ``.json``), else ``fallback``.

    ``.gz`` is looked through (``export.csv.gz``): its content is decompressed anyway.
    """
    lowered = name.lower().removesuffix(".gz")
    for extension, fmt in _EXTENSIONS.items():
        if lowered.endswith(extension):
            return fmt
    return fallback
