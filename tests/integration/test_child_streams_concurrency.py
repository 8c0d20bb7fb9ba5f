"""Child streams on a loopback API: 50 parents, 0 to 250 children each over pages, fetched 4 parents at a time."""

from __future__ import annotations

import time

from helpers import sync_messages

from tap_generic_api.http.ratelimit import RateLimiters
from tap_generic_api.tap import TapGenericAPI

#: Comments per post: none, exactly one and two full pages, the most, and a spread in between.
COUNTS = {1: 0, 2: 250, 3: 100, 4: 200, **{p: (p * 53) % 251 for p in range(5, 51)}}
PER_SECOND = 100


def _config(api, child: dict | None = None, parent: dict | None = None) -> dict:
    return {
        "rate_limit": {"requests_per_second": PER_SECOND},
        "streams": [
            {
                "name": "posts",
                "url": f"{api.url}/posts",
                "pagination": {"type": "page", "limit": 20, "max_concurrency": 1},
                "destination": {"table": "posts", "key_fields": ["id"]},
            }
            | (parent or {}),
            {
                "name": "comments",
                "parent": "posts",
                "url": f"{api.url}/posts/{{parent.id}}/comments",
                "data_path": "comments",
                "include_from_parent": ["id"],
                "pagination": {"type": "page", "limit": 100, "max_concurrency": 4},
                "destination": {"table": "comments", "key_fields": ["id"]},
            }
            | (child or {}),
        ],
    }


def _comment_requests(api) -> list[tuple[int, dict]]:
    return [(int(path.split("/")[2]), query) for path, query in api.requests if path.endswith("/comments")]


def test_fifty_parents_children_once_each_in_order_four_at_a_time_under_the_rate_limit(child_api, monkeypatch):
    api = child_api(COUNTS, hold=4)
    acquired: list[float] = []
    acquire = RateLimiters.acquire

    def recording(limiter):
        acquire(limiter)
        acquired.append(time.monotonic())

    monkeypatch.setattr(RateLimiters, "acquire", staticmethod(recording))
    messages = sync_messages(TapGenericAPI(config=_config(api), parse_env_config=False))

    records = [(m["stream"], m["record"]) for m in messages if m["type"] == "RECORD"]
    # Deterministic order: each post, then its comments, whatever order the answers came in.
    assert records == [
        item
        for post in COUNTS
        for item in [
            ("posts", {"id": post, "updated_at": 1}),
            *(("comments", c | {"_parent_id": post}) for c in api.comments(post)),
        ]
    ]
    assert sum(1 for stream, _ in records if stream == "comments") == sum(COUNTS.values())
    # 50 request sequences, each from page one, its pages in order, none shared.
    requests = _comment_requests(api)
    assert sorted(post for post, query in requests if query["page"] == "1") == list(COUNTS)
    for post, count in COUNTS.items():
        assert [int(q["page"]) for p, q in requests if p == post] == list(range(1, count // 100 + 2))
    # Four sequences were held until all four were in flight together; never more than four.
    assert api.most_open == 4
    # Every request went through the shared limiter, and it held: at most 10 in any 100 ms.
    assert len(acquired) == len(api.requests)
    burst = PER_SECOND // 10
    assert all(acquired[i + burst] - acquired[i] >= 0.099 for i in range(len(acquired) - burst))


def _state_of(messages: list[dict]) -> dict:
    return next(m["value"] for m in reversed(messages) if m["type"] == "STATE")


def test_child_with_its_own_replication_key_keeps_a_bookmark_per_parent(child_api):
    counts = {1: 3, 2: 0, 3: 150}
    api = child_api(counts)
    child = {
        "params": {"since": "{bookmark}"},
        "replication_key": "k",
        "is_sorted": True,
        "start_date": 0,
    }
    tap = TapGenericAPI(config=_config(api, child), parse_env_config=False)
    first = sync_messages(tap)
    state = _state_of(first)
    partitions = state["bookmarks"]["comments"]["partitions"]
    assert [(p["context"], p.get("replication_key_value")) for p in partitions] == [
        ({"parent.id": 1}, 2),
        ({"parent.id": 2}, None),
        ({"parent.id": 3}, 149),
    ]
    assert [q["since"] for _, q in _comment_requests(api)[:1]] == ["0"]

    api.counts.update({1: 5, 3: 151})
    api.requests.clear()
    second = sync_messages(TapGenericAPI(config=_config(api, child), parse_env_config=False, state=state))
    # Each parent's children are asked from that parent's own bookmark (inclusive, Singer's at-least-once).
    assert sorted((post, q["since"], q["page"]) for post, q in _comment_requests(api)) == [
        (1, "2", "1"),
        (2, "0", "1"),
        (3, "149", "1"),
    ]
    comments = [m["record"]["id"] for m in second if m["type"] == "RECORD" and m["stream"] == "comments"]
    assert comments == ["1-2", "1-3", "1-4", "3-149", "3-150"]
    partitions = _state_of(second)["bookmarks"]["comments"]["partitions"]
    assert [p.get("replication_key_value") for p in partitions] == [4, None, 150]


def test_child_without_replication_key_follows_its_parents_bookmark(child_api):
    counts = {1: 2, 2: 2, 3: 2, 4: 2}
    api = child_api(counts)
    api.updated_at = {1: 10, 2: 20, 3: 30, 4: 30}
    parent = {"params": {"updated_since": "{bookmark}"}, "replication_key": "updated_at", "start_date": 0}
    first = sync_messages(TapGenericAPI(config=_config(api, parent=parent), parse_env_config=False))
    state = _state_of(first)
    assert state["bookmarks"]["posts"]["replication_key_value"] == 30
    assert sorted({post for post, _ in _comment_requests(api)}) == [1, 2, 3, 4]

    api.updated_at.update({2: 40})  # post 2 changed; posts 3 and 4 sit at the bookmark
    api.requests.clear()
    second = sync_messages(TapGenericAPI(config=_config(api, parent=parent), parse_env_config=False, state=state))
    # Only the parents the parent's bookmark lets through (at or after it) get their children asked.
    assert sorted(post for post, _ in _comment_requests(api)) == [2, 3, 4]
    assert [m["record"]["id"] for m in second if m["type"] == "RECORD" and m["stream"] == "posts"] == [2, 3, 4]
    assert _state_of(second)["bookmarks"]["posts"]["replication_key_value"] == 40


def test_a_parent_only_parent_keeps_its_bookmark_for_its_children(child_api):
    api = child_api({1: 1, 2: 1, 3: 1})
    api.updated_at = {1: 10, 2: 20, 3: 30}
    parent = {
        "params": {"updated_since": "{bookmark}"},
        "replication_key": "updated_at",
        "start_date": 0,
        "parent_only": True,
    }
    first = sync_messages(TapGenericAPI(config=_config(api, parent=parent), parse_env_config=False))
    assert {m["stream"] for m in first if m["type"] in ("SCHEMA", "RECORD")} == {"comments"}
    state = _state_of(first)
    assert state["bookmarks"]["posts"]["replication_key_value"] == 30

    api.updated_at.update({1: 50})
    api.requests.clear()
    sync_messages(TapGenericAPI(config=_config(api, parent=parent), parse_env_config=False, state=state))
    assert sorted(post for post, _ in _comment_requests(api)) == [1, 3]
