"""Benchmark (not a test): one extraction split across 1, 2, 4 and 8 tasks on a slow API.

Each task is ``tap-generic-api | target-bigquery-smart`` as real processes, all loading one table
of a fresh local BigQuery emulator per run. The API (scripts/events_api.py) adds ``--delay``
seconds to every response (default 100 ms) and serves ``--records`` records over 40 days; the
tasks share a budget of ``--budget`` requests per second (50), split evenly: each task's
``rate_limit.requests_per_second`` is budget / tasks. Each task fetches up to
``--windows-at-once`` date windows at once (2), so one task alone cannot use the whole budget:
records/s rises with the task count until the budget binds.

Usage: .venv/bin/python benchmarks/partitions.py [--records N] [--only-tap] [--write]
Results go to stdout and, with --write, replace the "Partitioned runs: pipelines" (or "tap only") section of
benchmarks/RESULTS.md. Every run checks that the table holds each record exactly once.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from events_api import EventsAPI  # noqa: E402
from local_services import BigQueryEmulator  # noqa: E402

BIN = ROOT / ".venv" / "bin"
SECTIONS = {"pipeline": "## Partitioned runs: pipelines", "tap": "## Partitioned runs: tap only"}


def process_cpu(pid: int) -> float:
    """Return the CPU seconds (user + system) process ``pid`` and its waited children used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def run_tasks(tasks: int, args: argparse.Namespace, emulator: BigQueryEmulator, api: EventsAPI, work: Path) -> dict:
    """Run ``tasks`` pipelines at once into a fresh dataset; return wall seconds, requests and rows."""
    dataset = f"bench_{tasks}_{os.urandom(3).hex()}"
    tap = {
        "name": "events",
        "url": api.url,
        "data_path": "data",
        "params": {"since": "{start_date}", "until": "{end_date}"},
        "pagination": {"type": "offset", "limit": args.page_size, "max_concurrency": args.windows_at_once},
        "replication_key": "updated_at",
        "is_sorted": True,
        "start_date": "2024-01-01T00:00:00Z",
        "end_date": "2024-02-10T00:00:00Z",
        "date_window_size": 1,
        "destination": {"key_fields": ["id"]},
        "rate_limit": {"requests_per_second": args.budget / tasks},
        "partition": "auto",
    }
    target = {"project": emulator.project, "dataset": dataset, "api_endpoint": emulator.endpoint, "flatten": True}
    (work / "tap.json").write_text(json.dumps(tap))
    (work / "target.json").write_text(json.dumps({**target, "batch_size": 5000}))
    before = api.requests
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    emulator_before = process_cpu(emulator.proc.pid)
    started = time.perf_counter()
    processes = []
    for index in range(tasks):
        env = {**os.environ, "JOB_COMPLETION_INDEX": str(index), "JOB_COMPLETION_COUNT": str(tasks)}
        log = (work / f"tap-{tasks}-{index}.log").open("wb")
        tap_process = subprocess.Popen(
            [str(BIN / "tap-generic-api"), "--config", str(work / "tap.json")],
            stdout=subprocess.PIPE,
            stderr=log,
            env=env,
        )
        target_command = [str(BIN / "target-bigquery-smart"), "--config", str(work / "target.json")]
        if args.only_tap:
            target_command = ["sh", "-c", "cat > /dev/null"]
        target_process = subprocess.Popen(
            target_command,
            stdin=tap_process.stdout,
            stdout=subprocess.DEVNULL,
            stderr=(work / f"target-{tasks}-{index}.log").open("wb"),
        )
        tap_process.stdout.close()
        processes.append((tap_process, target_process))
    codes = [(tap_process.wait(), target_process.wait()) for tap_process, target_process in processes]
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (usage.ru_utime + usage.ru_stime)
    emulator_cpu = process_cpu(emulator.proc.pid) - emulator_before
    if codes != [(0, 0)] * tasks:
        msg = f"{tasks} tasks: exit codes {codes}; logs in {work}"
        raise RuntimeError(msg)
    if args.only_tap:
        return {
            "tasks": tasks,
            "wall": wall,
            "cpu": cpu,
            "emulator_cpu": 0.0,
            "requests": api.requests - before,
            "rows": None,
        }
    sql = f"SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS ids FROM `{emulator.project}.{dataset}.events`"
    row = next(iter(emulator.client().query_and_wait(sql)))
    if (row["n"], row["ids"]) != (args.records, args.records):
        msg = f"{tasks} tasks: {row['n']} rows, {row['ids']} ids, expected {args.records}"
        raise RuntimeError(msg)
    return {
        "tasks": tasks,
        "wall": wall,
        "cpu": cpu,
        "emulator_cpu": emulator_cpu,
        "requests": api.requests - before,
        "rows": row["n"],
    }


def table(results: list[dict], args: argparse.Namespace) -> str:
    """Return the results as a Markdown section."""
    section = SECTIONS["tap" if args.only_tap else "pipeline"]
    where = (
        "each task `tap-generic-api` alone, its output to /dev/null. "
        if args.only_tap
        else "each task `tap-generic-api | target-bigquery-smart` into one emulator table (each record exactly "
        "once, checked). "
    )
    lines = [
        section,
        "",
        f"`benchmarks/partitions.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {args.records:,} records over 40 days, "
        f"{args.page_size} a page, {args.delay * 1000:g} ms per response, a budget of {args.budget:g} requests/s "
        f"split across the tasks, up to {args.windows_at_once} date windows at once per task, "
        + where
        + (f"One task alone asks at most {args.windows_at_once / args.delay:g} requests/s." if args.delay else ""),
        "",
        "| tasks | requests/s per task (limit) | wall s | CPU s (all tasks) | emulator CPU s | requests | requests/s "
        "| records/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['tasks']} | {args.budget / r['tasks']:g} | {r['wall']:.1f} | {r['cpu']:.1f} | "
            f"{r['emulator_cpu']:.1f} | "
            f"{r['requests']:,} | "
            f"{r['requests'] / r['wall']:.1f} | {args.records / r['wall']:,.0f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run the scenarios and print (and with --write, store) the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--delay", type=float, default=0.1)
    parser.add_argument("--budget", type=float, default=50.0)
    parser.add_argument("--windows-at-once", type=int, default=2)
    parser.add_argument("--tasks", default="1,2,4,8")
    parser.add_argument("--only-tap", action="store_true", help="taps only, output to /dev/null")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    results = []
    folder = tempfile.mkdtemp(prefix="partitions-bench-")  # kept: the tasks' logs
    with BigQueryEmulator() as emulator, EventsAPI(args.records, days=40, delay=args.delay) as api:
        for tasks in (int(t) for t in args.tasks.split(",")):
            results.append(run_tasks(tasks, args, emulator, api, Path(folder)))
            print(results[-1], flush=True)  # noqa: T201
    section = table(results, args)
    print(section)  # noqa: T201
    if args.write:
        path = ROOT / "benchmarks" / "RESULTS.md"
        text = path.read_text()
        name = SECTIONS["tap" if args.only_tap else "pipeline"]
        if name in text:
            head, _, rest = text.partition(name)
            tail = rest[rest.find("\n## ") :] if "\n## " in rest else ""
            text = head + section + tail
        else:
            text = text.rstrip("\n") + "\n\n" + section
        path.write_text(text)


if __name__ == "__main__":
    main()
