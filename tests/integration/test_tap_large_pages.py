"""A large page on the paths that keep memory low: records copied through undecoded as views into
the body, a decoded body dropped once read, messages encoded in slices. Each path must still write
every record exactly as the API sent it.

The memory itself (about once the page copied through, about four times decoded) is measured by
``benchmarks/large_page.py``; figures in ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import http.server
import json
import threading
from contextlib import redirect_stdout
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from helpers import bearer_tap

from tap_generic_api.http.responses import read_json
from tap_generic_api.output import BufferedSingerWriter

#: Records on the large page, and the size of each one's JSON text.
RECORDS = 16_000
RECORD_BYTES = 500


def _page() -> tuple[bytes, list[bytes]]:
    """Return a page of about 8 MB (``{"rows": [...]}``) and each record's text."""
    rows = []
    for i in range(RECORDS):
        record = {"id": i, "name": f"item {i}", "amount": 12.5, "tags": ["a", "b"], "address": {"city": "Lyon"}}
        pad = RECORD_BYTES - len(json.dumps(record, separators=(",", ":"))) - 10
        rows.append(json.dumps({**record, "note": "x" * pad}, separators=(",", ":")).encode())
    return b'{"rows":[' + b",".join(rows) + b'],"next":"end"}', rows


@pytest.fixture
def page_server():
    """Serve a large page on 127.0.0.1: the first request gets it, any with ``offset=N`` (N > 0) or
    ``cursor`` an empty page."""
    body, rows = _page()
    empty = b'{"rows":[],"next":null}'

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            return

        def do_GET(self) -> None:  # noqa: N802
            query = parse_qs(urlsplit(self.path).query)
            first = query.get("offset", ["0"]) == ["0"] and "cursor" not in query
            data = body if first else empty
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/items", body, rows
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _sync(tap, out: Path) -> None:
    """Run the tap with its output to ``out``."""
    with out.open("w") as sink, redirect_stdout(sink):
        tap.sync_all()


def _records_written(out: Path) -> list[bytes]:
    prefix = b'{"type":"RECORD","stream":"items","record":'
    lines = [line for line in out.read_bytes().splitlines() if line.startswith(prefix)]
    return [line[len(prefix) : line.index(b',"time_extracted":')] for line in lines]


def test_a_large_page_copied_through_undecoded_goes_out_as_the_api_sent_it(page_server, tmp_path):
    """Offset pagination, no replication key: records are views into the body, checked a slice at a time."""
    url, _, rows = page_server
    tap = bearer_tap(url=url, data_path="rows", pagination={"type": "offset", "limit": RECORDS, "max_concurrency": 1})
    _sync(tap, tmp_path / "out.jsonl")
    assert _records_written(tmp_path / "out.jsonl") == rows


def test_a_large_decoded_page_goes_out_whole(page_server, tmp_path):
    """Cursor pagination reads the body, so records are decoded: the body is dropped once decoded and the
    messages are encoded in slices."""
    url, _, rows = page_server
    tap = bearer_tap(
        url=url, data_path="rows", pagination={"type": "cursor", "param": "cursor", "response_path": "next"}
    )
    _sync(tap, tmp_path / "out.jsonl")
    assert [json.loads(r) for r in _records_written(tmp_path / "out.jsonl")] == [json.loads(r) for r in rows]


def test_a_decoded_body_is_dropped_and_read_as_the_document(httpserver):
    page = b'{"rows": [{"id": 1}]}\n'
    httpserver.expect_request("/v1/items").respond_with_data(page, content_type="application/json")
    response = requests.get(httpserver.url_for("/v1/items"), timeout=10)
    assert read_json(response) == {"rows": [{"id": 1}]}
    assert response.content == b""
    assert read_json(response) == {"rows": [{"id": 1}]}


def test_records_are_encoded_in_slices_with_the_same_bytes(tmp_path, monkeypatch):
    """More records than a slice (1,000), and records large enough to shrink the slice, give the same lines."""
    small = [{"id": i} for i in range(2_500)]
    large = [{"id": i, "pad": "y" * 300_000} for i in range(12)]
    writer = BufferedSingerWriter()
    out = tmp_path / "out.jsonl"
    with out.open("w") as sink, redirect_stdout(sink):
        writer.write_records(b"<", small, b">\n")
        writer.write_records(b"<", large, b">\n")
        writer.flush()
    expected = [f"<{json.dumps(r, separators=(',', ':'))}>" for r in small + large]
    assert out.read_text().splitlines() == expected
