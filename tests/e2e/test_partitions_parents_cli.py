"""Three tasks of a partitioned run through the tap's console script: a parent stream and its children split."""

from __future__ import annotations

import json
import subprocess
import sys

from child_api import ChildAPI
from helpers import run_cli

from tap_generic_api.partitions.plan import SHARE_LOG_PREFIX
from tap_generic_api.partitions.shares import share_of_parent

PARENTS = range(1, 31)


def test_three_tasks_emit_every_parent_and_child_once_and_their_states_combine(tmp_path):
    api = ChildAPI({post: post % 4 for post in PARENTS}).start()
    try:
        outputs = {}
        for index in range(3):
            config = {
                "partition": {"index": index, "count": 3},
                "rate_limit": {"requests_per_second": 10000, "max_retries": 0},
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
                        "params": {"since": "{bookmark}"},
                        "replication_key": "k",
                        "start_date": 0,
                        "pagination": {"type": "page", "limit": 2},
                        "destination": {"table": "comments", "key_fields": ["id"]},
                    },
                ],
            }
            result = run_cli(tmp_path, "tap-generic-api", config, stdout=subprocess.PIPE)
            assert result.returncode == 0, result.stderr
            outputs[index] = result
    finally:
        api.stop()
    records: dict[int, dict[str, list]] = {}
    for index, result in outputs.items():
        messages = [json.loads(line) for line in result.stdout.splitlines()]
        records[index] = {
            stream: [m["record"]["id"] for m in messages if m["type"] == "RECORD" and m["stream"] == stream]
            for stream in ("posts", "comments")
        }
        share = [post for post in PARENTS if share_of_parent({"parent.id": post}, index, 3)]
        assert records[index]["posts"] == share
        assert records[index]["comments"] == [c["id"] for post in share for c in api.comments(post)]
        lines = [
            json.loads(line.split(SHARE_LOG_PREFIX, 1)[1])
            for line in result.stderr.splitlines()
            if SHARE_LOG_PREFIX in line
        ]
        assert lines == [
            {
                "count": 3,
                "index": index,
                "key": "sha256 of the {parent.*} placeholder values, mod count",
                "kind": "parents",
                "rerun": False,
                "stream": "posts",
                "taken": True,
            }
        ]
        (tmp_path / f"state-{index}.json").write_text(result.stdout)
    posts = sorted(post for index in records for post in records[index]["posts"])
    assert posts == list(PARENTS)
    comments = [c for index in records for c in records[index]["comments"]]
    assert sorted(comments) == sorted(c["id"] for post in PARENTS for c in api.comments(post))
    assert len(set(comments)) == len(comments)
    files = [str(tmp_path / f"state-{index}.json") for index in range(3)]
    combined = subprocess.run(
        [sys.executable, "-m", "tap_generic_api.partitions.combine", *files],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    partitions = json.loads(combined.stdout)["bookmarks"]["comments"]["partitions"]
    assert sorted((p["context"]["parent.id"], p.get("replication_key_value")) for p in partitions) == [
        (post, post % 4 - 1 if post % 4 else None) for post in PARENTS
    ]
