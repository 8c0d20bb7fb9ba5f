"""``securitySchemes`` into the tap's ``auth`` block, the secret left to config ``secrets``.

https://spec.openapis.org/oas/v3.0.3#security-scheme-object: ``http`` (bearer, basic),
``apiKey`` (header, query; a cookie the tap cannot send), ``oauth2`` (client credentials flow).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin


def secret_key(scheme_name: str) -> str:
    """Return the ``secrets`` key for a scheme: its name in lower case, ``_`` for other characters."""
    return re.sub(r"[^a-z0-9_]+", "_", scheme_name.lower()).strip("_") or "api"


def auth_block(
    spec: dict[str, Any], security: list[dict[str, Any]] | None, base: str = ""
) -> tuple[dict[str, Any] | None, list[str]]:
    """Return ``(auth block or None, todos)`` for an operation's security requirements.

    Args:
        spec: The resolved description (``components.securitySchemes``).
        security: The operation's ``security`` (else the description's).
        base: The server URL, against which a relative OAuth2 ``tokenUrl`` is resolved
            (https://spec.openapis.org/oas/v3.1.0#relative-references-in-urls).
    """
    schemes = (spec.get("components") or {}).get("securitySchemes") or spec.get("securityDefinitions") or {}
    if not security:
        return None, []
    todos: list[str] = []
    for requirement in security:
        for name in requirement or {}:
            scheme = schemes.get(name) or {}
            block = _block(name, scheme)
            if block is not None and block.get("token_url") and "://" not in block["token_url"]:
                block["token_url"] = urljoin(base.rstrip("/") + "/", block["token_url"])  # RFC 3986 section 5
            if block is not None:
                return block, todos
            todos.append(f"security scheme '{name}' ({scheme.get('type')}) is not one the tap sends")
    return None, todos or ["the operation's security requirement names no scheme the tap sends"]


def _block(name: str, scheme: dict[str, Any]) -> dict[str, Any] | None:
    kind = scheme.get("type")
    key = secret_key(name)
    if kind == "http" and str(scheme.get("scheme", "")).lower() == "bearer":
        return {"type": "bearer", "secret_key": key}
    if (kind == "http" and str(scheme.get("scheme", "")).lower() == "basic") or kind == "basic":
        return {"type": "basic", "secret_key": key}
    if kind == "apiKey" and scheme.get("in") == "header":
        return {"type": "header", "header_name": scheme["name"], "secret_key": key}
    if kind == "apiKey" and scheme.get("in") == "query":
        return {"type": "query", "param_name": scheme["name"], "secret_key": key}
    if kind == "oauth2":
        flow = (scheme.get("flows") or {}).get("clientCredentials") or {}
        # OpenAPI 2 names the client credentials flow 'application'.
        token_url = flow.get("tokenUrl") or (scheme.get("tokenUrl") if scheme.get("flow") == "application" else None)
        if token_url:
            return {"type": "oauth2", "token_url": token_url, "grant_type": "client_credentials", "secret_key": key}
    return None
