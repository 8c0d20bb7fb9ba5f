"""End to end: CSV and JSON Lines from Datasette, and a report job, through tap | target into the emulator.

Datasette serves a table as CSV (``.csv``, all rows in one streamed body with ``_stream=on``)
and as newline-delimited JSON (``?_shape=array&_nl=on``, next page in the ``Link`` header); both
are sent as ``text/plain``, so the streams set ``response_format``.
"""

from __future__ import annotations

import gzip
import json
import zlib

import pytest
from helpers import metric_points, run_pipeline, table_rows
from local_services import DATASETTE_TOKEN, served_item
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

BEARER = {"type": "bearer", "provider": "DATASETTE"}
#: Datasette's items table, typed: CSV values are converted to these types, the rest stay strings.
ITEM_SCHEMA = {
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "email": {"type": "string"},
        "amount": {"type": "number"},
        "quantity": {"type": "integer"},
        "active": {"type": "integer"},
        "category": {"type": "string"},
        "note": {"type": ["string", "null"]},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
    }
}


def _landed(bq_client, target_config) -> list[dict]:
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items")
    return sorted((json.loads(row["raw_data"]) for row in rows), key=lambda record: record["id"])


def _base(**config) -> dict:
    return {
        "destination": {"table": "items", "key_fields": ["id"]},
        "auth": BEARER,
        "secrets": {"datasette": DATASETTE_TOKEN},
        "rate_limit": {"requests_per_second": 100},
        "metrics_log_level": "INFO",  # the tests read the stream_summary METRIC line
        **config,
    }


def test_a_csv_export_lands_every_row_once_typed_by_the_schema(datasette_10k, bq_client, target_config, tmp_path):
    tap_config = _base(
        url=f"{datasette_10k.base_url}/items/items.csv",
        params={"_stream": "on"},
        response_format="csv",
        schema=ITEM_SCHEMA,
    )
    run = run_pipeline(tmp_path, tap_config, target_config)
    assert run.tap_returncode == 0, run.tap_stderr[-3000:]
    assert run.target_returncode == 0, run.target_stderr[-3000:]
    expected = []
    for i in range(1, 10_001):
        record = served_item(i)
        record["note"] = record["note"] if record["note"] is not None else ""  # CSV writes null as an empty field
        expected.append(record)
    assert _landed(bq_client, target_config) == expected
    (stream,) = metric_points(run.tap_stderr, "stream_summary")
    assert (stream["tags"]["records"], stream["tags"]["pages"]) == (10_000, 1)


def test_csv_pages_by_offset_land_every_row_once(datasette_10k, bq_client, target_config, tmp_path):
    tap_config = _base(
        url=f"{datasette_10k.base_url}/items/items_page.csv",
        response_format="csv",
        schema=ITEM_SCHEMA,
        pagination={"type": "offset", "param": "offset", "limit": 1000, "limit_param": "limit"},
    )
    run = run_pipeline(tmp_path, tap_config, target_config)
    assert run.tap_returncode == 0, run.tap_stderr[-3000:]
    assert [record["id"] for record in _landed(bq_client, target_config)] == list(range(1, 10_001))


def test_json_lines_pages_by_link_header_land_exactly_the_records(datasette_10k, bq_client, target_config, tmp_path):
    tap_config = _base(
        url=f"{datasette_10k.base_url}/items/items.json",
        params={"_shape": "array", "_nl": "on", "_size": "1000"},
        response_format="jsonl",
        pagination={"type": "link"},
    )
    run = run_pipeline(tmp_path, tap_config, target_config)
    assert run.tap_returncode == 0, run.tap_stderr[-3000:]
    assert run.target_returncode == 0, run.target_stderr[-3000:]
    assert _landed(bq_client, target_config) == [served_item(i) for i in range(1, 10_001)]
    (stream,) = metric_points(run.tap_stderr, "stream_summary")
    assert (stream["tags"]["records"], stream["tags"]["pages"]) == (10_000, 10)
    assert DATASETTE_TOKEN not in run.tap_stderr


JOB_TOKEN = "job-token-NEVERLOG-77"


