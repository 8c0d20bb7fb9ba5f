"""Child streams on requests-mock: a fresh paginator per parent, ignored statuses, errors naming the parent."""

from __future__ import annotations

import io
import json
import logging
import re
from contextlib import redirect_stdout

import pytest
from helpers import ROOT, sync_error, sync_messages

from plugin_kit.errors import ConfigError
from tap_generic_api.errors import ChildStreamError, ResponseShapeError
from tap_generic_api.tap import TapGenericAPI

BASE = "https://api.example.com"


def _tap(child: dict | None = None, parent: dict | None = None, state: dict | None = None) -> TapGenericAPI:
    config = {
        "rate_limit": {"requests_per_second": 1000, "max_retries": 0},
        "streams": [
            {"name": "posts", "url": f"{BASE}/posts", "destination": {"table": "posts", "key_fields": ["id"]}}
            | (parent or {}),
            {
                "name": "comments",
                "parent": "posts",
                "url": f"{BASE}/posts/{{parent.id}}/comments",
                "data_path": "items",
                "include_from_parent": ["id"],
                "pagination": {"type": "cursor", "param": "cursor", "response_path": "next"},
                "destination": {"table": "comments", "key_fields": ["id"]},
            }
            | (child or {}),
        ],
    }
    return TapGenericAPI(config=config, parse_env_config=False, state=state)


def _records(messages: list[dict], stream: str) -> list[dict]:
    return [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == stream]


def _two_pages_each(requests_mock, parents=(1, 2, 3)) -> None:
    requests_mock.get(f"{BASE}/posts", json=[{"id": p} for p in parents])
    for p in parents:
        # Every parent's first page hands back the same cursor: a paginator shared between
        # parents would see 'c2' again and stop (or skip the page) for the second parent.
        requests_mock.get(f"{BASE}/posts/{p}/comments", json={"items": [{"id": f"{p}a"}], "next": "c2"})
        requests_mock.get(f"{BASE}/posts/{p}/comments?cursor=c2", json={"items": [{"id": f"{p}b"}], "next": None})


def test_each_parent_gets_a_fresh_paginator_starting_at_the_first_page(requests_mock):
    _two_pages_each(requests_mock)
    messages = sync_messages(_tap())
    assert [m["stream"] for m in messages if m["type"] == "RECORD"] == ["posts", "comments", "comments"] * 3
    assert _records(messages, "comments") == [
        {"id": f"{p}{page}", "_parent_id": p} for p in (1, 2, 3) for page in ("a", "b")
    ]
    urls = [r.url for r in requests_mock.request_history]
    assert urls[0] == f"{BASE}/posts"
    assert len(urls) == 7
    for p in (1, 2, 3):  # parents are fetched concurrently: each one's own sequence is in order
        assert [u for u in urls if f"/posts/{p}/" in u] == [
            f"{BASE}/posts/{p}/comments",
            f"{BASE}/posts/{p}/comments?cursor=c2",
        ]


def test_a_parent_answering_404_is_skipped_counted_and_logged_when_listed(requests_mock, caplog):
    _two_pages_each(requests_mock)
    requests_mock.get(f"{BASE}/posts/2/comments", status_code=404, json={"error": "gone"})
    caplog.set_level(logging.INFO)
    messages = sync_messages(_tap({"ignore_statuses": [404]}))
    assert [r["id"] for r in _records(messages, "comments")] == ["1a", "1b", "3a", "3b"]
    assert [r["id"] for r in _records(messages, "posts")] == [1, 2, 3]
    assert "skipped parent stream 'posts' record 2 (parent.id=2): HTTP 404" in caplog.text
    assert "1 parents skipped (1 x HTTP 404)" in caplog.text


def test_a_404_not_listed_fails_naming_the_parent(requests_mock):
    _two_pages_each(requests_mock)
    requests_mock.get(f"{BASE}/posts/2/comments", status_code=404, json={"error": "gone"})
    error = sync_error(_tap(), ChildStreamError)
    assert "404" in error
    assert "child stream 'comments', for parent stream 'posts' record 2 (parent.id=2)" in error


def test_parent_only_emits_no_schema_or_record_of_the_parent(requests_mock):
    _two_pages_each(requests_mock)
    messages = sync_messages(_tap(parent={"parent_only": True}))
    assert {m["stream"] for m in messages if m["type"] in ("SCHEMA", "RECORD")} == {"comments"}
    assert len(_records(messages, "comments")) == 6


