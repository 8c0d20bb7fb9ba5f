"""Report jobs: a request creates a job, its status is polled, its results are downloaded.

The clock is controlled (:data:`tap_generic_api.report_jobs.CLOCK`): polls run without sleeping,
and a timeout is reached by the waits the job asks for, not by wall time.
"""

from __future__ import annotations

import gzip
import io
import json
from contextlib import redirect_stdout

import pytest
from helpers import BEARER_SECRET, bearer_tap, sync_error, sync_messages
from pytest_httpserver import HTTPServer
from singer_sdk.exceptions import FatalAPIError
from werkzeug import Request, Response

from tap_generic_api import report_jobs
from tap_generic_api.errors import ReportJobError

JOB = {
    "id_path": "job.id",
    "status_path": "state",
    "done": ["DONE"],
    "failed": ["FAILED", "CANCELLED"],
    "result_path": "files",
    "poll_interval": 10,
    "timeout": 30,
}
CSV_EXPORT = 'id,name,amount\r\n1,"Smith, Jane",10.5\r\n2,"two\nlines",\r\n3,plain,7\r\n'
SCHEMA = {"properties": {"id": {"type": "integer"}, "name": {"type": "string"}, "amount": {"type": ["number", "null"]}}}


class FakeClock:
    """A clock that moves only when the job waits; records the waits."""

    def __init__(self) -> None:
        self.time = 1000.0
        self.waits: list[float] = []

    def now(self) -> float:
        return self.time

    def sleep(self, seconds, stopping) -> None:
        self.waits.append(seconds)
        self.time += seconds


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(report_jobs, "CLOCK", fake)
    return fake


