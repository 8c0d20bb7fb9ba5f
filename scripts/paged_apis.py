"""Local list APIs on 127.0.0.1, one per pagination style, serving ``local_services.item(1..count)``.

Paths (each requires ``Authorization: Bearer <token>`` when a token is set):

* ``/offset/items?offset=&limit=``: ``{"items": [...], "total", "offset", "limit", "max_limit"}``,
  with ``RateLimit-Policy: 600;w=60``;
* ``/page/items?page=&per_page=``: ``{"data": [...], "meta": {"page", "per_page", "total_pages", "total"}}``;
* ``/has_more/items?starting_after=&limit=``: ``{"object": "list", "data": [...], "has_more"}`` (Stripe's form);
* ``/cursor/items?cursor=&limit=``: ``{"results": [...], "meta": {"next_cursor"}}``, an opaque cursor;
* ``/link/items?page=&per_page=``: the records as the body, an RFC 8288 ``Link`` header to the next page;
* ``/token/items?_next=``: ``{"rows": [...], "next": <token or null>, "next_url": <URL or null>}``
  (Datasette's body, without its ``Link`` header);
* ``/next_url/items?page=``: ``{"count", "next": <URL or null>, "results": [...]}`` (Django REST framework's form);
* ``/owners/{owner_id}/items``: the records whose ``quantity % 3 + 1`` is the owner (one page);
* ``/orders?page=&per_page=``: ``{"orders": [...], "meta": {"page", "total_pages"}}``, :data:`ORDERS` orders
  (:func:`order`), at most :data:`MAX_ORDERS_PER_PAGE` a page;
* ``/orders/{order_id}/lines?offset=&limit=``: ``{"lines": [...], "total"}``, the order's lines
  (:func:`order_lines`, ids 1.. within each order), at most :data:`MAX_LINES_PER_PAGE` a page.

Used by the probe and OpenAPI tests; :data:`OPENAPI_SPEC` describes them.
"""

from __future__ import annotations

import base64
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

if __package__ in (None, ""):  # run as a script: local_services is beside it
    sys.path.insert(0, str(Path(__file__).resolve().parent))
from local_services import HOST, item  # noqa: E402

DEFAULT_LIMIT = 10
MAX_LIMIT = 50
#: Orders served by ``/orders``, and the page sizes of orders and of each order's lines.
ORDERS = 7
MAX_ORDERS_PER_PAGE = 5
MAX_LINES_PER_PAGE = 2


def order(number: int) -> dict[str, Any]:
    """Return order ``number`` (1-based) as ``/orders`` serves it."""
    return {"id": number, "reference": f"SO-{1000 + number}", "customer": f"customer {number % 3}"}


def order_lines(number: int) -> list[dict[str, Any]]:
    """Return the lines of order ``number``: ``number % 4 + 1`` of them, ids ``1..`` repeating across orders."""
    return [
        {"id": line, "sku": f"SKU-{number}-{line}", "quantity": line * number, "price": round(1.5 * line, 2)}
        for line in range(1, number % 4 + 2)
    ]


