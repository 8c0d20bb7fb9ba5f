"""A fast local JSON API for benchmarks: pre-rendered pages of generated records.

Serves ``GET /items?offset=N&limit=L`` (offset pagination) and ``GET /items?page=P&per_page=L``
(page numbers) with body ``{"rows": [...], "next": <offset or null>}``, every page rendered
once up front so the server is not the bottleneck. ``--delay`` adds seconds to every response
(a slow API); requests are served by threads, so concurrent requests overlap.

Usage: python benchmarks/fast_api.py --records 200000 --port 0 [--delay 0.1]
Prints ``READY <port>`` when listening on 127.0.0.1; stops when its parent process exits.
"""

from __future__ import annotations

import argparse
import ctypes
import http.server
import json
import signal
import socketserver
import sys
import time
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/scripts")
from local_services import item  # noqa: E402


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 128


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds added to every response")
    args = parser.parse_args()

    # Die with the parent (PR_SET_PDEATHSIG), so a benchmark never leaves a server behind.
    ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)

    size = args.page_size
    pages: dict[int, bytes] = {}
    for start in range(0, args.records + 1, size):
        rows = [item(i) for i in range(start + 1, min(start + size, args.records) + 1)]
        nxt = start + size if start + size < args.records else None
        pages[start] = json.dumps({"rows": rows, "next": nxt}).encode()
    empty = json.dumps({"rows": [], "next": None}).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a: object) -> None:
            return

        def do_GET(self) -> None:  # noqa: N802
            query = parse_qs(urlsplit(self.path).query)
            limit = int((query.get("limit") or query.get("per_page") or [size])[0])
            if limit != size:
                self.send_error(400, f"page size must be {size}")
                return
            if "page" in query:
                offset = (int(query["page"][0]) - 1) * size
            else:
                offset = int((query.get("offset") or query.get("_next") or ["0"])[0])
            body = pages.get(offset, empty)
            if args.delay:
                time.sleep(args.delay)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = Server(("127.0.0.1", args.port), Handler)
    print(f"READY {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