def test_placeholders_fill_path_query_header_and_typed_body(requests_mock):
    requests_mock.get(f"{BASE}/posts", json=[{"id": 7, "slug": "a b/c", "owner": {"login": "{now}"}}])
    requests_mock.post(f"{BASE}/search/a%20b/c", json={"items": [{"id": "x"}]})
    child = {
        "url": f"{BASE}/search/{{parent.slug}}",
        "method": "POST",
        "params": {"q": "{parent.slug}"},
        "headers": {"X-Owner": "{parent.owner.login}"},
        "body": {"post": "{parent.id}", "text": "id {parent.id}"},
        "pagination": {"type": "none"},
    }
    messages = sync_messages(_tap(child))
    assert _records(messages, "comments") == [{"id": "x", "_parent_id": 7}]
    request = requests_mock.request_history[1]
    assert request.url == f"{BASE}/search/a%20b/c?q=a+b%2Fc"
    assert request.headers["X-Owner"] == "{now}"
    assert request.json() == {"post": 7, "text": "id 7"}


def test_a_child_record_holding_the_copied_field_is_refused(requests_mock):
    requests_mock.get(f"{BASE}/posts", json=[{"id": 1}])
    requests_mock.get(f"{BASE}/posts/1/comments", json={"items": [{"id": "a", "_parent_id": 99}], "next": None})
    error = sync_error(_tap(), ChildStreamError)
    assert "already has the field '_parent_id'" in error
    assert "parent stream 'posts' record 1 (parent.id=1)" in error


def test_a_field_the_first_parent_lacks_is_a_config_error_naming_the_key(requests_mock):
    requests_mock.get(f"{BASE}/posts", json=[{"uuid": "u1", "title": "t"}])
    error = sync_error(_tap(parent={"destination": {"table": "posts", "key_fields": ["uuid"]}}), ConfigError)
    assert error == (
        "streams[1].url uses {parent.id}, but the first record of parent stream 'posts' has no field 'id' "
        "(its fields: title, uuid). Name a field the parent's records hold."
    )
    assert [r.url for r in requests_mock.request_history] == [f"{BASE}/posts"]


def test_a_later_parent_without_the_field_stops_naming_the_record(requests_mock):
    requests_mock.get(f"{BASE}/posts", json=[{"id": 1}, {"id": None}])
    requests_mock.get(f"{BASE}/posts/1/comments", json={"items": []})
    error = sync_error(_tap(), ResponseShapeError)
    assert "record 2 of parent stream 'posts' holds null at 'id'" in error


def _config_error(**child) -> str:
    with pytest.raises(ConfigError) as info:
        _tap(child).streams  # noqa: B018 - building the streams checks the config
    return str(info.value)


def test_unknown_parent_suggests_the_closest_name():
    assert _config_error(parent="post") == (
        "streams[1].parent: no stream is named 'post' (did you mean 'posts'?). Stream names: comments, posts."
    )


def test_a_cycle_is_refused_naming_it():
    config = {
        "streams": [
            {"name": "a", "parent": "b", "url": f"{BASE}/a/{{parent.id}}", "destination": {"table": "a"}},
            {"name": "b", "parent": "a", "url": f"{BASE}/b/{{parent.id}}", "destination": {"table": "b"}},
        ]
    }
    with pytest.raises(ConfigError) as info:
        TapGenericAPI(config=config, parse_env_config=False).streams  # noqa: B018
    assert str(info.value) == (
        "streams[0].parent: the streams' parents form a cycle (a -> b -> a); no stream can be its own parent."
    )


def test_a_child_without_parent_placeholder_is_refused():
    assert "use no {parent.<field>} placeholder" in _config_error(url=f"{BASE}/comments")


def test_a_parent_value_may_not_choose_the_host():
    assert "must start with a fixed scheme and host" in _config_error(url="https://{parent.host}/x")


def test_ignore_statuses_without_parent_is_refused():
    config = {"url": f"{BASE}/x", "destination": {"table": "x"}, "ignore_statuses": [404]}
    with pytest.raises(ConfigError) as info:
        TapGenericAPI(config=config, parse_env_config=False).streams  # noqa: B018
    assert str(info.value) == (
        "config.ignore_statuses has no effect here: it applies to child streams; set config.parent."
    )


def test_no_state_passes_a_parent_whose_children_failed(requests_mock, monkeypatch):
    monkeypatch.setattr(TapGenericAPI, "discover_streams", _state_every_record(TapGenericAPI.discover_streams))
    requests_mock.get(f"{BASE}/posts", json=[{"id": p, "updated_at": p * 10} for p in (1, 2, 3)])
    requests_mock.get(f"{BASE}/posts/1/comments", json={"items": [{"id": "1a"}]})
    requests_mock.get(f"{BASE}/posts/2/comments", json={"items": [{"id": "2a"}]})
    requests_mock.get(f"{BASE}/posts/3/comments", status_code=400, json={"error": "bad"})
    parent = {"replication_key": "updated_at", "is_sorted": True, "start_date": 0}
    child = {"pagination": {"type": "none"}, "parent": "posts"}
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(ChildStreamError):
        _tap(child, parent).sync_all()
    states = [json.loads(line)["value"] for line in out.getvalue().splitlines() if '"type":"STATE"' in line]
    # Post 3 was written, but its children failed: no STATE moves the bookmark to it.
    assert [s["bookmarks"]["posts"].get("replication_key_value") for s in states] == [10, 20]


