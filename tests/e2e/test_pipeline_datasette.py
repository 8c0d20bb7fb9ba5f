"""End to end: tap-generic-api | target-bigquery-smart, Datasette on loopback -> emulator.

One test per pagination style Datasette offers; each must land exactly the 10,000 served
records, each once, with raw_data parsing back to the served record.
"""

from __future__ import annotations

import json
import re

import pytest
from helpers import metric_points, run_pipeline, table_rows
from local_services import DATASETTE_TOKEN, DATASETTE_TOKEN_PARAM, DatasetteAPI, served_item

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
    # The summaries are read from the METRIC lines, shown at INFO when asked for.
    tap_config["metrics_log_level"] = "INFO"
    run = run_pipeline(tmp_path, tap_config, {**target_config, "metrics_log_level": "INFO"})
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
    (table,) = metric_points(run.target_stderr, "table_summary")
    assert table["tags"]["rows"] == 10_000
    assert table["tags"]["load_jobs"] == 10
    assert table["tags"]["streaming_calls"] == 0
    (stream,) = metric_points(run.tap_stderr, "stream_summary")
    assert stream["tags"]["records"] == 10_000
    # The token never reaches the logs.
    assert DATASETTE_TOKEN not in run.tap_stderr
    assert DATASETTE_TOKEN not in run.target_stderr


@pytest.fixture(scope="module")
def datasette_100k():
    with DatasetteAPI(100_000) as api:
        yield api


def test_hundred_thousand_records_show_progress_and_a_matching_summary(
    datasette_100k, bq_client, target_config, tmp_path, monkeypatch
):
    monkeypatch.setenv("PROGRESS_INTERVAL_SECONDS", "0.5")
    tap_config = {
        **_styles(datasette_100k)["body_cursor"],
        "destination": {"table": "items", "key_fields": ["id"]},
        "secrets": {"datasette": DATASETTE_TOKEN},
        "rate_limit": {"requests_per_second": 100},
    }
    tap_config["metrics_log_level"] = "INFO"
    run = run_pipeline(tmp_path, tap_config, {**target_config, "metrics_log_level": "INFO"}, timeout=600)
    assert run.tap_returncode == 0, run.tap_stderr[-3000:]
    assert run.target_returncode == 0, run.target_stderr[-3000:]
    count = next(
        iter(
            bq_client.query_and_wait(
                f"SELECT COUNT(*) AS n FROM `{target_config['project']}.{target_config['dataset']}.items`"
            )
        )
    )["n"]
    assert count == 100_000

    progress = re.findall(r"Stream 'items': (\d+) pages, (\d+) records, \d+ records/s", run.tap_stderr)
    assert progress, "no progress line"
    counts = [int(records) for _, records in progress]
    assert counts == sorted(counts)
    assert 0 < counts[-1] <= 100_000
    assert re.search(r"Stream 'items': \d+ rows, \d+ rows/s", run.target_stderr)

    (stream,) = metric_points(run.tap_stderr, "stream_summary")
    assert stream["tags"]["records"] == count
    assert stream["tags"]["pages"] == 100
    (table,) = metric_points(run.target_stderr, "table_summary")
    assert table["tags"]["rows"] == count
    assert table["tags"]["load_jobs"] == 100
    assert "Summary for stream 'items': table=" in run.target_stderr