@pytest.fixture
def storage():
    """Another origin serving the report's file, as a storage bucket's pre-signed link does."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


def test_a_report_job_lands_its_rows_and_its_download_gets_no_credentials(
    httpserver, storage, bq_client, target_config, tmp_path
):
    polls = []

    def status(request: Request) -> Response:
        polls.append(request.headers.get("Authorization"))
        done = len(polls) == 3
        answer = {"status": "done" if done else "running", "url": storage.url_for("/r/out.csv") if done else None}
        return Response(json.dumps(answer), content_type="application/json")

    downloads = []

    def download(request: Request) -> Response:
        downloads.append(dict(request.headers))
        rows = "".join(f'{i},"Customer {i}, Inc.",{i * 2.5}\n' for i in range(1, 501))
        return Response(gzip.compress(f"id,customer,spend\n{rows}".encode()), content_type="text/csv")

    httpserver.expect_request("/reports", method="POST").respond_with_json({"id": "rep-1"})
    httpserver.expect_request("/reports/rep-1").respond_with_handler(status)
    storage.expect_request("/r/out.csv").respond_with_handler(download)
    tap_config = {
        "url": httpserver.url_for("/reports"),
        "method": "POST",
        "body": {"metrics": ["spend"]},
        "destination": {"table": "items", "key_fields": ["id"]},
        "auth": {"type": "bearer", "provider": "ADS"},
        "secrets": {"ads": JOB_TOKEN},
        "schema": {"properties": {"id": {"type": "integer"}, "spend": {"type": "number"}}},
        "job": {
            "id_path": "id",
            "poll_url": httpserver.url_for("/reports/{job_id}"),
            "poll_interval": 0,
            "status_path": "status",
            "done": ["done"],
            "failed": ["error"],
            "result_path": "url",
        },
    }
    run = run_pipeline(tmp_path, tap_config, target_config)
    assert run.tap_returncode == 0, run.tap_stderr[-3000:]
    assert run.target_returncode == 0, run.target_stderr[-3000:]
    assert _landed(bq_client, target_config) == [
        {"id": i, "customer": f"Customer {i}, Inc.", "spend": i * 2.5} for i in range(1, 501)
    ]
    assert polls == [f"Bearer {JOB_TOKEN}"] * 3
    assert len(downloads) == 1
    assert "Authorization" not in downloads[0]
    assert JOB_TOKEN not in json.dumps(downloads[0])
    assert JOB_TOKEN not in run.tap_stderr


def test_a_failed_report_job_ends_the_run_with_an_error_and_no_state(httpserver, bq_client, target_config, tmp_path):
    httpserver.expect_request("/reports", method="POST").respond_with_json({"id": "rep-9"})
    httpserver.expect_request("/reports/rep-9").respond_with_json({"status": "error"})
    tap_config = {
        "url": httpserver.url_for("/reports"),
        "method": "POST",
        "destination": {"table": "items"},
        "job": {
            "id_path": "id",
            "poll_url": httpserver.url_for("/reports/{job_id}"),
            "poll_interval": 0,
            "status_path": "status",
            "done": ["done"],
            "failed": ["error"],
            "result_path": "url",
        },
    }
    run = run_pipeline(tmp_path, tap_config, target_config)
    assert run.tap_returncode != 0
    assert "report job rep-9 failed: status 'error'" in run.tap_stderr
    assert not [state for state in run.states if "items" in state.get("bookmarks", {})]


def test_a_202_report_job_lands_its_rows_and_a_cut_export_fails_the_run(httpserver, bq_client, target_config, tmp_path):
    """A job whose status URL is in Location lands its rows; a zlib export cut in half ends the run non-zero."""
    created = []

    def create(request: Request) -> Response:
        created.append(request.path)
        return Response(status=202, headers={"Location": "/reports/rep-3"})

    rows = "".join(f"{n},row {n}\n" for n in range(1, 3001))
    export = zlib.compress(f"id,name\n{rows}".encode())
    httpserver.expect_request("/reports", method="POST").respond_with_handler(create)
    httpserver.expect_request("/reports/rep-3").respond_with_json({"status": "done", "url": "/files/rep-3"})
    httpserver.expect_request("/files/rep-3").respond_with_data(b"id,name\n1,one\n2,two\n", content_type="text/csv")
    httpserver.expect_request("/files/cut").respond_with_data(export[: len(export) // 2], content_type="text/plain")
    tap_config = {
        "url": httpserver.url_for("/reports"),
        "method": "POST",
        "destination": {"table": "items", "key_fields": ["id"]},
        "schema": {"properties": {"id": {"type": "integer"}, "name": {"type": "string"}}},
        "job": {
            "status_url_header": "Location",
            "poll_interval": 0,
            "status_path": "status",
            "done": ["done"],
            "result_path": "url",
        },
    }
    run = run_pipeline(tmp_path, tap_config, target_config)
    assert (run.tap_returncode, run.target_returncode) == (0, 0), run.tap_stderr
    assert created == ["/reports"]
    assert _landed(bq_client, target_config) == [{"id": 1, "name": "one"}, {"id": 2, "name": "two"}]

    cut = {"url": httpserver.url_for("/files/cut"), "response_format": "csv", "destination": {"table": "cut"}}
    run = run_pipeline(tmp_path, cut, target_config)
    assert run.tap_returncode != 0
    assert f"Stream 'cut': {httpserver.url_for('/files/cut')}: the body's compressed data is damaged or cut short" in (
        run.tap_stderr
    )
    assert run.target_returncode == 0  # the records read before the cut are written; the run says it is short
