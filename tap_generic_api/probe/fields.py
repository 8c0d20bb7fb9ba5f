"""Key fields, replication key candidates and rate-limit headers, from the records and headers seen."""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from typing import Any

from requests.structures import CaseInsensitiveDict

from tap_generic_api.probe.client import DEFAULT_RATE
from tap_generic_api.probe.report import Finding

#: Names that usually identify a record, by preference.
KEY_NAMES = ("id", "uuid", "key", "_id", "ID", "Id", "guid", "rowid")
#: Names of fields that record a change, by preference (replication key candidates).
CHANGE_NAME = re.compile(
    r"updated|modified|changed|last_?edit|sync|timestamp|created|date|_at$|time|seq|version", re.IGNORECASE
)


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def choose_key(records: list[dict[str, Any]]) -> tuple[str, Finding]:
    """Return the key field (``id``, else a field unique on every record seen) and its finding ("" when none)."""
    if not records:
        return "", Finding("destination.key_fields", None, "no records seen", "none", "set key_fields by hand", True)
    unique = [
        name
        for name in records[0]
        if all(_scalar(r.get(name)) for r in records) and len({json.dumps(r[name]) for r in records}) == len(records)
    ]
    for name in KEY_NAMES:
        if name in unique:
            source = f"field '{name}', present and unique on all {len(records)} records seen"
            return name, Finding("destination.key_fields", [name], source, "high" if len(records) > 1 else "medium")
    named_like_id = [n for n in unique if n.lower().endswith(("id", "_key", "uuid"))]
    if named_like_id or unique:
        name = (named_like_id or unique)[0]
        source = f"field '{name}', unique on all {len(records)} records seen (no 'id' field)"
        check = "make sure this field identifies a record; the target merges and de-duplicates on it"
        return name, Finding("destination.key_fields", [name], source, "low", check, warning=True)
    source = f"no field is present and unique on all {len(records)} records seen"
    return "", Finding("destination.key_fields", None, source, "none", "set key_fields by hand", True)


def _as_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) < 10:  # noqa: PLR2004 - shorter than a date
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def replication_candidates(records: list[dict[str, Any]]) -> Finding | None:
    """Return a finding listing date-time or numeric fields named like a change time, growing ones first.

    The config does not set ``replication_key``: without a request parameter filtering on
    ``{bookmark}`` it would change nothing but the STATE messages; the user picks one.
    """
    if not records:
        return None
    found: list[tuple[bool, bool, str, str]] = []
    for name in records[0]:
        values = [r.get(name) for r in records]
        if any(v is None for v in values):
            continue
        times = [_as_time(v) for v in values]
        if all(times):  # a date-time of any name
            kind = "date-time"
            ordered = all(a <= b for a, b in zip(times, times[1:], strict=False))  # type: ignore[operator]
        elif CHANGE_NAME.search(name) and all(_scalar(v) and not isinstance(v, str) for v in values):
            kind = "number"
            ordered = all(a <= b for a, b in zip(values, values[1:], strict=False))
        else:
            continue
        # Growing first, then date-times, then by name.
        found.append((not ordered, kind != "date-time", name, f"{name} ({kind}{', growing' if ordered else ''})"))
    if not found:
        return None
    found.sort()
    source = "record fields " + ", ".join(text for *_, text in found)
    check = (
        f"to extract incrementally, set replication_key: '{found[0][2]}' and a request parameter "
        "filtering on '{bookmark}' (see the API's docs for its filter parameter)"
    )
    return Finding("replication_key (candidates)", [name for _, _, name, _ in found], source, "low", check)


def _number(text: str | None) -> float | None:
    try:
        return float(str(text).split(",")[0].split(";")[0].strip())
    except (TypeError, ValueError):
        return None


def rate_limit(
    headers: CaseInsensitiveDict[str], now: float, *, default: float = DEFAULT_RATE
) -> tuple[float, Finding]:
    """Return ``rate_limit.requests_per_second`` and its finding from rate-limit headers.

    Reads ``RateLimit-Policy: 100;w=60`` (IETF draft-ietf-httpapi-ratelimit-headers), else a
    limit (``X-RateLimit-Limit`` / ``RateLimit-Limit``) with its reset (seconds to wait, or an
    epoch time when larger than a day), else only ``Retry-After``. Without a window the
    default is kept. The result is rounded down to two significant digits.

    Args:
        headers: The first answer's headers.
        now: The current epoch time in seconds (to read an epoch reset).
        default: The rate kept when the headers give none (the probe's ``--rate``).
    """
    policy = headers.get("RateLimit-Policy") or headers.get("X-RateLimit-Policy")
    limit = _number(headers.get("X-RateLimit-Limit") or headers.get("RateLimit-Limit"))
    window = None
    source = ""
    if policy:
        match = re.match(r"\s*(\d+)\s*;\s*w=(\d+)", policy)
        if match:
            limit, window = float(match.group(1)), float(match.group(2))
            source = f"header RateLimit-Policy: {policy.strip()}"
    if window is None and limit:
        reset_name = next((n for n in ("X-RateLimit-Reset", "RateLimit-Reset") if n in headers), "")
        reset = _number(headers.get(reset_name)) if reset_name else None
        if reset is not None:
            window = reset - now if reset > 86_400 else reset
            source = f"headers X-RateLimit-Limit / RateLimit-Limit ({limit:g}) and {reset_name} ({window:.0f} s away)"
    if limit and window and window > 0:
        rps = limit / window
        rounded = _round_down(rps)
        check = "" if policy else "the window is read from the reset time, the longest it can be; check the API's docs"
        return rounded, Finding("rate_limit.requests_per_second", rounded, source, "medium", check)
    if limit or "Retry-After" in headers:
        seen = "X-RateLimit-Limit without a window" if limit else "Retry-After"
        check = "find the API's limit per second in its docs; the tap retries 429 answers after Retry-After"
        return default, Finding("rate_limit.requests_per_second", default, f"header {seen}", "low", check)
    check = "no rate-limit header: the probe's own rate (--rate) is kept; raise it if the API's docs allow"
    return default, Finding("rate_limit.requests_per_second", default, "no rate-limit headers", "low", check)


def _round_down(value: float) -> float:
    if value <= 0:
        return DEFAULT_RATE
    digits = 1 - math.floor(math.log10(value))
    factor = 10**digits
    return math.floor(value * factor) / factor
