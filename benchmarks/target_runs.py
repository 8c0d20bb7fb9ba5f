"""Helpers for the write-method benchmarks: a generated Singer file, and one measured target run.

A run loads the file into a fresh local BigQuery emulator (its REST and gRPC ports), checks
the row count, and returns the target's wall seconds, CPU seconds (user + system of the
process), peak RSS (VmHWM, polled from /proc), and the emulator's own CPU seconds during the
run (from /proc/<pid>/stat), so a run bound by the emulator can be told from one bound by the
target.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from run import _peak_rss_kb  # the benchmark folder's one peak-RSS sampler

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from local_services import BigQueryEmulator, item  # noqa: E402

BIN = Path(sys.executable).parent
TICKS = os.sysconf("SC_CLK_TCK")
SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "email": {"type": "string"},
        "amount": {"type": "number"},
        "quantity": {"type": "integer"},
        "active": {"type": "boolean"},
        "category": {"type": "string"},
        "note": {"type": ["string", "null"]},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
    },
}


@dataclass
class Run:
    """One measured target run.

    Attributes:
        wall: Seconds from start to exit.
        cpu: User + system CPU seconds of the target process.
        rss_mb: Peak RSS (VmHWM) of the target process, MiB.
        emulator_cpu: CPU seconds the emulator used during the run.
        records: Records in the input.
        stderr: The target's stderr (its summary line says which paths it took).
    """

    wall: float
    cpu: float
    rss_mb: float
    emulator_cpu: float
    records: int
    stderr: str

    @property
    def rate(self) -> float:
        """Records per wall second."""
        return self.records / self.wall if self.wall else 0.0


def singer_file(path: Path, records: int, state_every: int = 1000) -> Path:
    """Write SCHEMA, ``records`` RECORDs of ten fields (``local_services.item``), a STATE every ``state_every``.

    Kept when it exists already (same name, same content).
    """
    if path.exists():
        return path
    partial = path.with_suffix(".partial")
    with partial.open("w") as out:
        out.write(json.dumps({"type": "SCHEMA", "stream": "items", "schema": SCHEMA, "key_properties": ["id"]}) + "\n")
        lines = []
        for i in range(1, records + 1):
            lines.append(json.dumps({"type": "RECORD", "stream": "items", "record": item(i)}))
            if i % state_every == 0:
                lines.append(json.dumps({"type": "STATE", "value": {"bookmarks": {"items": {"id": i}}}}))
            if len(lines) >= 10_000:
                out.write("\n".join(lines) + "\n")
                lines = []
        if lines:
            out.write("\n".join(lines) + "\n")
    partial.rename(path)
    return path


def process_cpu(pid: int) -> float:
    """Return user + system CPU seconds of a live process (all its threads), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def run_target(
    config: dict[str, Any], messages: Path, records: int, *, check_rows: bool = True, inspect: Any = None
) -> Run:
    """Load ``messages`` with ``target-bigquery-smart`` and ``config`` into a fresh emulator; check the row count.

    ``config`` gets the emulator's ``api_endpoint`` and ``storage_api_endpoint``, project
    ``local`` and dataset ``bench`` (a key given as None is left out). ``inspect``, when given,
    is called with the emulator after the run (before it stops).

    Raises:
        RuntimeError: The target failed, or the table does not hold ``records`` rows.
    """
    with BigQueryEmulator() as bq, tempfile.TemporaryDirectory() as tmp:
        full = {
            "project": "local",
            "dataset": "bench",
            "api_endpoint": bq.endpoint,
            "storage_api_endpoint": bq.storage_endpoint,
            **config,
        }
        full = {key: value for key, value in full.items() if value is not None}  # None: leave the key out
        path = Path(tmp) / "target.json"
        path.write_text(json.dumps(full))
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        emulator_before = process_cpu(bq.proc.pid)
        with messages.open("rb") as stdin, tempfile.TemporaryFile() as err, open(os.devnull, "wb") as out:
            started = time.perf_counter()
            proc = subprocess.Popen(
                [str(BIN / "target-bigquery-smart"), "--config", str(path)], stdin=stdin, stdout=out, stderr=err
            )
            stop, peak = threading.Event(), [0]
            poller = threading.Thread(target=_peak_rss_kb, args=(proc.pid, stop, peak), daemon=True)
            poller.start()
            # Peek at the exit without reaping, so /proc/<pid> stays readable until the end.
            os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
            stop.set()
            poller.join()
            _, status, _ = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - started
            emulator_cpu = process_cpu(bq.proc.pid) - emulator_before
            err.seek(0)
            stderr = err.read().decode(errors="replace")
        if os.waitstatus_to_exitcode(status) != 0:
            msg = f"target failed: {stderr[-3000:]}"
            raise RuntimeError(msg)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        if check_rows:
            ident = "id" if full.get("flatten") else "JSON_VALUE(raw_data, '$.id')"
            query = f"SELECT COUNT(*) AS n, COUNT(DISTINCT {ident}) AS ids FROM `local.bench.items`"
            counted = next(iter(bq.client().query_and_wait(query)))
            if counted["n"] != records or counted["ids"] != records:
                msg = f"table holds {counted['n']} rows ({counted['ids']} ids), expected {records}"
                raise RuntimeError(msg)
        if inspect is not None:
            inspect(bq)
    return Run(wall=wall, cpu=cpu, rss_mb=peak[0] / 1024, emulator_cpu=emulator_cpu, records=records, stderr=stderr)


def summary_line(stderr: str) -> str:
    """Return the target's end-of-run summary of stream ``items`` (the line naming its counts)."""
    lines = [line for line in stderr.splitlines() if "load_jobs=" in line or "storage_appends=" in line]
    return lines[-1].strip() if lines else ""
