"""Peak RSS of the tap reading one large CSV export (default 1 GB), which it reads as it arrives.

The export is generated a row at a time into a temporary directory (never held in memory),
served by a loopback server (127.0.0.1, stopped at the end) from the file in blocks, and read by
the real ``tap-generic-api`` console script with ``response_format: csv`` and a schema typing
four of its columns; its output goes to /dev/null. Rows hold quoted fields with commas and, every
100th row, a line break. The script prints the export's size and rows, the records the tap wrote
(from its stream summary), its wall time and its peak RSS (VmHWM, polled as in ``run.py``). The
temporary directory, export included, is deleted at the end.

``--gzip`` serves the export gzip-compressed, without ``Content-Encoding`` (as storage buckets often do).

Usage: python benchmarks/large_csv.py [--mb 1000] [--gzip]
"""

from __future__ import annotations

import argparse
import gzip
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import BIN, _peak_rss_kb  # noqa: E402

MB = 1_000_000
SCHEMA = {
    "properties": {
        "id": {"type": "integer"},
        "amount": {"type": "number"},
        "quantity": {"type": ["integer", "null"]},
        "active": {"type": "boolean"},
    }
}


def write_export(path: Path, size_mb: float, compress: bool) -> tuple[int, int]:
    """Write a CSV export of about ``size_mb`` MB of text to ``path``; return (rows, bytes of CSV text)."""
    opener = gzip.open if compress else open
    written = rows = 0
    target = size_mb * MB
    with opener(path, "wb") as out:
        header = b"id,name,email,amount,quantity,active,comment,updated_at\n"
        out.write(header)
        written += len(header)
        block: list[bytes] = []
        while written < target:
            i = rows + 1
            comment = f'"line one of {i}\nline two"' if i % 100 == 0 else f'"note {i}, with a comma; {"x" * 80}"'
            row = (
                f'{i},"Customer {i}, Inc.",user{i}@example.com,{i * 1.37:.2f},{"" if i % 7 == 0 else i % 97},'
                f"{'true' if i % 3 else 'false'},{comment},2026-12-03T12:{i % 60:02d}:00Z\n"
            ).encode()
            block.append(row)
            written += len(row)
            rows += 1
            if len(block) == 10_000:
                out.write(b"".join(block))
                block.clear()
        out.write(b"".join(block))
    return rows, written


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def serve(path: Path, content_type: str) -> _Server:
    """Serve the file at ``path`` on every GET, a block at a time."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a: object) -> None:
            return

        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(path.stat().st_size))
            self.end_headers()
            with path.open("rb") as source:
                shutil.copyfileobj(source, self.wfile, 1 << 20)

    server = _Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run_tap(config_path: Path, err_path: Path) -> tuple[float, float, int]:
    """Run the tap; return (wall seconds, peak RSS MB, exit code)."""
    with err_path.open("wb") as err, open(os.devnull, "wb") as out:
        started = time.perf_counter()
        command = [str(BIN / "tap-generic-api"), "--config", str(config_path)]
        proc = subprocess.Popen(command, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        stop, peak = threading.Event(), [0]
        poller = threading.Thread(target=_peak_rss_kb, args=(proc.pid, stop, peak), daemon=True)
        poller.start()
        os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
        stop.set()
        poller.join()
        code = proc.wait()
    return time.perf_counter() - started, peak[0] * 1024 / MB, code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=1000, help="size of the CSV text in MB (10^6 bytes)")
    parser.add_argument("--gzip", action="store_true", help="serve it gzip-compressed without Content-Encoding")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="large-csv-") as tmp:
        work = Path(tmp)
        export = work / ("export.csv.gz" if args.gzip else "export.csv")
        rows, text_bytes = write_export(export, args.mb, args.gzip)
        server = serve(export, "application/octet-stream" if args.gzip else "text/csv")
        try:
            config = {
                "url": f"http://127.0.0.1:{server.server_address[1]}/export.csv",
                "response_format": "csv",
                "schema": SCHEMA,
                "destination": {"table": "export", "key_fields": ["id"]},
                "timeout": 3600,
            }
            config_path = work / "tap.json"
            config_path.write_text(json.dumps(config))
            wall, rss, code = run_tap(config_path, work / "tap.log")
            log = (work / "tap.log").read_text(errors="replace")
        finally:
            server.shutdown()
            server.server_close()
        if code != 0:
            print(log[-3000:])
            return code
        match = re.search(r"Summary for stream 'export': .*?records=(\d+)", log)
        written = int(match.group(1)) if match else -1
        served = export.stat().st_size
        print(
            f"CSV text {text_bytes / MB:,.0f} MB ({served / MB:,.0f} MB served{', gzip' if args.gzip else ''}), "
            f"{rows:,} rows; tap wrote {written:,} records in {wall:,.0f} s "
            f"({written / wall:,.0f} records/s); peak RSS {rss:,.0f} MB"
        )
        return 0 if written == rows else 1


if __name__ == "__main__":
    sys.exit(main())
