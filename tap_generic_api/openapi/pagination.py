"""Pagination from an operation's query parameters and its response's properties and headers.

In order: a ``Link`` response header (RFC 8288); a cursor parameter (``cursor``, ``after``,
``page_token``, ...) with a response property holding the next cursor; ``starting_after`` (or
``after``) with ``has_more`` and an ``id`` on the records (the last record's id); a next-URL
property; ``offset`` / ``skip``; ``page``. The page size parameter (``limit``, ``per_page``,
``page_size``) is set to its schema's ``maximum`` when declared, else its ``default``.
"""

from __future__ import annotations

from typing import Any

CURSOR_PARAMS = ("cursor", "page_token", "pageToken", "next_token", "continuation", "after", "next")
LAST_ID_PARAMS = ("starting_after", "after", "since_id", "after_id")
OFFSET_PARAMS = ("offset", "skip", "start")
PAGE_PARAMS = ("page", "page_number", "pageNumber")
LIMIT_PARAMS = ("limit", "per_page", "perPage", "page_size", "pageSize", "size", "count")
NEXT_CURSOR_NAMES = (
    "next_cursor",
    "nextCursor",
    "next_page_token",
    "nextPageToken",
    "next_token",
    "cursor",
    "after",
    "endCursor",
    "end_cursor",
    "next",
)
NEXT_URL_NAMES = ("next", "next_url", "nextUrl", "next_link", "nextLink", "@odata.nextLink", "next_page_url")
MORE_NAMES = ("has_more", "hasMore", "has_next", "hasNext", "has_next_page")


def properties_paths(schema: dict[str, Any], prefix: str = "", depth: int = 0) -> dict[str, dict[str, Any]]:
    """Return ``{dotted path: schema}`` of every property of an object schema (arrays not entered)."""
    out: dict[str, dict[str, Any]] = {}
    if depth > 3:  # noqa: PLR2004 - deep enough for paging.next.after
        return out
    for name, sub in (schema.get("properties") or {}).items():
        path = f"{prefix}{name}"
        out[path] = sub
        if isinstance(sub, dict) and sub.get("properties"):
            out.update(properties_paths(sub, f"{path}.", depth + 1))
    return out


def _find(paths: dict[str, dict[str, Any]], names: tuple[str, ...], kind: str | None = None) -> str:
    for name in names:
        for path, sub in paths.items():
            types = sub.get("type")
            if path.rsplit(".", 1)[-1] == name and (kind is None or types == kind or kind in (types or [])):
                return path
    return ""


def detect(
    params: dict[str, dict[str, Any]],
    body: dict[str, Any],
    headers: list[str],
    data_path: str,
    item: dict[str, Any],
) -> tuple[dict[str, Any], str, list[str]]:
    """Return ``(pagination block, why, todos)`` for one operation.

    Args:
        params: Query parameters by name, each its resolved Parameter Object.
        body: The response body's JSON schema.
        headers: The response's declared header names.
        data_path: Where the records are.
        item: The records' schema.
    """
    paths = properties_paths(body)
    limit = _limit(params)
    if any(h.lower() == "link" for h in headers):
        return {"type": "link", "response_path": "", **limit}, "response header Link", []
    cursor_param = next((p for p in CURSOR_PARAMS if p in params), "")
    next_cursor = _find(paths, NEXT_CURSOR_NAMES, "string")
    if cursor_param and next_cursor:
        block = {"type": "cursor", "param": cursor_param, "response_path": next_cursor, **limit}
        return block, f"parameter '{cursor_param}' and response property '{next_cursor}'", []
    last_id_param = next((p for p in LAST_ID_PARAMS if p in params), "")
    more = _find(paths, MORE_NAMES, "boolean")
    if last_id_param and more and "id" in (item.get("properties") or {}):
        path = f"{data_path}.-1.id" if data_path else "-1.id"
        block = {"type": "cursor", "param": last_id_param, "response_path": path, **limit}
        return block, f"parameter '{last_id_param}', response property '{more}' and the records' 'id'", []
    next_url = next(
        (p for p in paths if p.rsplit(".", 1)[-1] in NEXT_URL_NAMES and paths[p].get("format") in ("uri", "url")), ""
    )
    if next_url:
        return {"type": "link", "response_path": next_url, **limit}, f"response property '{next_url}' (a URI)", []
    offset = next((p for p in OFFSET_PARAMS if p in params), "")
    if offset:
        return {"type": "offset", "param": offset, **limit}, f"parameter '{offset}'", _limit_todo(limit, "offset")
    page = next((p for p in PAGE_PARAMS if p in params), "")
    if page:
        return {"type": "page", "param": page, **limit}, f"parameter '{page}'", _limit_todo(limit, "page")
    if cursor_param or last_id_param:
        todo = (
            f"parameter '{cursor_param or last_id_param}' takes a cursor, but no response property holds the "
            "next one: set pagination.type cursor and response_path by hand"
        )
        return {"type": "none"}, "no complete pagination pattern", [todo]
    todo = "no pagination parameter or response property: pagination none (one request); check the API's docs"
    return {"type": "none"}, "no pagination parameter or Link header", [todo]


def _limit(params: dict[str, dict[str, Any]]) -> dict[str, Any]:
    name = next((p for p in LIMIT_PARAMS if p in params), "")
    if not name:
        return {}
    schema = params[name].get("schema") or params[name]  # OpenAPI 2: the type is on the parameter
    value = schema.get("maximum") or schema.get("default")
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        return {"limit_param": name}
    return {"limit": value, "limit_param": name}


def _limit_todo(limit: dict[str, Any], kind: str) -> list[str]:
    if "limit" in limit:
        return []
    return [
        f"{kind} pagination without a page size (no 'maximum' or 'default' on the size parameter): "
        "the stream ends at the first empty page; set pagination.limit to end at a short page"
    ]
