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


def load_spec(source: str) -> dict[str, Any]:
    """Return the description at ``source`` (path or http(s) URL) with ``$ref`` resolved.

    A recursive schema is cut where it recurses (an empty schema: any value).

    Raises:
        ConfigError: The description cannot be read, is not valid OpenAPI 3 or 2, or a reference does not resolve.
    """
    try:
        parser = prance.ResolvingParser(
            source,
            backend="openapi-spec-validator",
            strict=False,
            recursion_limit_handler=lambda *_: {},
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
