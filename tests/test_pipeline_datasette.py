"""End to end: tap-generic-api | target-bigquery-smart, Datasette on loopback -> emulator.

One test per pagination style Datasette offers; each must land exactly the 10,000 served
records, each once, with raw_data parsing back to the served record.
"""

from __future__ import annotations

import json

import pytest
from conftest import run_pipeline, table_rows
from local_services import DATASETTE_TOKEN, DATASETTE_TOKEN_PARAM, served_item

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

BEARER = {"type": "bearer", "provider": "DATASETTE"}
QUERY = {"type": "query", "provider": "DATASETTE", "param_name": DATASETTE_TOKEN_PARAM}


def _styles(api):
    return {
        "body_cursor": {
            "url": api.table_url,
            "params": {"_shape": "objects", "_size": "1000"},
            "data_path": "rows",
            "auth": BEARER,
            "pagination": {"type": "cursor", "param": "_next", "response_path": "next"},
        },
        "body_next_url": {
            "url": api.table_url,
            "params": {"_shape": "objects", "_size": "1000"},
            "data_path": "rows",
            "auth": QUERY,
            "pagination": {"type": "link", "response_path": "next_url"},
        },
        "link_header": {
            "url": api.table_url,
            "params": {"_shape": "array"},
            "data_path": "",
            "auth": BEARER,
            "pagination": {"type": "link", "response_path": "", "limit": 1000, "limit_param": "_size"},
        },
        "offset": {
            "url": api.query_url,
            "params": {"_shape": "array"},
            "data_path": "",
            "auth": QUERY,
            "pagination": {"type": "offset", "param": "offset", "limit": 1000, "limit_param": "limit"},
        },
    }


@pytest.mark.parametrize("style", ["body_cursor", "body_next_url", "link_header", "offset"])
def test_every_record_lands_once(style, datasette_10k, bq_client, target_config, tmp_path):
    block = _styles(datasette_10k)[style]
    tap_config = {
        **block,
        "destination": {"table": "items", "key_fields": ["id"]},
        "secrets": {"datasette": DATASETTE_TOKEN},
        "org_slug": "acme",
    }
    run = run_pipeline(tmp_path, tap_config, target_config)
    assert run.tap_returncode == 0, run.tap_stderr[-3000:]
    assert run.target_returncode == 0, run.target_stderr[-3000:]

    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items")
    assert len(rows) == 10_000
    records = [json.loads(row["raw_data"]) for row in rows]
    ids = {record["id"] for record in records}
    assert ids == set(range(1, 10_001))
    for record in records:
        assert record == served_item(record["id"])
    assert {row["org_slug"] for row in rows} == {"acme"}
    assert all(row["extracted_at"] is not None for row in rows)
    # 10 batches of 1,000 rows, each a load job; no streaming insert.
    assert "10000 rows committed to" in run.target_stderr
    assert "(0 streaming requests, 10 load jobs, 0 merges, 0 dead-lettered)" in run.target_stderr
    # The token never reaches the logs.
    assert DATASETTE_TOKEN not in run.tap_stderr
    assert DATASETTE_TOKEN not in run.target_stderr
