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

from tap_generic_api.errors import ConfigError

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
