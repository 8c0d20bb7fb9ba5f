"""Peak RSS of the tap on one large page, by page size and record path.

A loopback server (127.0.0.1, stopped at the end) serves one JSON page of about ``--page-mb`` MB
of records (``{"rows": [...], "next": ...}``), then an empty page. The real ``tap-generic-api``
console script reads it with its output to /dev/null, and the script prints the tap's peak RSS
(VmHWM), the median of ``--rounds`` alternating runs, and ``k = (peak - base) / page``, where
``base`` is the peak on a page of a few records.

Paths (``--paths``):

* ``raw``: offset pagination, records copied into RECORD messages undecoded (the default fast path);
* ``decoded``: cursor pagination (the paginator reads the body, so records are decoded), written
  by the tap's page writer;
* ``mapped``: offset pagination with a stream map adding a property (records decoded, written one
  at a time by singer-sdk).

Usage: python benchmarks/large_page.py [--page-mb 50,100,200] [--paths raw,decoded,mapped] [--rounds 3]
"""

from __future__ import annotations

import argparse
import http.server
import json
import statistics
import sys
import tempfile
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import BIN, measure, write_json  # noqa: E402

MB = 1_000_000


def page_body(page_mb: float, record_bytes: int) -> tuple[bytes, int]:
    """Return one page of about ``page_mb`` MB of records and its record count."""
    records = max(1, int(page_mb * MB) // record_bytes)
    template = {
        "id": 0,
        "name": "item 0",
        "amount": 1234.56,
        "active": True,
        "tags": ["alpha", "beta"],
        "updated_at": "2026-12-03T12:00:00Z",
        "address": {"city": "Lyon", "zip": "69001"},
        "note": "",
    }
    pad = max(0, record_bytes - len(json.dumps(template)) - 2)
    rows = (
        json.dumps(
            {
                **template,
                "id": i,
                "name": f"item {i}",
                "amount": round(i * 1.37, 2),
                "note": (f"{i:08d}" * (pad // 8 + 1))[:pad],
            }
        )
        for i in range(records)
    )
    body = b'{"rows":[' + ",".join(rows).encode() + b'],"next":"end"}'
    return body, records


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def serve(body: bytes) -> _Server:
    """Serve ``body`` as the first page (no ``offset``/``cursor``, or 0), an empty page after it."""
    empty = b'{"rows":[],"next":null}'

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a: object) -> None:
            return

        def do_GET(self) -> None:  # noqa: N802
            query = parse_qs(urlsplit(self.path).query)
            first = query.get("offset", ["0"])[0] == "0" and "cursor" not in query
            data = body if first else empty
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = _Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def tap_config(url: str, path: str, records: int) -> dict:
    """Return the tap config for ``path`` (see the module docstring)."""
    config: dict = {"url": url, "data_path": "rows", "destination": {"table": "items", "key_fields": ["id"]}}
    if path == "decoded":
        config["pagination"] = {"type": "cursor", "param": "cursor", "response_path": "next"}
    else:
        config["pagination"] = {"type": "offset", "limit": records, "max_concurrency": 1}
    if path == "mapped":
        config["stream_maps"] = {"items": {"source": "'bench'"}}
    return config


def peak(url: str, path: str, records: int, work: Path, rounds: int) -> float:
    """Return the median peak RSS in MB (10^6 bytes) of ``rounds`` runs."""
    config = write_json(work, f"{path}.json", tap_config(url, path, records))
    cmd = [str(BIN / "tap-generic-api"), "--config", str(config)]
    return statistics.median(measure(cmd, records).rss_mb * 2**20 / MB for _ in range(rounds))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--page-mb", default="50,100,200", help="page sizes in MB (10^6 bytes), comma-separated")
    parser.add_argument("--paths", default="raw,decoded,mapped")
    parser.add_argument("--record-bytes", type=int, default=500, help="size of one record's JSON text")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    paths = args.paths.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        body, records = page_body(0.01, args.record_bytes)
        server = serve(body)
        try:
            url = f"http://127.0.0.1:{server.server_address[1]}/items"
            base = {path: peak(url, path, records, work, args.rounds) for path in paths}
        finally:
            server.shutdown()
            server.server_close()
        print(f"records of {args.record_bytes} bytes; base (a page of {records} records): ", end="")
        print(", ".join(f"{path} {mb:,.0f} MB" for path, mb in base.items()))
        print("| page MB | records | path | peak RSS MB | peak / page | k = (peak - base) / page |")
        print("|---:|---:|---|---:|---:|---:|")
        for size in (float(s) for s in args.page_mb.split(",")):
            body, records = page_body(size, args.record_bytes)
            page = len(body) / MB
            server = serve(body)
            try:
                url = f"http://127.0.0.1:{server.server_address[1]}/items"
                for path in paths:
                    mb = peak(url, path, records, work, args.rounds)
                    k = (mb - base[path]) / page
                    print(f"| {page:,.0f} | {records:,} | {path} | {mb:,.0f} | {mb / page:.2f} | {k:.2f} |", flush=True)
            finally:
                server.shutdown()
                server.server_close()
            del body
    return 0


if __name__ == "__main__":
    sys.exit(main())
