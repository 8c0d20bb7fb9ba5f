"""Local services for the demo, the tests and the benchmarks, all on 127.0.0.1.

* :class:`BigQueryEmulator`: the ``local-bigquery`` emulator installed by
  ``scripts/install_emulator.sh`` into ``.emulator/venv``.
* :class:`DatasetteAPI`: Datasette serving a generated SQLite table of ``items``, with
  ``datasette-auth-tokens`` for bearer and query-token auth. It offers a body cursor
  (``next`` / ``_next``), a body next URL (``next_url``), an RFC 8288 ``Link`` header, and
  offset/limit through the canned query ``items_page``.

Every server is a child process that receives SIGTERM when its parent dies (Linux
``PR_SET_PDEATHSIG``), and is stopped by the context manager's exit: none outlives its user.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EMULATOR_VENV = Path(os.environ.get("LBQ_VENV", ROOT / ".emulator" / "venv"))
EMULATOR_HOME = Path(os.environ.get("LBQ_HOME", ROOT / ".emulator" / "home"))
HOST = "127.0.0.1"

#: Bearer / query token accepted by the local Datasette.
DATASETTE_TOKEN = "local-demo-token"
#: Query parameter carrying the token for query auth.
DATASETTE_TOKEN_PARAM = "_auth_token"


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            msg = f"server exited with {proc.returncode} before it was ready; log:\n{log.read_text()[-3000:]}"
            raise RuntimeError(msg)
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback only
                return
        except urllib.error.HTTPError:
            return  # it answers: ready
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    msg = f"server not ready at {url} after {timeout} s; log:\n{log.read_text()[-3000:]}"
    raise RuntimeError(msg)


class _Server:
    """A child-process server with a log file; use as a context manager."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = free_port()
        self._tmp = tempfile.TemporaryDirectory(prefix=f"{type(self).__name__.lower()}-")
        self.workdir = Path(self._tmp.name)
        self.log_path = self.workdir / "server.log"

    def _spawn(self, cmd: list[str], ready_url: str, env: dict[str, str] | None = None, timeout: float = 60.0) -> None:
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - needed for PDEATHSIG
        )
        _wait_ready(ready_url, self.proc, timeout, self.log_path)

    def stop(self) -> None:
        """Stop the server and remove its files."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        with contextlib.suppress(OSError):
            self._tmp.cleanup()

    def __enter__(self) -> _Server:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


class BigQueryEmulator(_Server):
    """The local BigQuery emulator on a free port, with an empty data directory.

    Attributes:
        endpoint: ``http://127.0.0.1:<port>``, for ``client_options={"api_endpoint": ...}``.
        storage_endpoint: ``127.0.0.1:<grpc_port>``, the target's ``storage_api_endpoint``.
    """

    project = "local"

    def __init__(self, port: int | None = None, grpc_port: int | None = None) -> None:
        super().__init__()
        if port:
            self.port = port
        self.grpc_port = grpc_port or free_port()
        self.endpoint = f"http://{HOST}:{self.port}"
        #: ``host:port`` of the Storage Write API (plaintext gRPC), for ``storage_api_endpoint``.
        self.storage_endpoint = f"{HOST}:{self.grpc_port}"

    def start(self) -> None:
        """Start the emulator and wait until it answers (up to 60 s)."""
        exe = EMULATOR_VENV / "bin" / "local-bigquery"
        if not exe.exists():
            msg = f"{exe} not found: run scripts/install_emulator.sh first"
            raise RuntimeError(msg)
        data_dir = self.workdir / "data"
        data_dir.mkdir()
        self._spawn(
            [
                str(exe),
                "serve",
                "--host",
                HOST,
                "--port",
                str(self.port),
                "--grpc-port",
                str(self.grpc_port),
                "--data-dir",
                str(data_dir),
            ],
            ready_url=f"{self.endpoint}/bigquery/v2/projects/{self.project}/datasets",
            env={"HOME": str(EMULATOR_HOME)},
        )

    def client(self) -> Any:
        """Return a real ``google.cloud.bigquery.Client`` pointed at the emulator."""
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import bigquery

        return bigquery.Client(
            project=self.project,
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": self.endpoint},
        )


def item(i: int) -> dict[str, Any]:
    """Return generated record number ``i`` (1-based): ten fields of mixed types."""
    return {
        "id": i,
        "name": f"Item {i}",
        "email": f"user{i}@example.com",
        "amount": round(i * 1.25, 2),
        "quantity": i % 97,
        "active": i % 3 != 0,
        "category": ("alpha", "beta", "gamma", "delta")[i % 4],
        "note": None if i % 5 == 0 else f"note {i}",
        "created_at": f"2026-01-{1 + i % 28:02d}T{i % 24:02d}:00:00Z",
        "updated_at": f"2026-02-{1 + i % 28:02d}T{i % 24:02d}:30:00Z",
    }


def write_items_db(path: Path, count: int) -> None:
    """Write a SQLite database with table ``items`` holding ``item(1..count)``."""
    con = sqlite3.connect(path)
    con.execute(
        "create table items (id integer primary key, name text, email text, amount real, "
        "quantity integer, active integer, category text, note text, created_at text, "
        "updated_at text)"
    )
    columns = list(item(1))
    con.executemany(
        f"insert into items values ({', '.join('?' for _ in columns)})",
        ([item(i)[c] for c in columns] for i in range(1, count + 1)),
    )
    con.commit()
    con.close()


def served_item(i: int) -> dict[str, Any]:
    """Return record ``i`` as Datasette serves it (SQLite has no booleans: 0/1)."""
    record = item(i)
    record["active"] = int(record["active"])
    return record


class DatasetteAPI(_Server):
    """Datasette serving ``count`` generated items under ``/items/items.json``.

    Attributes:
        base_url: ``http://127.0.0.1:<port>``.
        count: Records served.
    """

    database = "items"

    def __init__(self, count: int, port: int | None = None) -> None:
        super().__init__()
        if port:
            self.port = port
        self.count = count
        self.base_url = f"http://{HOST}:{self.port}"

    def start(self) -> None:
        """Generate the database and start Datasette (page size up to 1,000 rows)."""
        db = self.workdir / f"{self.database}.db"
        write_items_db(db, self.count)
        metadata = {
            "databases": {
                self.database: {
                    "allow": {"id": "pipeline"},
                    "queries": {"items_page": {"sql": "select * from items order by id limit :limit offset :offset"}},
                }
            },
            "plugins": {
                "datasette-auth-tokens": {
                    "tokens": [{"token": DATASETTE_TOKEN, "actor": {"id": "pipeline"}}],
                    "param": DATASETTE_TOKEN_PARAM,
                }
            },
        }
        meta_path = self.workdir / "metadata.json"
        meta_path.write_text(json.dumps(metadata))
        exe = Path(sys.executable).parent / "datasette"
        self._spawn(
            [
                str(exe),
                "serve",
                str(db),
                "-m",
                str(meta_path),
                "-h",
                HOST,
                "-p",
                str(self.port),
                "--setting",
                "max_returned_rows",
                "1000",
                "--setting",
                "default_page_size",
                "1000",
                "--setting",
                "suggest_facets",
                "off",
                "--setting",
                "sql_time_limit_ms",
                "10000",
            ],
            ready_url=f"{self.base_url}/-/versions.json",
        )

    def add_items(self, count: int) -> None:
        """Append ``count`` more generated items to the served table (Datasette sees them at once)."""
        con = sqlite3.connect(self.workdir / f"{self.database}.db")
        columns = list(item(1))
        start = con.execute("select coalesce(max(id), 0) from items").fetchone()[0] + 1
        con.executemany(
            f"insert into items values ({', '.join('?' for _ in columns)})",
            ([item(i)[c] for c in columns] for i in range(start, start + count)),
        )
        con.commit()
        con.close()
        self.count += count

    @property
    def table_url(self) -> str:
        """JSON URL of the items table."""
        return f"{self.base_url}/{self.database}/items.json"

    @property
    def query_url(self) -> str:
        """JSON URL of the ``items_page`` canned query (params ``limit`` and ``offset``)."""
        return f"{self.base_url}/{self.database}/items_page.json"


class DatasetteBlog(_Server):
    """Datasette serving two related tables, ``posts`` and ``comments`` (``post_id``), without auth.

    Post ``p`` (1..``posts``) has :meth:`comment_count` comments, filtered by
    ``/blog/comments.json?post_id=<p>`` (Datasette's column filters), for child streams.

    Attributes:
        base_url: ``http://127.0.0.1:<port>``.
        posts: Posts served.
    """

    def __init__(self, posts: int) -> None:
        super().__init__()
        self.posts = posts
        self.base_url = f"http://{HOST}:{self.port}"

    @staticmethod
    def comment_count(post: int) -> int:
        """Return the comments of post ``post``: 0 to 22, spread."""
        return (post * 7) % 23

    def comments(self) -> list[dict[str, Any]]:
        """Return every comment as served, in id order."""
        rows, number = [], 0
        for post in range(1, self.posts + 1):
            for k in range(self.comment_count(post)):
                number += 1
                rows.append({"id": number, "post_id": post, "body": f"comment {k} of post {post}"})
        return rows

    def start(self) -> None:
        """Write the database and start Datasette."""
        db = self.workdir / "blog.db"
        con = sqlite3.connect(db)
        con.execute("create table posts (id integer primary key, title text)")
        con.execute("create table comments (id integer primary key, post_id integer references posts(id), body text)")
        con.executemany("insert into posts values (?, ?)", ((p, f"post {p}") for p in range(1, self.posts + 1)))
        con.executemany("insert into comments values (:id, :post_id, :body)", self.comments())
        con.commit()
        con.close()
        exe = Path(sys.executable).parent / "datasette"
        settings = ["--setting", "suggest_facets", "off", "--setting", "default_page_size", "10"]
        self._spawn(
            [str(exe), "serve", str(db), "-h", HOST, "-p", str(self.port), *settings],
            ready_url=f"{self.base_url}/-/versions.json",
        )


class KMSDouble:
    """A local HTTP double of Cloud KMS's REST ``:encrypt`` and ``:decrypt`` methods.

    No KMS emulator exists. This answers the two calls the project makes, in the REST API's
    shapes (``POST /v1/{cryptoKey name}:encrypt`` with ``{"plaintext": base64}``, and
    ``:decrypt`` with ``{"ciphertext": base64}``), so the real ``google-cloud-kms`` client
    with REST transport and ``api_endpoint`` can be tested. Ciphertext is the plaintext XORed
    with a stream derived from the key name, prefixed with a marker: decrypting with another
    key fails, as it would in KMS. ``fail_with`` makes every call answer that HTTP status.

    Attributes:
        endpoint: ``http://127.0.0.1:<port>``.
        calls: ``(method, key name)`` of each call received.
    """

    MARKER = b"kmsdouble1:"

    def __init__(self) -> None:
        import http.server

        self.calls: list[tuple[str, str]] = []
        self.fail_with: int | None = None
        double = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                double._handle(self)

        self._server = http.server.ThreadingHTTPServer((HOST, 0), Handler)
        self.endpoint = f"http://{HOST}:{self._server.server_address[1]}"
        self._thread: Any = None

    @staticmethod
    def _stream(key: str, length: int) -> bytes:
        import hashlib

        out = b""
        counter = 0
        while len(out) < length:
            out += hashlib.sha256(f"{key}:{counter}".encode()).digest()
            counter += 1
        return out[:length]

    @staticmethod
    def _key_tag(key: str) -> bytes:
        import hashlib

        return hashlib.sha256(key.encode()).digest()[:8]

    def encrypt(self, key: str, plaintext: bytes) -> bytes:
        """Return the ciphertext the double produces for ``plaintext`` under ``key``."""
        data = bytes(a ^ b for a, b in zip(plaintext, self._stream(key, len(plaintext)), strict=True))
        return self.MARKER + self._key_tag(key) + data

    def _handle(self, request: Any) -> None:
        import base64

        path = request.path.split("?")[0]
        name, _, method = path.removeprefix("/v1/").rpartition(":")
        body = json.loads(request.rfile.read(int(request.headers.get("Content-Length") or 0)) or b"{}")
        self.calls.append((method, name))
        if self.fail_with:
            self._reply(request, self.fail_with, {"error": {"code": self.fail_with, "message": "KMS double failure"}})
            return
        if method == "encrypt":
            plaintext = base64.b64decode(body.get("plaintext", ""))
            ciphertext = self.encrypt(name, plaintext)
            self._reply(request, 200, {"name": name, "ciphertext": base64.b64encode(ciphertext).decode()})
        elif method == "decrypt":
            ciphertext = base64.b64decode(body.get("ciphertext", ""))
            if not ciphertext.startswith(self.MARKER + self._key_tag(name)):
                message = "Decryption failed: the ciphertext is invalid."
                self._reply(request, 400, {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}})
                return
            data = ciphertext[len(self.MARKER) + 8 :]
            plaintext = bytes(a ^ b for a, b in zip(data, self._stream(name, len(data)), strict=True))
            self._reply(request, 200, {"plaintext": base64.b64encode(plaintext).decode()})
        else:
            self._reply(request, 404, {"error": {"code": 404, "message": f"unknown method {method}"}})

    @staticmethod
    def _reply(request: Any, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def __enter__(self) -> KMSDouble:
        import threading

        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


_SHARED: dict[str, Any] = {}


def shared_emulator() -> BigQueryEmulator:
    """Return one emulator for the whole process, started on first use, stopped at exit.

    Test modules that need an endpoint when they are imported (the SDK's standard suites take
    their config at class creation) share it with the session fixture.
    """
    if "bigquery" not in _SHARED:
        import atexit

        emulator = BigQueryEmulator()
        emulator.start()
        atexit.register(emulator.stop)
        _SHARED["bigquery"] = emulator
    return _SHARED["bigquery"]


def shared_datasette(count: int = 1000) -> DatasetteAPI:
    """Return one Datasette of ``count`` items for the whole process, stopped at exit."""
    key = f"datasette-{count}"
    if key not in _SHARED:
        import atexit

        api = DatasetteAPI(count)
        api.start()
        atexit.register(api.stop)
        _SHARED[key] = api
    return _SHARED[key]
