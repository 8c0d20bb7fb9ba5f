"""A local events API for partitioned runs: ``count`` records spread evenly over ``days`` days.

``GET /events?since=<ISO>&until=<ISO>&offset=<n>&limit=<n>`` returns ``{"data": [...]}``, the
records with ``since <= updated_at < until`` in ``updated_at`` order (half-open windows: two
adjacent date windows never both return a record). Record ``i`` (0-based) has ``id`` ``i + 1``
and ``updated_at`` ``START + floor(i * days * 86400 / count)`` seconds. Records are computed, not
stored, so 100,000 of them cost nothing to serve.

Options: ``delay`` seconds before each answer (a slow API); every request is counted.
Listens on 127.0.0.1 only; a daemon thread serves it until :meth:`EventsAPI.stop`.
"""

from __future__ import annotations

import bisect
import http.server
import json
import threading
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from typing import Any

START = datetime(2024, 1, 1, tzinfo=UTC)


class EventsAPI:
    """The events API on a free loopback port (a context manager).

    Attributes:
        url: ``http://127.0.0.1:<port>/events``.
        requests: Requests answered so far.
    """

    def __init__(self, count: int, days: int = 40, delay: float = 0.0) -> None:
        self.count = count
        self.seconds = days * 86400
        self.delay = delay
        self.requests = 0
        self._lock = threading.Lock()
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without TCP_NODELAY, Nagle and delayed ACKs
            # add about 40 ms to each answer.
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                status, body = api.answer(self.path)
                if api.delay:
                    time.sleep(api.delay)  # the slow API this server stands for
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/events"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def second_of(self, i: int) -> int:
        """Return record ``i``'s ``updated_at`` in seconds after :data:`START`."""
        return i * self.seconds // self.count

    def record(self, i: int) -> dict[str, Any]:
        """Return record ``i`` (0-based)."""
        moment = START + timedelta(seconds=self.second_of(i))
        return {"id": i + 1, "updated_at": moment.strftime("%Y-%m-%dT%H:%M:%SZ"), "name": f"event {i + 1}"}

    def _index(self, value: str | None, default: int) -> int:
        if not value:
            return default
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        second = (moment - START).total_seconds()
        return bisect.bisect_left(range(self.count), second, key=self.second_of)

    def answer(self, path: str) -> tuple[int, dict]:
        """Return the status and body for a request path."""
        with self._lock:
            self.requests += 1
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(path).query))
        lo = self._index(query.get("since"), 0)
        hi = self._index(query.get("until"), self.count)
        offset = int(query.get("offset", 0))
        limit = int(query.get("limit", 1000))
        first = lo + offset
        return 200, {"data": [self.record(i) for i in range(first, min(hi, first + limit))]}

    def start(self) -> EventsAPI:
        """Start serving."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> EventsAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
