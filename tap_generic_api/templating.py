"""``{variable}`` templating in URLs, query parameters and headers.

Only ``{name}`` with a plain identifier inside is a placeholder, so JSON-looking text and
Stripe-style parameter names (``created[gte]``) pass through untouched. ``{{`` and ``}}``
stand for literal braces.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from plugin_kit.errors import ConfigError

_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


def builtin_variables(org_slug: str | None, now: datetime | None = None) -> dict[str, str]:
    """Return the built-in variables, fixed once per run.

    Args:
        org_slug: The organisation slug from config, or None.
        now: The run's start time (UTC); defaults to the current time.

    Returns:
        ``{"now": ISO-8601 UTC timestamp, "date": YYYY-MM-DD, "org_slug": slug}``
        (``org_slug`` only when configured).
    """
    now = now or datetime.now(UTC)
    values = {
        "now": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "date": now.strftime("%Y-%m-%d"),
    }
    if org_slug:
        values["org_slug"] = org_slug
    return values


def placeholders(template: str) -> list[str]:
    """Return the variable names used in ``template``, in order of appearance."""
    return [m.group(1) for m in _PLACEHOLDER.finditer(template) if m.group(1)]


def render(template: str, variables: Mapping[str, Any], *, where: str) -> str:
    """Replace every ``{name}`` in ``template`` with ``variables[name]``.

    Args:
        template: Text with placeholders.
        variables: Values by name; non-strings are converted with ``str()``.
        where: The config key holding the template, for error messages
            (for example ``streams[0].params.status``).

    Returns:
        The rendered text.

    Raises:
        ConfigError: A placeholder names a variable that is not defined.
    """

    def substitute(match: re.Match[str]) -> str:
        matched = match.group(0)
        if matched == "{{":
            return "{"
        if matched == "}}":
            return "}"
        name = match.group(1)
        if name not in variables:
            known = ", ".join(sorted(variables)) or "none"
            msg = (
                f"Unknown variable '{{{name}}}' in '{where}'. Define it under "
                f"config 'variables' or use a built-in. Known variables: {known}."
            )
            raise ConfigError(msg)
        return str(variables[name])

    return _PLACEHOLDER.sub(substitute, template)


def render_mapping(mapping: Mapping[str, Any], variables: Mapping[str, Any], *, where: str) -> dict[str, str]:
    """Render every value of a params or headers mapping (keys are left as they are).

    Args:
        mapping: Parameter or header names to templates.
        variables: Values by name.
        where: The config key of the mapping, for error messages.

    Returns:
        A new dict of rendered string values; ``None`` values are dropped.

    Raises:
        ConfigError: A placeholder names an unknown variable.
    """
    return {
        key: render(str(value), variables, where=f"{where}.{key}")
        for key, value in mapping.items()
        if value is not None
    }


#: Variables that depend on the stream's bookmark; known only when the stream starts.
INCREMENTAL_VARIABLES = ("start_date", "start_date_unix", "end_date", "end_date_unix", "bookmark")


def is_number(value: Any) -> bool:
    """Return True for a number, or a number written as text (Meltano and environment variables pass text)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int | float) or (isinstance(value, str) and bool(_NUMBER.fullmatch(value.strip())))


def to_datetime(value: Any) -> datetime:
    """Return ``value`` as a UTC datetime.

    Args:
        value: An ISO-8601 date or timestamp (no zone means UTC; ``Z`` allowed), or epoch
            seconds as a number or as digits.

    Raises:
        ValueError: ``value`` is none of these.
    """
    if is_number(value):
        return datetime.fromtimestamp(float(value), UTC)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _to_unix(value: Any) -> int:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    return int(to_datetime(value).timestamp())


def incremental_variables(bookmark: Any, start_date: str | None, now: datetime) -> dict[str, Any]:
    """Return the incremental variables for one stream run.

    Args:
        bookmark: The replication key value from STATE, or None on a first run.
        start_date: The stream's ``start_date`` (ISO-8601), or None.
        now: The run's start time (UTC).

    Returns:
        ``start_date`` / ``bookmark`` (the bookmark, else ``start_date``), their ``_unix``
        forms in epoch seconds, and ``end_date`` / ``end_date_unix`` (the run's start time).
        ``start_date`` and ``bookmark`` are absent when neither is known; ``start_date_unix``
        also when the start is not a date, a timestamp or a number.
    """
    values: dict[str, Any] = {
        "end_date": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end_date_unix": int(now.timestamp()),
    }
    start = bookmark if bookmark is not None else start_date
    if start is not None:
        values["start_date"] = start
        values["bookmark"] = start
        try:
            values["start_date_unix"] = _to_unix(start)
        except ValueError:
            pass  # a bookmark that is not a date (an id, a sequence): no _unix form
    return values


def render_value(value: Any, variables: Mapping[str, Any], *, where: str) -> Any:
    """Render every string inside a JSON value (a POST ``body``); other values pass through.

    A string that is exactly one placeholder (``"{start_date_unix}"``) takes the variable's
    value with its type, so numbers stay numbers in a JSON body.
    """
    if isinstance(value, str):
        names = placeholders(value)
        if len(names) == 1 and value == f"{{{names[0]}}}" and names[0] in variables:
            return variables[names[0]]
        return render(value, variables, where=where)
    if isinstance(value, Mapping):
        return {k: render_value(v, variables, where=f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, variables, where=f"{where}[{i}]") for i, v in enumerate(value)]
    return value
