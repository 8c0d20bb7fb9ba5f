"""A fast local JSON API for benchmarks: pre-rendered pages of generated records.

Serves ``GET /items?offset=N&limit=L`` (offset pagination) and ``GET /items?page=P&per_page=L``
(page numbers) with body ``{"rows": [...], "next": <offset or null>}``, every page rendered
once up front so the server is not the bottleneck. ``--delay`` adds seconds to every response
(a slow API); requests are served by threads, so concurrent requests overlap.

``GET /events?created_gte=S&created_lt=E&cursor=C`` serves the same records filtered by a date
range (for date windows): record ``i`` has ``created`` = the server's start minus
``--span-days`` plus ``i`` times an even spacing (epoch seconds), in that order; pages of
``--page-size`` records, ``next`` an opaque cursor (null on the last page).

Usage: python benchmarks/fast_api.py --records 200000 --port 0 [--delay 0.1] [--span-days 20]
Prints ``READY <port> <epoch second of the first record>`` when listening on 127.0.0.1; stops
when its parent process exits.
"""

from __future__ import annotations

import argparse
import ctypes
import http.server
import json
import math
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

    def handle_error(self, request: object, client_address: object) -> None:
        """Stay quiet when a client goes away mid-response (a tap ending with requests ahead)."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds added to every response")
    parser.add_argument("--span-days", type=float, default=20.0, help="days the /events records span")
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
    spacing = args.span_days * 86400 / max(args.records, 1)
    first = int(time.time() - args.span_days * 86400 - 60)

    def created(index: int) -> int:  # record index + 1 is the record number
        return first + int(index * spacing)

    def events_page(query: dict[str, list[str]]) -> bytes:
        gte, lt = int(query["created_gte"][0]), int(query["created_lt"][0])
        # Records are in `created` order, evenly spaced: the range is found by arithmetic.
        low = min(args.records, max(0, math.ceil((gte - first) / spacing)))
        high = min(args.records, max(low, math.ceil((lt - first) / spacing) + 1))
        while low > 0 and created(low - 1) >= gte:
            low -= 1
        while low < args.records and created(low) < gte:
            low += 1
        while high > low and created(high - 1) >= lt:
            high -= 1
        start = low + int((query.get("cursor") or ["0"])[0])
        end = min(start + size, high)
        rows = [{**item(i + 1), "created": created(i)} for i in range(start, end)]
        return json.dumps({"rows": rows, "next": end - low if end < high else None}).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a: object) -> None:
            return

        def do_GET(self) -> None:  # noqa: N802
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            if url.path == "/events":
                self._send(events_page(query))
                return
            limit = int((query.get("limit") or query.get("per_page") or [size])[0])
            if limit != size:
                self.send_error(400, f"page size must be {size}")
                return
            if "page" in query:
                offset = (int(query["page"][0]) - 1) * size
            else:
                offset = int((query.get("offset") or query.get("_next") or ["0"])[0])
            self._send(pages.get(offset, empty))

        def _send(self, body: bytes) -> None:
            if args.delay:
                time.sleep(args.delay)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = Server(("127.0.0.1", args.port), Handler)
    print(f"READY {server.server_address[1]} {first}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
