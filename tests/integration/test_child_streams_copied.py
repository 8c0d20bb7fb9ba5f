"""include_from_parent: a field no parent holds is warned about; one some parents lack is null for their children."""

from __future__ import annotations

import logging

from helpers import sync_messages

from tap_generic_api.tap import TapGenericAPI

BASE = "https://api.example.com"


def _tap(include: list[str]) -> TapGenericAPI:
    config = {
        "rate_limit": {"requests_per_second": 1000, "max_retries": 0},
        "streams": [
            {"name": "posts", "url": f"{BASE}/posts", "destination": {"table": "posts"}},
            {
                "name": "comments",
                "parent": "posts",
                "url": f"{BASE}/posts/{{parent.id}}/comments",
                "include_from_parent": include,
                "pagination": {"type": "none"},
                "destination": {"table": "comments"},
            },
        ],
    }
    return TapGenericAPI(config=config, parse_env_config=False)


def _serve(requests_mock) -> None:
    requests_mock.get(f"{BASE}/posts", json=[{"id": 1, "title": "a", "lang": "en"}, {"id": 2, "title": "b"}])
    requests_mock.get(f"{BASE}/posts/1/comments", json=[{"id": "1-a"}])
    requests_mock.get(f"{BASE}/posts/2/comments", json=[{"id": "2-a"}])


def test_a_copied_field_no_parent_holds_is_warned_about(requests_mock, caplog):
    _serve(requests_mock)
    with caplog.at_level(logging.WARNING):
        messages = sync_messages(_tap(["titel"]))
    records = [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == "comments"]
    assert records == [{"id": "1-a", "_parent_titel": None}, {"id": "2-a", "_parent_titel": None}]
    assert (
        "Stream 'comments': include_from_parent names 'titel', but none of the 2 records of parent stream 'posts' "
        "has it, so every _parent_titel is null. Check the name; the first parent record's fields: id, lang, title."
    ) in caplog.text


def test_a_copied_field_some_parents_lack_is_null_for_their_children_without_a_warning(requests_mock, caplog):
    _serve(requests_mock)
    with caplog.at_level(logging.WARNING):
        messages = sync_messages(_tap(["lang"]))
    records = [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == "comments"]
    assert records == [{"id": "1-a", "_parent_lang": "en"}, {"id": "2-a", "_parent_lang": None}]
    assert "include_from_parent names" not in caplog.text
