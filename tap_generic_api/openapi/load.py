"""Reading an OpenAPI description (JSON or YAML, a file or a URL) with every ``$ref`` resolved.

prance (https://github.com/RonnyPfannschmidt/prance) parses, validates with
openapi-spec-validator and resolves references, local and remote; no parser of our own.
"""

from __future__ import annotations

from typing import Any

import prance
from prance.util.url import ResolutionError

from plugin_kit.errors import ConfigError
from plugin_kit.redact import redact_url

#: Key of the schema left where a ``$ref`` recurses; its value is the reference (``#/components/schemas/Node``).
CUT_MARK = "x-recursive-ref"


def _cut(_limit: int, parsed_url: Any, _recursions: Any = None) -> dict[str, Any]:
    """Return what prance puts where a reference recurses: any value, marked with the reference."""
    return {CUT_MARK: "#" + (getattr(parsed_url, "fragment", "") or "")}


def recursive_cuts(schema: Any, path: str = "") -> list[tuple[str, str]]:
    """Return ``(field path, reference)`` of every place :func:`load_spec` cut a recursive schema.

    The path names fields, ``[]`` for an array's items: ``data[].children[]``.
    """
    if isinstance(schema, list):
        return [cut for item in schema for cut in recursive_cuts(item, path)]
    if not isinstance(schema, dict):
        return []
    if CUT_MARK in schema:
        return [(path, schema[CUT_MARK])]
    cuts = []
    for key, value in schema.items():
        if key == "items":  # a JSON Schema keyword, not a field: ``children[]``
            here = f"{path}[]"
        elif isinstance(value, dict) and key == "properties" or key in ("allOf", "oneOf", "anyOf"):
            here = path
        else:
            here = f"{path}.{key}" if path else key
        cuts += recursive_cuts(value, here)
    return cuts


def load_spec(source: str) -> dict[str, Any]:
    """Return the description at ``source`` (path or http(s) URL) with ``$ref`` resolved.

    A recursive schema is cut where it recurses: an empty schema (any value) holding
    :data:`CUT_MARK` with the reference it would have repeated, for the report.

    Raises:
        ConfigError: The description cannot be read, is not valid OpenAPI 3 or 2, or a reference does not resolve.
    """
    try:
        parser = prance.ResolvingParser(
            source,
            backend="openapi-spec-validator",
            strict=False,
            recursion_limit_handler=_cut,
        )
    except (prance.ValidationError, ResolutionError, OSError, ValueError) as exc:
        # A description URL may carry a key (``?api_key=``): masked here and in prance's message.
        shown = redact_url(source)
        msg = f"OpenAPI description {shown}: {str(exc).splitlines()[0].replace(source, shown)[:300]}"
        raise ConfigError(msg) from None
    spec = parser.specification
    if not isinstance(spec, dict) or "paths" not in spec:
        msg = f"OpenAPI description {redact_url(source)} has no 'paths'."
        raise ConfigError(msg)
    return spec
