"""from-openapi: pagination from an operation's parameters, response properties and headers."""

from __future__ import annotations

import pytest

from tap_generic_api.openapi.pagination import detect

ITEM = {"type": "object", "properties": {"id": {"type": "integer"}}}


def _params(*names: str, **schemas) -> dict:
    return {name: {"name": name, "in": "query", "schema": schemas.get(name, {"type": "string"})} for name in names}


def _body(**properties) -> dict:
    return {"type": "object", "properties": {"data": {"type": "array", "items": ITEM}, **properties}}


@pytest.mark.parametrize(
    ("params", "body", "headers", "block", "todos"),
    [
        # Slack: cursor + response_metadata.next_cursor, limit with a maximum.
        (
            _params("cursor", "limit", limit={"type": "integer", "maximum": 200}),
            _body(response_metadata={"type": "object", "properties": {"next_cursor": {"type": "string"}}}),
            [],
            {
                "type": "cursor",
                "param": "cursor",
                "response_path": "response_metadata.next_cursor",
                "limit": 200,
                "limit_param": "limit",
            },
            [],
        ),
        # A next URL property (format uri).
        (
            _params("page"),
            _body(links={"type": "object", "properties": {"next": {"type": "string", "format": "uri"}}}),
            [],
            {"type": "link", "response_path": "links.next"},
            [],
        ),
        # page without a page size: the stream ends at an empty page, and says so.
        (
            _params("page"),
            _body(),
            [],
            {"type": "page", "param": "page"},
            [
                "page pagination without a page size (no 'maximum' or 'default' on the size parameter): the stream "
                "ends at the first empty page; set pagination.limit to end at a short page"
            ],
        ),
        # A cursor parameter with nothing in the response to fill it: none, with a TODO.
        (
            _params("after"),
            _body(),
            [],
            {"type": "none"},
            [
                "parameter 'after' takes a cursor, but no response property holds the next one: set "
                "pagination.type cursor and response_path by hand"
            ],
        ),
        # The Link header wins, with the page size at its default.
        (
            _params("page", "per_page", per_page={"type": "integer", "default": 30}),
            _body(),
            ["Link"],
            {"type": "link", "response_path": "", "limit": 30, "limit_param": "per_page"},
            [],
        ),
    ],
)
def test_pagination_from_the_description(params, body, headers, block, todos):
    found, _, found_todos = detect(params, body, headers, "data", ITEM)
    assert (found, found_todos) == (block, todos)