def _state_every_record(discover):
    def discover_streams(self):
        streams = discover(self)
        for stream in streams:
            stream.STATE_MSG_FREQUENCY = 1
        return streams

    return discover_streams


def test_a_parent_deselected_in_the_catalog_is_read_for_its_selected_children(requests_mock):
    _two_pages_each(requests_mock)
    catalog = _tap().catalog_dict
    for entry in catalog["streams"]:
        if entry["tap_stream_id"] == "posts":
            for metadata in entry["metadata"]:
                if metadata["breadcrumb"] == []:
                    metadata["metadata"]["selected"] = False
    config = _tap().config
    messages = sync_messages(TapGenericAPI(config=dict(config), catalog=catalog, parse_env_config=False))
    assert {m["stream"] for m in messages if m["type"] in ("SCHEMA", "RECORD")} == {"comments"}
    assert len(_records(messages, "comments")) == 6


def test_a_copied_parent_field_may_be_a_key_field(requests_mock):
    requests_mock.get(f"{BASE}/posts", json=[{"id": 1}, {"id": 2}])
    for p in (1, 2):  # child ids repeat across parents
        requests_mock.get(f"{BASE}/posts/{p}/comments", json={"items": [{"n": 1}], "next": None})
    messages = sync_messages(_tap({"destination": {"table": "comments", "key_fields": ["_parent_id", "n"]}}))
    schema = next(m for m in messages if m["type"] == "SCHEMA" and m["stream"] == "comments")
    assert schema["key_properties"] == ["_parent_id", "n"]
    assert _records(messages, "comments") == [{"n": 1, "_parent_id": 1}, {"n": 1, "_parent_id": 2}]


def test_an_unsorted_incremental_child_finalizes_each_parents_bookmark(requests_mock):
    requests_mock.get(f"{BASE}/posts", json=[{"id": 1}, {"id": 2}])
    requests_mock.get(f"{BASE}/posts/1/comments", json={"items": [{"id": "a", "u": 5}, {"id": "b", "u": 3}]})
    requests_mock.get(f"{BASE}/posts/2/comments", json={"items": [{"id": "c", "u": 7}]})
    child = {"pagination": {"type": "none"}, "replication_key": "u", "start_date": 0, "params": {"since": "{bookmark}"}}
    messages = sync_messages(_tap(child))
    state = [m["value"] for m in messages if m["type"] == "STATE"][-1]
    assert [(p["context"], p["replication_key_value"]) for p in state["bookmarks"]["comments"]["partitions"]] == [
        ({"parent.id": 1}, 5),
        ({"parent.id": 2}, 7),
    ]
    assert all("progress_markers" not in p for p in state["bookmarks"]["comments"]["partitions"])


def test_a_dry_run_reads_as_many_parents_and_children_each_as_its_limit(requests_mock):
    _two_pages_each(requests_mock)
    tap = _tap()
    out = io.StringIO()
    with redirect_stdout(out):
        assert tap.run_sync_dry_run(dry_run_record_limit=1)
    messages = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(m["stream"], m["record"]["id"]) for m in messages if m["type"] == "RECORD"] == [
        ("posts", 1),
        ("comments", "1a"),
    ]
    assert [r.url for r in requests_mock.request_history] == [f"{BASE}/posts", f"{BASE}/posts/1/comments"]


def _documented_urls(label: str) -> list[str]:
    """The example child urls docs/CHILD_STREAMS.md lists after ``Accepted:`` or ``Refused:`` ([] when none)."""
    text = (ROOT / "docs" / "CHILD_STREAMS.md").read_text()
    lines = [line for line in text.splitlines() if line.strip().startswith(f"{label}: `")]
    return re.findall(r"`([a-z]+://[^`]+)`", lines[0].split("(", 1)[0]) if lines else []


def test_the_docs_state_the_child_url_rule_with_examples():
    text = (ROOT / "docs" / "CHILD_STREAMS.md").read_text()
    assert "must start with a fixed `https://host`" not in text  # http:// is accepted too
    assert len(_documented_urls("Accepted")) == 2
    assert len(_documented_urls("Refused")) == 4


@pytest.mark.parametrize("url", _documented_urls("Accepted"))
def test_the_child_urls_the_docs_accept_are_accepted(url):
    assert "comments" in _tap({"url": url}).streams


@pytest.mark.parametrize("url", _documented_urls("Refused"))
def test_the_child_urls_the_docs_refuse_are_refused(url):
    assert _config_error(url=url) == (
        "streams[1].url must start with a fixed scheme and host (https://api.example.com/...); "
        "{parent.<field>} placeholders may follow in the path and query."
    )
