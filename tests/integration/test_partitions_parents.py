"""A partitioned run of a parent stream with child streams: parents split across tasks by a hash of their key."""

from __future__ import annotations

import json

import pytest
from child_api import ChildAPI
from helpers import sync_messages

from tap_generic_api.partitions.combine import combine
from tap_generic_api.partitions.plan import SHARE_LOG_PREFIX
from tap_generic_api.partitions.shares import share_of_parent
from tap_generic_api.tap import TapGenericAPI

PARENTS = range(1, 31)
COUNT = 3


@pytest.fixture
def api():
    server = ChildAPI({post: post % 4 for post in PARENTS}).start()  # 0..3 comments per post
    yield server
    server.stop()


def _config(api, index: int, **child) -> dict:
    return {
        "rate_limit": {"requests_per_second": 10000, "max_retries": 0},
        "partition": {"index": index, "count": COUNT},
        "streams": [
            {
                "name": "posts",
                "url": f"{api.url}/posts",
                "pagination": {"type": "page", "limit": 7},
                "destination": {"table": "posts", "key_fields": ["id"]},
            },
            {
                "name": "comments",
                "parent": "posts",
                "url": f"{api.url}/posts/{{parent.id}}/comments",
                "data_path": "comments",
                "pagination": {"type": "page", "limit": 2},
                "destination": {"table": "comments", "key_fields": ["id"]},
                **child,
            },
        ],
    }


def _share(index: int) -> set[int]:
    """The posts task ``index`` takes, as share_of_parent says (the key: the child's placeholder values)."""
    return {post for post in PARENTS if share_of_parent({"parent.id": post}, index, COUNT)}


def _run(api, index: int, state: dict | None = None, **child) -> list[dict]:
    tap = TapGenericAPI(config=_config(api, index, **child), parse_env_config=False, state=state)
    return sync_messages(tap)


def _records(messages: list[dict], stream: str) -> list[dict]:
    return [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == stream]


def test_three_tasks_take_every_parent_and_child_once_by_the_hash_of_the_parent_key(api, caplog):
    shares = [_share(index) for index in range(COUNT)]
    assert sorted(shares[0]) == [1, 5, 10, 19, 21, 30]  # SHA-256 of {"parent.id":N}, the same in every process
    assert [len(share) for share in shares] == [6, 9, 15]
    posts: dict[int, list[int]] = {}
    comments: dict[int, list[str]] = {}
    for index in range(COUNT):
        api.requests.clear()
        messages = _run(api, index)
        posts[index] = [r["id"] for r in _records(messages, "posts")]
        comments[index] = [r["id"] for r in _records(messages, "comments")]
        # Every task reads every parent page, and asks children only for the parents of its share.
        asked = sorted(int(path.split("/")[2]) for path, query in api.requests if path != "/posts")
        assert sorted(set(asked)) == sorted(shares[index])
        assert [q["page"] for path, q in api.requests if path == "/posts"] == ["1", "2", "3", "4", "5"]
        assert posts[index] == sorted(shares[index])
        assert comments[index] == [c["id"] for post in sorted(shares[index]) for c in api.comments(post)]
    every_post = [post for index in range(COUNT) for post in posts[index]]
    assert sorted(every_post) == list(PARENTS)  # each parent exactly once
    every_comment = [c for index in range(COUNT) for c in comments[index]]
    assert sorted(every_comment) == sorted(c["id"] for post in PARENTS for c in api.comments(post))
    assert len(every_comment) == len(set(every_comment))
    lines = [
        json.loads(r.getMessage()[len(SHARE_LOG_PREFIX) :])
        for r in caplog.records
        if r.getMessage().startswith(SHARE_LOG_PREFIX)
    ]
    assert [(line["stream"], line["index"], line["kind"], line["taken"]) for line in lines] == [
        ("posts", 0, "parents", True),
        ("posts", 1, "parents", True),
        ("posts", 2, "parents", True),
    ]
    for index in range(COUNT):
        assert f"Stream 'posts': task {index} of 3 took {len(shares[index])} of 30 parent records" in caplog.text


def test_parent_only_emits_no_parent_and_the_same_children(api):
    for index in range(COUNT):
        api.requests.clear()
        config = _config(api, index)
        config["streams"][0]["parent_only"] = True
        messages = sync_messages(TapGenericAPI(config=config, parse_env_config=False))
        assert _records(messages, "posts") == []
        assert [r["post_id"] for r in _records(messages, "comments")] == [
            post for post in sorted(_share(index)) for _ in range(post % 4)
        ]


def test_per_parent_bookmarks_are_kept_per_task_and_a_rerun_asks_from_them(api):
    child = {"replication_key": "k", "start_date": 0, "params": {"since": "{bookmark}"}}
    states = []
    for index in range(COUNT):
        messages = _run(api, index, **child)
        state = [m["value"] for m in messages if m["type"] == "STATE"][-1]
        states.append(json.loads(json.dumps(state)))
        partitions = state["bookmarks"]["comments"]["partitions"]
        # A partition for each parent of this task's share only (a parent without comments: no bookmark yet).
        assert partitions == [
            {"context": {"parent.id": post}, "replication_key": "k", "replication_key_value": post % 4 - 1}
            if post % 4
            else {"context": {"parent.id": post}}
            for post in sorted(_share(index))
        ]
        assert state["bookmarks"]["posts"]["partition"] == {
            "kind": "parents",
            "index": index,
            "count": COUNT,
            "complete": True,
        }
        # The next run of this task asks each of its parents from that parent's bookmark.
        api.requests.clear()
        state["bookmarks"]["posts"].pop("partition")
        again = _run(api, index, state=state, **child)
        since = {int(path.split("/")[2]): q["since"] for path, q in api.requests if path != "/posts"}
        assert since == {post: str(post % 4 - 1) if post % 4 else "0" for post in _share(index)}
        assert [r["k"] for r in _records(again, "comments")] == [
            post % 4 - 1 for post in sorted(_share(index)) if post % 4
        ]
    # The combined state holds every parent's partition once, from the task that fetched it.
    combined = combine(states)["bookmarks"]
    assert combined == {
        "comments": {
            "partitions": [
                {"context": {"parent.id": post}, "replication_key": "k", "replication_key_value": post % 4 - 1}
                if post % 4
                else {"context": {"parent.id": post}}
                for index in range(COUNT)
                for post in sorted(_share(index))
            ]
        }
    }


def test_an_incremental_parent_combines_to_the_least_bookmark_of_its_tasks():
    def state(index: int, value: int) -> dict:
        share = {"kind": "parents", "index": index, "count": 3, "complete": index != 1}
        entry = {"replication_key": "updated_at", "replication_key_value": value, "partition": share}
        return {"bookmarks": {"posts": entry}}

    combined = combine([state(0, 30), state(1, 12), state(2, 30)])
    assert combined == {"bookmarks": {"posts": {"replication_key": "updated_at", "replication_key_value": 12}}}


def test_parent_and_child_streams_take_no_place_among_the_streams_dealt_out_whole(api, caplog):
    # users is the first stream run whole: task 0 runs it (the parent and its child are not numbered).
    config = _config(api, 0)
    config["streams"].append({"name": "users", "url": f"{api.url}/posts", "pagination": {"type": "page", "limit": 7}})
    messages = sync_messages(TapGenericAPI(config=config, parse_env_config=False))
    assert [r["id"] for r in _records(messages, "users")] == list(PARENTS)
    assert "Stream 'users' has no date_window_size and cannot be split: it runs whole in task 0 of 3." in caplog.text
