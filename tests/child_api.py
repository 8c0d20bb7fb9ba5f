"""A loopback API of posts and their comments for the child-stream tests, recording every request.

``GET /posts?page=N&limit=L[&updated_since=T]``: posts 1..``parents`` (``updated_at`` per post).
``GET /posts/<id>/comments?page=N&limit=L[&since=K]``: the post's comments ``k`` = 0..count-1
with ``k >= since``, oldest first. It counts the comment sequences open at once (from a post's
first page request to the answer of its last page), and can hold the first ``hold`` first-page
requests until that many are waiting together, which proves they were in flight at once
without any timing.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

_COMMENTS = re.compile(r"^/posts/(\d+)/comments$")


class ChildAPI:
    """The server's data and what it saw. Start with :meth:`start`, stop with :meth:`stop`.

    Args:
        counts: Comments per post id (posts are the keys, in order).
        hold: First-page comment requests held until this many wait together (0: none held).
    """

    def __init__(self, counts: dict[int, int], hold: int = 0) -> None:
        self.counts = dict(counts)
        self.updated_at = dict.fromkeys(counts, 1)
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.open: set[int] = set()
        self.most_open = 0
        self._lock = threading.Lock()
        self._barrier = threading.Barrier(hold, timeout=60) if hold else None
        self._held = 0
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        """The server's base URL."""
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def comments(self, post: int, since: int = 0) -> list[dict]:
        """Return the comments of ``post`` from ``since`` on, as served."""
        return [{"id": f"{post}-{k}", "post_id": post, "k": k} for k in range(since, self.counts[post])]

    def start(self) -> ChildAPI:
        """Listen on 127.0.0.1 (a free port) in a daemon thread."""
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                status, body = api.answer(parts.path, query)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, object]:
        """Return the status and body for one request (recorded first)."""
        with self._lock:
            self.requests.append((path, query))
        page, limit = int(query.get("page", 1)), int(query.get("limit", 100))
        if path == "/posts":
            since = int(query.get("updated_since", 0))
            posts = [{"id": p, "updated_at": u} for p, u in self.updated_at.items() if u >= since]
            return 200, posts[(page - 1) * limit : page * limit]
        match = _COMMENTS.match(path)
        if not match:
            return 404, {"error": "no such path"}
        post = int(match.group(1))
        if page == 1:
            self._first_page(post)
        rows = self.comments(post, int(query.get("since", 0)))[(page - 1) * limit : page * limit]
        if len(rows) < limit:
            with self._lock:
                self.open.discard(post)
        return 200, {"comments": rows}

    def _first_page(self, post: int) -> None:
        with self._lock:
            self.open.add(post)
            self.most_open = max(self.most_open, len(self.open))
            hold = self._barrier is not None and self._held < self._barrier.parties
            self._held += 1
        if hold:
            self._barrier.wait()  # raises BrokenBarrierError (a 500 answer) if they never meet
