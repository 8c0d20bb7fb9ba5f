"""Child streams through ``tap-generic-api | target-bigquery-smart`` into the emulator."""

from __future__ import annotations

import json

from helpers import run_pipeline, table_rows


def _config(httpserver, child: dict | None = None) -> dict:
    return {
        "rate_limit": {"requests_per_second": 1000, "max_retries": 0},
        "streams": [
            {"name": "posts", "url": httpserver.url_for("/posts"), "destination": {"table": "posts"}},
            {
                "name": "comments",
                "parent": "posts",
                "url": httpserver.url_for("/posts/{parent.id}/comments"),
                "include_from_parent": ["id", "meta", "tags"],
                "pagination": {"type": "none"},
                "destination": {"table": "comments", "key_fields": ["id"]},
            }
            | (child or {}),
        ],
    }


def test_copied_parent_objects_and_lists_land_whole(httpserver, bq_client, target_config, tmp_path):
    # include_from_parent may name an object or a list; later parents may lack the field.
    httpserver.expect_request("/posts").respond_with_json(
        [{"id": 1, "meta": {"lang": "en", "n": 2}, "tags": ["a", "b"]}, {"id": 2}]
    )
    httpserver.expect_request("/posts/1/comments").respond_with_json([{"id": "c1"}])
    httpserver.expect_request("/posts/2/comments").respond_with_json([{"id": "c2"}])
    run = run_pipeline(tmp_path, _config(httpserver), target_config)
    assert run.tap_returncode == 0, run.tap_stderr[-3000:]
    assert run.target_returncode == 0, run.target_stderr[-3000:]
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "comments")
    assert sorted((json.loads(row["raw_data"]) for row in rows), key=lambda r: r["id"]) == [
        {"id": "c1", "_parent_id": 1, "_parent_meta": {"lang": "en", "n": 2}, "_parent_tags": ["a", "b"]},
        {"id": "c2", "_parent_id": 2, "_parent_meta": None, "_parent_tags": None},
    ]


def test_copied_parent_objects_and_lists_land_in_flattened_columns(httpserver, bq_client, target_config, tmp_path):
    httpserver.expect_request("/posts").respond_with_json([{"id": 1, "meta": {"lang": "en"}, "tags": ["a"]}])
    httpserver.expect_request("/posts/1/comments").respond_with_json([{"id": "c1"}])
    run = run_pipeline(tmp_path, _config(httpserver), target_config | {"flatten": True})
    assert run.tap_returncode == 0, run.tap_stderr[-3000:]
    assert run.target_returncode == 0, run.target_stderr[-3000:]
    (row,) = table_rows(bq_client, target_config["project"], target_config["dataset"], "comments")
    assert (row["id"], row["_parent_id"], row["_parent_meta"], row["_parent_tags"]) == (
        "c1",
        1,
        {"lang": "en"},
        ["a"],
    )
