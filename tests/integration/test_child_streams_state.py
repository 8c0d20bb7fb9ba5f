"""Child streams' per-parent state: partitions found without scanning, parents that come and go, odd parent keys."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import singer_sdk.helpers._state as sdk_state
from helpers import sync_error, sync_messages

from tap_generic_api.errors import BookmarkTypeError, ResponseShapeError
from tap_generic_api.tap import TapGenericAPI

BASE = "https://api.example.com"


def _tap(state: dict | None = None, **child) -> TapGenericAPI:
    config = {
        "rate_limit": {"requests_per_second": 10000, "max_retries": 0},
        "streams": [
            {"name": "posts", "url": f"{BASE}/posts", "destination": {"table": "posts"}},
            {
                "name": "comments",
                "parent": "posts",
                "url": f"{BASE}/posts/{{parent.id}}/comments",
                "params": {"since": "{bookmark}"},
                "replication_key": "k",
                "start_date": 0,
                "pagination": {"type": "none"},
                "destination": {"table": "comments"},
                **child,
            },
        ],
    }
    return TapGenericAPI(config=config, parse_env_config=False, state=state)


def _last_state(messages: list[dict]) -> dict:
    return [m["value"] for m in messages if m["type"] == "STATE"][-1]


def test_many_parents_partitions_are_found_without_scanning_the_list(requests_mock, monkeypatch):
    # singer-sdk scans the partitions list for every lookup (each child record), which makes a run
    # quadratic in the parents; the child streams' lookups must not scan it at all.
    scans = []
    scan = sdk_state._find_in_partitions_list  # noqa: SLF001

    def counting(partitions, context):
        scans.append(len(partitions))
        return scan(partitions, context)

    monkeypatch.setattr(sdk_state, "_find_in_partitions_list", counting)
    parents = range(1, 301)
    requests_mock.get(f"{BASE}/posts", json=[{"id": p} for p in parents])
    for p in parents:
        requests_mock.get(f"{BASE}/posts/{p}/comments", json=[{"id": f"{p}-{k}", "k": k} for k in range(3)])
    messages = sync_messages(_tap())
    assert scans == []
    partitions = _last_state(messages)["bookmarks"]["comments"]["partitions"]
    expected = [{"context": {"parent.id": p}, "replication_key": "k", "replication_key_value": 2} for p in parents]
    assert partitions == expected


def test_a_resumed_run_with_a_changed_parent_list_keeps_gone_parents_and_adds_new_ones(requests_mock):
    # Parent 'a.b' (a key with a dot) and 'ü/1' (unicode, a slash) are in the state; parent 9 is
    # gone from the API; parent 3 is new. Each is asked from its own bookmark.
    state = {
        "bookmarks": {
            "comments": {
                "partitions": [
                    {"context": {"parent.id": "a.b"}, "replication_key": "k", "replication_key_value": 5},
                    {"context": {"parent.id": 9}, "replication_key": "k", "replication_key_value": 7},
                    {"context": {"parent.id": "ü/1"}, "replication_key": "k", "replication_key_value": 1},
                ]
            }
        }
    }
    requests_mock.get(f"{BASE}/posts", json=[{"id": "a.b"}, {"id": "ü/1"}, {"id": 3}])
    requests_mock.get(f"{BASE}/posts/a.b/comments", json=[{"id": "x", "k": 6}])
    requests_mock.get(f"{BASE}/posts/%C3%BC/1/comments", json=[{"id": "y", "k": 1}])
    requests_mock.get(f"{BASE}/posts/3/comments", json=[{"id": "z", "k": 4}])
    messages = sync_messages(_tap(state))
    asked = {urlsplit(r.url).path: parse_qs(urlsplit(r.url).query)["since"] for r in requests_mock.request_history[1:]}
    assert asked == {
        "/posts/a.b/comments": ["5"],
        "/posts/%C3%BC/1/comments": ["1"],
        "/posts/3/comments": ["0"],
    }
    partitions = _last_state(messages)["bookmarks"]["comments"]["partitions"]
    assert [(p["context"]["parent.id"], p["replication_key_value"]) for p in partitions] == [
        ("a.b", 6),
        (9, 7),
        ("ü/1", 1),
        (3, 4),
    ]


def test_a_child_record_without_the_replication_key_names_its_parent(requests_mock):
    requests_mock.get(f"{BASE}/posts", json=[{"id": 1}, {"id": 2}])
    requests_mock.get(f"{BASE}/posts/1/comments", json=[{"id": "a", "k": 1}])
    requests_mock.get(f"{BASE}/posts/2/comments", json=[{"id": "b", "k": 2}, {"id": "c"}])
    # The failure's own words; the re-run hint after them is tested in test_rerun_hint.py.
    message = sync_error(_tap(), ResponseShapeError).split(" Already sent in this run")[0]
    assert message == (
        "Stream 'comments': record 3 has no 'k' field (the replication_key); fields present: ['id']. Check "
        "replication_key, and data_path (''). (for parent stream 'posts' record 2 (parent.id=2))"
    )


def test_a_parent_bookmark_of_another_type_names_its_parent(requests_mock):
    state = {
        "bookmarks": {
            "comments": {
                "partitions": [{"context": {"parent.id": 2}, "replication_key": "k", "replication_key_value": "x"}]
            }
        }
    }
    requests_mock.get(f"{BASE}/posts", json=[{"id": 1}, {"id": 2}])
    requests_mock.get(f"{BASE}/posts/1/comments", json=[{"id": "a", "k": 1}])
    requests_mock.get(f"{BASE}/posts/2/comments", json=[{"id": "b", "k": 2}])
    message = sync_error(_tap(state, is_sorted=True), BookmarkTypeError).split(" Already sent in this run")[0]
    assert message.startswith("Stream 'comments': the bookmark 'x' (str) cannot be compared with the records' k values")
    assert message.endswith(" (for parent stream 'posts' record 2 (parent.id=2))")
