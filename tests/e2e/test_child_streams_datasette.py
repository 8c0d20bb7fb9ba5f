"""Child streams on Datasette's related tables (comments filtered by ``?post_id=``), in process and
end to end: tap-generic-api | target-bigquery-smart into the emulator."""

from __future__ import annotations

import json

import pytest
from helpers import run_pipeline, sync_messages, table_rows
from local_services import DatasetteBlog

from tap_generic_api.tap import TapGenericAPI

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

POSTS = 30


@pytest.fixture(scope="module")
def blog():
    with DatasetteBlog(POSTS) as api:
        yield api


def _config(blog, **parent) -> dict:
    return {
        "rate_limit": {"requests_per_second": 200},
        "streams": [
            {
                "name": "posts",
                "url": f"{blog.base_url}/blog/posts.json",
                "params": {"_shape": "objects", "_size": "7"},
                "data_path": "rows",
                "pagination": {"type": "cursor", "param": "_next", "response_path": "next"},
                "destination": {"table": "posts", "key_fields": ["id"]},
                **parent,
            },
            {
                "name": "comments",
                "parent": "posts",
                "url": f"{blog.base_url}/blog/comments.json",
                # Datasette's column filter; 10 rows a page, so a post's comments span up to 3 pages.
                "params": {"post_id": "{parent.id}", "_shape": "objects", "_size": "10"},
                "data_path": "rows",
                "include_from_parent": ["id", "title"],
                "pagination": {"type": "cursor", "param": "_next", "response_path": "next", "max_concurrency": 3},
                "destination": {"table": "comments", "key_fields": ["id"]},
            },
        ],
    }


def _expected_comments(blog) -> list[dict]:
    return [c | {"_parent_id": c["post_id"], "_parent_title": f"post {c['post_id']}"} for c in blog.comments()]


def test_each_posts_comments_come_once_with_the_post(blog):
    messages = sync_messages(TapGenericAPI(config=_config(blog), parse_env_config=False))
    records = [(m["stream"], m["record"]) for m in messages if m["type"] == "RECORD"]
    expected = _expected_comments(blog)
    assert records == [
        item
        for post in range(1, POSTS + 1)
        for item in [
            ("posts", {"id": post, "title": f"post {post}"}),
            *(("comments", c) for c in expected if c["post_id"] == post),
        ]
    ]
    assert max(DatasetteBlog.comment_count(p) for p in range(1, POSTS + 1)) == 22


def test_tap_to_target_lands_parents_and_children_once(blog, bq_client, target_config, tmp_path):
    run = run_pipeline(tmp_path, _config(blog), target_config)
    assert run.tap_returncode == 0, run.tap_stderr[-3000:]
    assert run.target_returncode == 0, run.target_stderr[-3000:]
    project, dataset = target_config["project"], target_config["dataset"]
    comments = [json.loads(row["raw_data"]) for row in table_rows(bq_client, project, dataset, "comments")]
    assert sorted(comments, key=lambda c: c["id"]) == _expected_comments(blog)
    posts = [json.loads(row["raw_data"]) for row in table_rows(bq_client, project, dataset, "posts")]
    assert sorted(p["id"] for p in posts) == list(range(1, POSTS + 1))


def test_parent_only_lands_no_parent_table(blog, bq_client, target_config, tmp_path):
    run = run_pipeline(tmp_path, _config(blog, parent_only=True), target_config)
    assert run.tap_returncode == 0, run.tap_stderr[-3000:]
    assert run.target_returncode == 0, run.target_stderr[-3000:]
    project, dataset = target_config["project"], target_config["dataset"]
    assert len(table_rows(bq_client, project, dataset, "comments")) == len(blog.comments())
    tables = [table.table_id for table in bq_client.list_tables(f"{project}.{dataset}")]
    assert "posts" not in tables