class PagedAPIs:
    """The servers' state and thread; a context manager that stops them.

    Args:
        count: Records served by every style.
        token: Bearer token required, or "" for none.
        port: Port to listen on (0: any free one).

    Attributes:
        base_url: ``http://127.0.0.1:<port>``.
        requests: ``(path, query)`` of every request answered, in order.
    """

    def __init__(self, count: int, token: str = "", port: int = 0) -> None:
        self.count = count
        self.token = token
        self.requests: list[tuple[str, dict[str, str]]] = []
        apis = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                apis.handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((HOST, port), Handler)
        self.base_url = f"http://{HOST}:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> PagedAPIs:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def records(self, start: int, size: int) -> list[dict[str, Any]]:
        """Return records ``start+1 .. start+size`` (0-based start), within ``count``."""
        return [item(i) for i in range(start + 1, min(self.count, start + size) + 1)]

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        """Answer one GET."""
        parts = urlsplit(request.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.requests.append((parts.path, query))
        if self.token and request.headers.get("Authorization") != f"Bearer {self.token}":
            self._reply(request, 401, {"error": "unauthorized"})
            return
        style = parts.path.strip("/").split("/")[0]
        try:
            handler = getattr(self, f"_{style}")
            status, body, headers = handler(parts.path, query)
        except (AttributeError, ValueError) as exc:
            status, body, headers = 400, {"error": str(exc)}, {}
        self._reply(request, status, body, headers)

    @staticmethod
    def _limit(query: dict[str, str], name: str) -> int:
        return min(MAX_LIMIT, int(query.get(name, DEFAULT_LIMIT)))

    def _offset(self, path: str, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        offset, limit = int(query.get("offset", 0)), self._limit(query, "limit")
        body = {"items": self.records(offset, limit), "total": self.count, "offset": offset, "limit": limit}
        return 200, body | {"max_limit": MAX_LIMIT}, {"RateLimit-Policy": "600;w=60"}

    def _page(self, path: str, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        page, size = int(query.get("page", 1)), self._limit(query, "per_page")
        pages = -(-self.count // size)
        meta = {"page": page, "per_page": size, "total_pages": pages, "total": self.count}
        return 200, {"data": self.records((page - 1) * size, size), "meta": meta}, {}

    def _has_more(self, path: str, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        after, limit = int(query.get("starting_after", 0)), self._limit(query, "limit")
        records = self.records(after, limit)
        more = bool(records) and records[-1]["id"] < self.count
        return 200, {"object": "list", "data": records, "has_more": more}, {}

    def _cursor(self, path: str, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        cursor = query.get("cursor")
        start = int(base64.urlsafe_b64decode(cursor).decode().split(":")[1]) if cursor else 0
        records = self.records(start, self._limit(query, "limit"))
        end = start + len(records)
        token = base64.urlsafe_b64encode(f"after:{end}".encode()).decode() if end < self.count else None
        return 200, {"results": records, "meta": {"next_cursor": token}}, {}

    def _link(self, path: str, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        page, size = int(query.get("page", 1)), self._limit(query, "per_page")
        records = self.records((page - 1) * size, size)
        headers = {}
        if page * size < self.count:
            headers["Link"] = f'<{self.base_url}/link/items?page={page + 1}&per_page={size}>; rel="next"'
        return 200, records, headers

    def _next_url(self, path: str, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        page = int(query.get("page", 1))
        records = self.records((page - 1) * DEFAULT_LIMIT, DEFAULT_LIMIT)
        following = f"{self.base_url}/next_url/items?page={page + 1}" if page * DEFAULT_LIMIT < self.count else None
        return 200, {"count": self.count, "next": following, "results": records}, {}

    def _token(self, path: str, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        start = int(query.get("_next", 0))
        records = self.records(start, DEFAULT_LIMIT)
        end = start + len(records)
        token = str(end) if end < self.count else None
        next_url = f"{self.base_url}/token/items?_next={token}" if token else None
        return 200, {"rows": records, "next": token, "next_url": next_url}, {}

    def _owners(self, path: str, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        owner = int(path.strip("/").split("/")[1])
        records = [item(i) for i in range(1, self.count + 1) if item(i)["quantity"] % 3 + 1 == owner]
        return 200, {"items": records}, {}

    def _orders(self, path: str, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        segments = path.strip("/").split("/")
        if len(segments) == 1:
            page, size = int(query.get("page", 1)), min(MAX_ORDERS_PER_PAGE, int(query.get("per_page", 1)))
            numbers = range((page - 1) * size + 1, min(ORDERS, page * size) + 1)
            meta = {"page": page, "total_pages": -(-ORDERS // size)}
            return 200, {"orders": [order(n) for n in numbers], "meta": meta}, {}
        number = int(segments[1])
        if len(segments) != 3 or segments[2] != "lines" or not 1 <= number <= ORDERS:  # noqa: PLR2004
            return 404, {"error": f"no such order: {path}"}, {}
        offset, limit = int(query.get("offset", 0)), min(MAX_LINES_PER_PAGE, int(query.get("limit", 1)))
        lines = order_lines(number)
        return 200, {"lines": lines[offset : offset + limit], "total": len(lines)}, {}

    @staticmethod
    def _reply(request: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            request.send_header(name, value)
        request.end_headers()
        request.wfile.write(payload)


def main() -> None:
    """Serve the APIs until Ctrl-C: ``python scripts/paged_apis.py [--port 8000] [--token T] [--count 95]``."""
    import argparse
    import time

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--token", default="", help="bearer token required (default: none)")
    parser.add_argument("--count", type=int, default=95)
    args = parser.parse_args()
    apis = PagedAPIs(args.count, token=args.token, port=args.port)
    with apis:
        print(f"serving {args.count} items per style at {apis.base_url}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