@pytest.fixture
def storage():
    """A second loopback server: another origin, like a storage bucket's pre-signed links."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


def _job_api(httpserver, storage, statuses, files):
    """Serve POST /jobs and GET /jobs/r-17 answering ``statuses`` in turn; record what was asked."""
    seen = {"create": [], "polls": []}

    def create(request: Request) -> Response:
        seen["create"].append((request.headers.get("Authorization"), request.get_json()))
        return Response(json.dumps({"job": {"id": "r-17"}}), content_type="application/json")

    def poll(request: Request) -> Response:
        seen["polls"].append(request.headers.get("Authorization"))
        state = statuses[min(len(seen["polls"]), len(statuses)) - 1]
        answer = {"state": state, "files": [storage.url_for(name) for name in files] if state == "DONE" else None}
        return Response(json.dumps(answer), content_type="application/json")

    httpserver.expect_request("/jobs", method="POST").respond_with_handler(create)
    httpserver.expect_request("/jobs/r-17", method="GET").respond_with_handler(poll)
    return seen


def _tap(httpserver, **config):
    return bearer_tap(
        url=httpserver.url_for("/jobs"),
        method="POST",
        body={"report": "orders", "day": "{start_date}"},
        start_date="2026-01-01",
        job={**JOB, "poll_url": httpserver.url_for("/jobs/{job_id}")},
        **config,
    )


def test_a_job_done_after_three_polls_gives_its_rows_downloaded_without_our_credentials(httpserver, storage, clock):
    seen = _job_api(
        httpserver, storage, ["PENDING", "RUNNING", "DONE"], ["/export/part-1.csv.gz", "/export/part-2.csv"]
    )
    downloads = []

    def part(body: bytes):
        def handler(request: Request) -> Response:
            downloads.append(dict(request.headers))
            return Response(body, content_type="application/octet-stream")

        return handler

    # The first part gzip-compressed without Content-Encoding, as storage often serves exports.
    storage.expect_request("/export/part-1.csv.gz").respond_with_handler(part(gzip.compress(CSV_EXPORT.encode())))
    storage.expect_request("/export/part-2.csv").respond_with_handler(part(b"id,name,amount\n4,four,0.25\n"))

    messages = sync_messages(_tap(httpserver, response_format="csv", schema=SCHEMA))

    records = [m["record"] for m in messages if m["type"] == "RECORD"]
    assert records == [
        {"id": 1, "name": "Smith, Jane", "amount": 10.5},
        {"id": 2, "name": "two\nlines", "amount": None},
        {"id": 3, "name": "plain", "amount": 7},
        {"id": 4, "name": "four", "amount": 0.25},
    ]
    assert seen["create"] == [(f"Bearer {BEARER_SECRET}", {"report": "orders", "day": "2026-01-01"})]
    assert seen["polls"] == [f"Bearer {BEARER_SECRET}"] * 3
    assert clock.waits == [10, 10, 10]
    assert len(downloads) == 2
    for headers in downloads:
        assert "Authorization" not in headers
        assert BEARER_SECRET not in json.dumps(headers)


def test_a_download_on_the_api_origin_keeps_the_credentials(httpserver, clock):
    seen = _job_api(httpserver, httpserver, ["DONE"], ["/files/out.jsonl"])
    auth = []

    def download(request: Request) -> Response:
        auth.append(request.headers.get("Authorization"))
        return Response(b'{"id": 1}\n{"id": 2}\n', content_type="application/x-ndjson")

    httpserver.expect_request("/files/out.jsonl").respond_with_handler(download)
    messages = sync_messages(_tap(httpserver))
    assert [m["record"] for m in messages if m["type"] == "RECORD"] == [{"id": 1}, {"id": 2}]
    assert auth == [f"Bearer {BEARER_SECRET}"]
    assert len(seen["polls"]) == 1


def _failed_run(tap) -> tuple[str, list[dict]]:
    """Run ``tap`` to its ReportJobError; return the error and every message written, buffered ones too."""
    out = io.StringIO()
    with redirect_stdout(out):
        with pytest.raises(ReportJobError) as info:
            tap.sync_all()
        tap.message_writer.flush()  # as the program does at exit
    return str(info.value), [json.loads(line) for line in out.getvalue().splitlines()]


def _stream_states(messages, stream="items"):
    return [m for m in messages if m["type"] == "STATE" and stream in m["value"].get("bookmarks", {})]


def test_a_failed_job_ends_the_run_naming_the_job_and_its_status(httpserver, storage, clock):
    _job_api(httpserver, storage, ["RUNNING", "FAILED"], [])
    error, out = _failed_run(_tap(httpserver))
    assert error.startswith("Stream 'items': report job r-17 failed: status 'FAILED' (job.failed)")
    assert clock.waits == [10, 10]
    assert [m["type"] for m in out] == ["SCHEMA"]
    assert not [m for m in out if m["type"] == "RECORD"]
    assert not _stream_states(out)


def test_a_job_not_done_by_its_timeout_ends_the_run_with_its_last_status(httpserver, storage, clock):
    seen = _job_api(httpserver, storage, ["QUEUED", "RUNNING"], [])
    error, out = _failed_run(_tap(httpserver))
    assert "report job r-17 was not done within job.timeout (30 s): last status 'RUNNING' after 3" in error
    assert len(seen["polls"]) == 3
    assert clock.waits == [10, 10, 10]
    assert [m["type"] for m in out] == ["SCHEMA"]
    assert not [m for m in out if m["type"] == "RECORD"]
    assert not _stream_states(out)


def test_a_job_that_cannot_be_created_is_an_error_not_a_skip(requests_mock, clock):
    requests_mock.post("https://api.example.com/jobs", status_code=400, json={"error": "unknown report"})
    tap = bearer_tap(
        url="https://api.example.com/jobs",
        method="POST",
        body={"report": "nope"},
        job={**JOB, "poll_url": "https://api.example.com/jobs/{job_id}"},
    )
    error = sync_error(tap, FatalAPIError)
    assert "400" in error
    assert "unknown report" in error
    assert [r.method for r in requests_mock.request_history] == ["POST"]
    assert clock.waits == []


def test_a_creation_answer_without_the_job_id_is_an_error(requests_mock, clock):
    requests_mock.post("https://api.example.com/jobs", json={"job": {}})
    tap = bearer_tap(
        url="https://api.example.com/jobs",
        method="POST",
        body={"report": "x"},
        job={**JOB, "poll_url": "https://api.example.com/jobs/{job_id}"},
    )
    error = sync_error(tap, ReportJobError)
    assert "no job id at job.id_path 'job.id'" in error


def test_a_status_url_from_the_creation_answer_is_polled(requests_mock, clock):
    requests_mock.post("https://api.example.com/jobs", json={"links": {"status": "/jobs/9/status"}})
    requests_mock.get(
        "https://api.example.com/jobs/9/status",
        [{"json": {"state": "RUNNING"}}, {"json": {"state": "DONE", "files": "/jobs/9/result"}}],
    )
    requests_mock.get(
        "https://api.example.com/jobs/9/result", text="id;city\n1;Paris\n", headers={"Content-Type": "text/csv"}
    )
    job = {k: v for k, v in JOB.items() if k != "id_path"}
    tap = bearer_tap(
        url="https://api.example.com/jobs",
        method="POST",
        body={"report": "x"},
        csv_delimiter=";",
        job={**job, "status_url_path": "links.status"},
    )
    messages = sync_messages(tap)
    assert [m["record"] for m in messages if m["type"] == "RECORD"] == [{"id": "1", "city": "Paris"}]
    assert [r.url for r in requests_mock.request_history] == [
        "https://api.example.com/jobs",
        "https://api.example.com/jobs/9/status",
        "https://api.example.com/jobs/9/status",
        "https://api.example.com/jobs/9/result",
    ]


def test_a_poll_answering_503_is_retried_and_numeric_statuses_compare_as_text(requests_mock, clock, sleeps):
    requests_mock.post("https://api.example.com/jobs", json={"job": {"id": 5}})
    requests_mock.get(
        "https://api.example.com/jobs/5",
        [
            {"json": {"state": 1}},
            {"status_code": 503, "text": "busy"},
            {"json": {"state": 2, "files": ["https://api.example.com/out/5.jsonl"]}},
        ],
    )
    requests_mock.get(
        "https://api.example.com/out/5.jsonl", text='{"id": "a"}\n', headers={"Content-Type": "text/plain"}
    )
    tap = bearer_tap(
        url="https://api.example.com/jobs",
        method="POST",
        body={"report": "x"},
        response_format="jsonl",
        job={**JOB, "done": ["2"], "failed": ["3"], "poll_url": "https://api.example.com/jobs/{job_id}"},
    )
    messages = sync_messages(tap)
    assert [m["record"] for m in messages if m["type"] == "RECORD"] == [{"id": "a"}]
    assert [r.url for r in requests_mock.request_history].count("https://api.example.com/jobs/5") == 3
    assert sleeps == [1]  # the retry's backoff wait, recorded, not slept
    assert clock.waits == [10, 10]


def test_a_202_accepted_with_the_status_url_in_location_creates_one_job_and_polls_it(httpserver, clock):
    created = []

    def create(request: Request) -> Response:
        created.append(request.get_json())
        return Response(status=202, headers={"Location": "/jobs/j-9/status"})

    answers = iter([{"state": "RUNNING"}, {"state": "DONE", "files": "/out/j-9"}])
    httpserver.expect_request("/jobs", method="POST").respond_with_handler(create)
    httpserver.expect_request("/jobs/j-9/status").respond_with_handler(
        lambda _request: Response(json.dumps(next(answers)), content_type="application/json")
    )
    httpserver.expect_request("/out/j-9").respond_with_data(b"id,city\n1,Paris\n", content_type="text/csv")
    job = {k: v for k, v in JOB.items() if k != "id_path"}
    tap = bearer_tap(
        url=httpserver.url_for("/jobs"),
        method="POST",
        body={"report": "x"},
        job={**job, "status_url_header": "Location"},
    )
    messages = sync_messages(tap)
    assert [m["record"] for m in messages if m["type"] == "RECORD"] == [{"id": "1", "city": "Paris"}]
    assert created == [{"report": "x"}]  # an empty 202 is the answer, not a failure to send again
    assert [r.path for r, _ in httpserver.log] == ["/jobs", "/jobs/j-9/status", "/jobs/j-9/status", "/out/j-9"]


def test_a_creation_answer_without_the_status_url_header_is_an_error_naming_it(httpserver, clock):
    httpserver.expect_request("/jobs", method="POST").respond_with_data(b"", status=202)
    job = {k: v for k, v in JOB.items() if k != "id_path"}
    tap = bearer_tap(url=httpserver.url_for("/jobs"), method="POST", job={**job, "status_url_header": "Location"})
    error = sync_error(tap, ReportJobError)
    assert error == (
        "Stream 'items': report job ? got a creation answer (status 202) without the header 'Location' "
        "(job.status_url_header); no record of it is written."
    )
    assert len(httpserver.log) == 1


def test_an_empty_creation_answer_is_an_error_after_one_request_not_a_second_job(httpserver, clock):
    httpserver.expect_request("/jobs", method="POST").respond_with_data(b"", status=200)
    tap = _tap(httpserver)
    error = sync_error(tap, ReportJobError)
    assert error == (
        "Stream 'items': report job ? got a creation answer (status 200) with an empty body, where job.id_path "
        "'job.id' should be found (if the status URL is in a header such as Location, set job.status_url_header); "
        "no record of it is written."
    )
    assert [(r.method, r.path) for r, _ in httpserver.log] == [("POST", "/jobs")]


def test_an_expired_result_link_is_an_error_naming_the_job_and_the_result(httpserver, storage, clock):
    _job_api(httpserver, storage, ["DONE"], ["/export/part-1.csv", "/export/part-2.csv?X-Amz-Expires=60"])
    storage.expect_request("/export/part-1.csv").respond_with_data(b"id\n1\n2\n", content_type="text/csv")
    storage.expect_request("/export/part-2.csv").respond_with_data(
        b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
        status=403,
        content_type="application/xml",
    )
    error, out = _failed_run(_tap(httpserver))
    assert error.startswith("Stream 'items': report job r-17 is done, but downloading result 2 of 2 failed: ")
    assert "403" in error
    assert "Request has expired" in error
    # The failure's own words end so; the re-run hint after them is tested in test_rerun_hint.py.
    assert error.split(" Already sent in this run")[0].endswith(
        "A result URL can expire (pre-signed links last minutes to hours); the 2 records of the results before it "
        "are written, and the next run creates a new job."
    )
    assert [m["record"] for m in out if m["type"] == "RECORD"] == [{"id": "1"}, {"id": "2"}]
    assert not _stream_states(out)


def test_a_job_done_with_no_results_says_so(httpserver, clock, caplog):
    _job_api(httpserver, httpserver, ["DONE"], [])
    messages = sync_messages(_tap(httpserver))
    assert not [m for m in messages if m["type"] == "RECORD"]
    assert (
        "Stream 'items': report job r-17 is done with an empty list of results at job.result_path 'files': no records."
    ) in [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]


def test_a_job_id_is_percent_encoded_in_the_poll_url(requests_mock, clock):
    requests_mock.post("https://api.example.com/jobs", json={"job": {"id": "reports/r 17#a?b"}})
    status = {"json": {"state": "DONE", "files": ["https://api.example.com/out.jsonl"]}}
    requests_mock.get("https://api.example.com/jobs/reports/r%2017%23a%3Fb", [status])
    requests_mock.get("https://api.example.com/out.jsonl", text='{"id": 1}\n', headers={"Content-Type": "text/plain"})
    tap = bearer_tap(
        url="https://api.example.com/jobs",
        method="POST",
        response_format="jsonl",
        job={**JOB, "poll_url": "https://api.example.com/jobs/{job_id}?job={job_id}"},
    )
    messages = sync_messages(tap)
    assert [m["record"] for m in messages if m["type"] == "RECORD"] == [{"id": 1}]
    assert requests_mock.request_history[1].url == (
        "https://api.example.com/jobs/reports/r%2017%23a%3Fb?job=reports%2Fr%2017%23a%3Fb"
    )


def test_a_download_on_a_host_in_allowed_hosts_keeps_the_credentials(httpserver, storage, clock):
    _job_api(httpserver, storage, ["DONE"], ["/files/out.jsonl"])
    auth = []

    def download(request: Request) -> Response:
        auth.append(request.headers.get("Authorization"))
        return Response(b'{"id": 1}\n', content_type="application/x-ndjson")

    storage.expect_request("/files/out.jsonl").respond_with_handler(download)
    messages = sync_messages(_tap(httpserver, allowed_hosts=["127.0.0.1"]))
    assert [m["record"] for m in messages if m["type"] == "RECORD"] == [{"id": 1}]
    assert auth == [f"Bearer {BEARER_SECRET}"]
