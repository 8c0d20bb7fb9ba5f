"""A run that fails on a later stream, then runs again: what each write mode stores (tap | target, CLI)."""

from __future__ import annotations

import pytest
from helpers import run_pipeline, table_rows

ITEMS = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": 3, "name": "c"}]


def _tap_config(httpserver) -> dict:
    return {
        "streams": [
            {"name": name, "url": httpserver.url_for(path), "destination": {"table": name, "key_fields": ["id"]}}
            for name, path in (("a_items", "/a"), ("b_items", "/b"))
        ]
    }


@pytest.mark.parametrize(("write_mode", "rows_after_rerun"), [("append", 6), ("merge", 3)])
def test_a_rerun_after_a_failed_later_stream(
    httpserver, tmp_path, target_config, bq_client, write_mode, rows_after_rerun
):
    """Append stores the earlier full-table stream again; merge replaces it by key.

    Load jobs, as for any batch of streaming_threshold rows or more: a streaming insert of the same
    input within about a minute may be de-duplicated by insertId, which BigQuery does best effort only.
    """
    httpserver.expect_request("/a").respond_with_json(ITEMS)
    httpserver.expect_oneshot_request("/b").respond_with_data("no such list", status=404)
    httpserver.expect_request("/b").respond_with_json(ITEMS[:2])
    target = {**target_config, "write_mode": write_mode, "streaming_threshold": 1}

    failed = run_pipeline(tmp_path, _tap_config(httpserver), target)
    assert failed.tap_returncode == 1
    assert failed.target_returncode == 0, failed.target_stderr[-2000:]
    error = failed.tap_stderr.splitlines()[-1]
    assert error.startswith("Error: Stream 'b_items': API error 404")
    assert error.endswith(
        " Already sent in this run (the target keeps them): 'a_items' (3 records, full table). A re-run sends "
        "full-table streams again from their start; with the target's write_mode append (the default) their rows "
        "are stored again. Set write_mode: merge in the target config to replace 'a_items' by key instead."
    )
    project, dataset = target["project"], target["dataset"]
    assert len(table_rows(bq_client, project, dataset, "a_items")) == 3

    fixed = run_pipeline(tmp_path, _tap_config(httpserver), target)
    assert (fixed.tap_returncode, fixed.target_returncode) == (0, 0), fixed.tap_stderr[-2000:]
    a_rows = table_rows(bq_client, project, dataset, "a_items", "ORDER BY raw_data")
    assert len(a_rows) == rows_after_rerun
    assert len(table_rows(bq_client, project, dataset, "b_items")) == 2
