"""Required query parameters and operation-level servers: what an operation needs beyond pagination.

A required query parameter left out makes every request fail (400, or a validating mock's
error), and a ``servers`` entry on the path or operation
(https://spec.openapis.org/oas/v3.0.3#path-item-object) moves it to another host: neither is
left out silently.
"""

from __future__ import annotations

from typing import Any

_NO_VALUE = object()


def required_params(query: dict[str, dict[str, Any]], taken: set[str]) -> tuple[dict[str, str], list[str], list[str]]:
    """Return ``(params, why lines, todos)`` for the required query parameters not in ``taken``.

    Each gets its ``example``, else its schema's ``default``, else its first ``enum`` value (with a
    TODO to check it), else "" with a TODO.

    Args:
        query: Query parameters by name, each a resolved Parameter Object.
        taken: Names the pagination or the replication key already send.
    """
    params: dict[str, str] = {}
    why: list[str] = []
    todos: list[str] = []
    for name, parameter in query.items():
        if not parameter.get("required") or name in taken:
            continue
        schema = parameter.get("schema") or parameter  # OpenAPI 2: the type is on the parameter
        value = parameter.get("example", schema.get("example", schema.get("default", _NO_VALUE)))
        if value is _NO_VALUE and schema.get("enum"):
            value = schema["enum"][0]
            todos.append(f"required parameter '{name}' set to its first allowed value {value!r}: check it")
        if value is _NO_VALUE:
            params[name] = ""
            todos.append(f"required parameter '{name}' has no example or default: set params.{name}")
            continue
        params[name] = str(value).lower() if isinstance(value, bool) else str(value)
        why.append(f"params.{name}: required; its example or default {value!r}")
    return params, why, todos


def operation_servers(path_item: dict[str, Any], operation: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the ``servers`` of the operation, else of its path item, else [] (the description's apply)."""
    return operation.get("servers") or path_item.get("servers") or []
