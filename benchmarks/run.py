"""Side-by-side benchmarks: our tap and target against the plugins users would pick instead.

One command (``benchmarks/run.sh``) sets everything up and prints, for each scenario, the
median of ``--rounds`` alternating runs: wall seconds, CPU seconds (user + system, the
process and everything it waited for), peak RSS of the main process, and records per second.

Scenarios (all servers on 127.0.0.1, stopped at the end):

* tap, fast API: ``benchmarks/fast_api.py`` serving pre-rendered 1,000-record pages (so the
  server is not the bottleneck); ours, ``tap-rest-api-msdk``, a bare requests+orjson loop,
  output to /dev/null, and dlt's REST API source (``benchmarks/dlt_rest_api.py``): extract only,
  and a full run into its embedded DuckDB;
* tap, slow API: the same data with ``--slow-delay`` seconds added to every response and
  50 requests/s allowed; ours and ``tap-rest-api-msdk``;
* tap, date windows: the same slow API's ``/events`` (records spread over 20 days, cursor
  pagination, which cannot be fetched ahead): ours one cursor sequence after another, and ours
  with ``date_window_size`` 1 (20 windows, up to 8 at once);
* target: a Singer file of the same records loaded into a fresh local BigQuery emulator per
  run (row count checked after each): ours (raw layout; validation off, its default there, and
  on), ours with ``write_method: storage_write`` (skipped, with the target's reason, where the
  target refuses the setting), ``z3-target-bigquery`` (``batch_job``, and ``storage_write_api``
  on the emulator's gRPC port), a bare client (one load job per 1,000 rows; and again sending
  each job as ours does), and ours with the loader replaced by a no-op;
* memory: our tap and target at each of ``--memory-sizes`` records.

Results go to stdout and, with ``--write``, to ``benchmarks/RESULTS.md``, ``benchmarks/results.json``
and the chart ``benchmarks/chart.png`` (records/s and CPU seconds per tool, drawn by
``benchmarks/chart.py`` with matplotlib from ``.bench/matplotlib``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from local_services import BigQueryEmulator  # noqa: E402

BIN = Path(sys.executable).parent
BENCH = ROOT / ".bench"
MSDK = BENCH / "tap-rest-api-msdk" / "bin" / "tap-rest-api-msdk"
Z3_PYTHON = BENCH / "z3-target-bigquery" / "bin" / "python"
#: z3 0.7.2 with protobuf 4: its Storage Write path calls ``MessageFactory.GetPrototype``, which
#: protobuf 5 removed, so with the protobuf its own install resolves it fails on the SCHEMA.
Z3_PROTOBUF4_PYTHON = BENCH / "z3-target-bigquery-protobuf4" / "bin" / "python"
DLT_PYTHON = BENCH / "dlt" / "bin" / "python"
CHART_PYTHON = BENCH / "matplotlib" / "bin" / "python"
PAGE = 1000
DLT_VERSION = "dlt 1.31.0"


class Skipped(Exception):  # noqa: N818 - a scenario that cannot run here, with the reason
    """A scenario that cannot run; the message says why (shown in the results instead of a row)."""


@dataclass
class Run:
    """One measured process."""

    wall: float
    cpu: float
    rss_mb: float
    records: int

    @property
    def rate(self) -> float:
        """Records per wall second."""
        return self.records / self.wall if self.wall else 0.0


def _peak_rss_kb(pid: int, stop: threading.Event, peak: list[int]) -> None:
    """Poll the process's high-water mark (VmHWM) until it exits.

    ``ru_maxrss`` from wait4 would count the memory the child shared with this (larger)
    benchmark process between fork and exec; VmHWM belongs to the program itself.
    """
    path = Path(f"/proc/{pid}/status")
    while not stop.is_set():
        try:
            for line in path.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak[0] = max(peak[0], int(line.split()[1]))
        except OSError:
            return
        time.sleep(0.01)


def measure(cmd: list[str], records: int, *, stdin: Path | None = None, env: dict | None = None) -> Run:
    """Run ``cmd`` with stdout to /dev/null; return wall, CPU and peak RSS.

    Raises:
        RuntimeError: The command failed (its stderr tail is in the message).
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryFile() as err, open(os.devnull, "wb") as out:
        stdin_file = stdin.open("rb") if stdin else subprocess.DEVNULL
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=stdin_file, stdout=out, stderr=err, env={**os.environ, **(env or {})})
        stop, peak = threading.Event(), [0]
        poller = threading.Thread(target=_peak_rss_kb, args=(proc.pid, stop, peak), daemon=True)
        poller.start()
        # Peek at the exit without reaping, so /proc/<pid> stays readable until the end.
        os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
        stop.set()
        poller.join()
        _, status, _usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if stdin:
            stdin_file.close()
        if proc.returncode != 0:
            err.seek(0)
            msg = f"{cmd[0]} failed ({proc.returncode}): {err.read()[-2000:].decode(errors='replace')}"
            raise RuntimeError(msg)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return Run(wall=wall, cpu=cpu, rss_mb=peak[0] / 1024, records=records)


def count_records(cmd: list[str], env: dict | None = None) -> int:
    """Run a tap once and count the RECORD messages it writes (streamed, not held)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={**os.environ, **(env or {})})
    count = sum(1 for line in proc.stdout if b'"RECORD"' in line[:40])
    if proc.wait() != 0:
        msg = f"{cmd[0]} failed"
        raise RuntimeError(msg)
    return count


class FastAPI:
    """``benchmarks/fast_api.py`` as a child process."""

    def __init__(self, records: int, delay: float = 0.0) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "benchmarks" / "fast_api.py"),
                "--records",
                str(records),
                "--delay",
                str(delay),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()
        if not line.startswith("READY"):
            msg = f"fast_api did not start: {line!r}"
            raise RuntimeError(msg)
        self.url = f"http://127.0.0.1:{line.split()[1]}/items"
        self.events_url = f"http://127.0.0.1:{line.split()[1]}/events"
        self.first_created = int(line.split()[2])

    def __enter__(self) -> FastAPI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def write_json(directory: Path, name: str, value: dict) -> Path:
    path = directory / name
    path.write_text(json.dumps(value))
    return path


def tap_commands(url: str, work: Path, *, requests_per_second: float, concurrency: int | None) -> dict[str, list[str]]:
    """Return the three tap command lines for the API at ``url``."""
    pagination = {"type": "offset", "limit": PAGE}
    if concurrency:
        pagination["max_concurrency"] = concurrency
    ours = write_json(
        work,
        "ours.json",
        {
            "url": url,
            "data_path": "rows",
            "pagination": pagination,
            "destination": {"table": "items", "key_fields": ["id"]},
            "rate_limit": {"requests_per_second": requests_per_second},
        },
    )
    base, path = url.rsplit("/", 1)
    msdk = write_json(
        work,
        "msdk.json",
        {
            "api_url": base,
            "streams": [{"name": "items", "path": f"/{path}", "records_path": "$.rows[*]", "primary_keys": ["id"]}],
            "pagination_request_style": "simple_offset_paginator",
            "pagination_response_style": "offset",
            "pagination_page_size": PAGE,
            "pagination_initial_offset": 0,
            "offset_records_jsonpath": "$.rows",
            "pagination_limit_per_page_param": "limit",
            "pagination_next_page_param": "offset",
        },
    )
    return {
        "tap-generic-api": [str(BIN / "tap-generic-api"), "--config", str(ours)],
        "tap-rest-api-msdk": [str(MSDK), "--config", str(msdk)],
        "bare requests+orjson loop": [sys.executable, str(ROOT / "benchmarks" / "bare_tap.py"), url, str(PAGE)],
    }


def dlt_commands(url: str, work: Path, records: int) -> dict[str, list[str]]:
    """Return dlt's REST API source as a tap peer: extract only, and a full run into DuckDB."""
    script = str(ROOT / "benchmarks" / "dlt_rest_api.py")
    (work / "dlt").mkdir(exist_ok=True)

    def command(mode: str) -> list[str]:
        return [str(DLT_PYTHON), script, url, mode, str(work / "dlt"), str(records)]

    return {
        f"dlt rest_api, extract only ({DLT_VERSION})": command("extract"),
        f"dlt rest_api, full run into DuckDB ({DLT_VERSION})": command("run"),
    }


def rounds(commands: dict[str, list[str]], records: int, n: int, **kwargs: object) -> dict[str, list[Run]]:
    """Run every command ``n`` times, alternating, and return the runs by name."""
    results: dict[str, list[Run]] = {name: [] for name in commands}
    for _ in range(n):
        for name, cmd in commands.items():
            results[name].append(measure(cmd, records, **kwargs))  # type: ignore[arg-type]
    return results


def median_run(runs: list[Run]) -> Run:
    return Run(
        wall=statistics.median(r.wall for r in runs),
        cpu=statistics.median(r.cpu for r in runs),
        rss_mb=statistics.median(r.rss_mb for r in runs),
        records=runs[0].records,
    )


def table(title: str, results: dict[str, list[Run] | str], figures: dict | None = None) -> str:
    """Return the section's Markdown table (medians); skipped scenarios are listed under it with their reason.

    ``figures``, when given, receives ``{title: {name: {"records_per_s", "cpu_s"}}}`` for the chart.
    """
    lines = [
        f"### {title}",
        "",
        "| plugin | records | wall s | CPU s | records/s | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    skipped = []
    for name, runs in results.items():
        if isinstance(runs, str):
            skipped.append(f"* {name}: not run: {runs}")
            continue
        m = median_run(runs)
        lines.append(f"| {name} | {m.records:,} | {m.wall:.2f} | {m.cpu:.2f} | {m.rate:,.0f} | {m.rss_mb:.0f} |")
        if figures is not None:
            figures.setdefault(title, {})[name] = {"records_per_s": round(m.rate), "cpu_s": round(m.cpu, 3)}
    if skipped:
        lines += ["", *skipped]
    return "\n".join(lines)


def check_counts(commands: dict[str, list[str]], records: int) -> None:
    """Run each tap once and check it writes exactly ``records`` records.

    Raises:
        RuntimeError: A tap wrote another number.
    """
    for name, cmd in commands.items():
        got = count_records(cmd)
        if got != records:
            msg = f"{name} wrote {got} records, expected {records}"
            raise RuntimeError(msg)


def tap_fast(records: int, n: int, work: Path) -> dict[str, list[Run]]:
    with FastAPI(records) as api:
        commands = tap_commands(api.url, work, requests_per_second=1000, concurrency=None)
        check_counts(commands, records)
        # dlt checks its own count (it writes files or a DuckDB table, not RECORD lines).
        commands.update(dlt_commands(api.url, work, records))
        return rounds(commands, records, n)


def tap_slow(records: int, n: int, work: Path, delay: float) -> dict[str, list[Run]]:
    with FastAPI(records, delay=delay) as api:
        commands = tap_commands(api.url, work, requests_per_second=50, concurrency=8)
        commands.pop("bare requests+orjson loop")
        return rounds(commands, records, n)


def tap_windows(records: int, n: int, work: Path, delay: float) -> dict[str, list[Run]]:
    """Our tap on a date-filtered, cursor-paginated slow API: one sequence vs date windows."""
    with FastAPI(records, delay=delay) as api:
        start = datetime.fromtimestamp(api.first_created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        base = {
            "url": api.events_url,
            "data_path": "rows",
            "params": {"created_gte": "{start_date_unix}", "created_lt": "{end_date_unix}"},
            "pagination": {"type": "cursor", "param": "cursor", "response_path": "next"},
            "replication_key": "created",
            "start_date": start,
            "destination": {"table": "events", "key_fields": ["id"]},
            "rate_limit": {"requests_per_second": 50},
        }
        commands = {
            "tap-generic-api, one cursor sequence": [
                str(BIN / "tap-generic-api"),
                "--config",
                str(write_json(work, "sequence.json", base)),
            ],
            "tap-generic-api, date_window_size 1 (up to 8 at once)": [
                str(BIN / "tap-generic-api"),
                "--config",
                # max_concurrency applies to windows only: one cursor sequence cannot be fetched ahead.
                str(
                    write_json(
                        work,
                        "windows.json",
                        {**base, "date_window_size": 1, "pagination": {**base["pagination"], "max_concurrency": 8}},
                    )
                ),
            ],
        }
        check_counts(commands, records)
        return rounds(commands, records, n)


def singer_file(records: int, work: Path) -> Path:
    """Write a Singer file of ``records`` generated records (our tap's output)."""
    path = work / f"items-{records}.singer"
    if not path.exists():
        with FastAPI(records) as api:
            cmd = tap_commands(api.url, work, requests_per_second=1000, concurrency=None)["tap-generic-api"]
            with path.open("wb") as out:
                subprocess.run(cmd, stdout=out, stderr=subprocess.DEVNULL, check=True)
    return path


def target_run(name: str, messages: Path, records: int, work: Path) -> Run:
    """Load ``messages`` with one target into a fresh emulator; check the row count."""
    if name == "target-bigquery-smart (no-op loader)":
        config = write_json(work, "noop.json", {"project": "local", "dataset": "bench"})
        return measure(
            [sys.executable, str(ROOT / "benchmarks" / "noop_target.py"), "--config", str(config)],
            records,
            stdin=messages,
        )
    with BigQueryEmulator() as bq:
        if name.startswith("target-bigquery-smart"):
            options = TARGET_OPTIONS[name]
            config = write_json(
                work,
                "target.json",
                {"project": "local", "dataset": "bench", "api_endpoint": bq.endpoint, "batch_size": PAGE, **options},
            )
            command = [str(BIN / "target-bigquery-smart"), "--config", str(config)]
            if "write_method" in options:
                refused = refusal(command, messages)
                if refused:
                    raise Skipped(refused)
            run = measure(command, records, stdin=messages)
        elif name == "z3-target-bigquery (storage_write_api)":
            python = Z3_PROTOBUF4_PYTHON if Z3_PROTOBUF4_PYTHON.exists() else Z3_PYTHON
            config = write_json(
                work,
                "z3sw.json",
                {"project": "local", "dataset": "bench", "method": "storage_write_api", "batch_size": PAGE},
            )
            try:
                run = measure(
                    [str(python), str(ROOT / "benchmarks" / "z3_on_emulator.py"), "--config", str(config)],
                    records,
                    stdin=messages,
                    env={"BENCH_BIGQUERY_ENDPOINT": bq.endpoint, "BENCH_BIGQUERY_GRPC": f"127.0.0.1:{bq.grpc_port}"},
                )
            except RuntimeError as exc:
                raise Skipped(last_error_line(str(exc))) from None
        elif name == "z3-target-bigquery (batch_job)":
            config = write_json(
                work, "z3.json", {"project": "local", "dataset": "bench", "method": "batch_job", "batch_size": PAGE}
            )
            run = measure(
                [str(Z3_PYTHON), str(ROOT / "benchmarks" / "z3_on_emulator.py"), "--config", str(config)],
                records,
                stdin=messages,
                env={"BENCH_BIGQUERY_ENDPOINT": bq.endpoint},
            )
        else:
            extra = ["--multipart"] if "multipart" in name else []
            run = measure(
                [sys.executable, str(ROOT / "benchmarks" / "bare_target.py"), bq.endpoint, "bench", *extra],
                records,
                stdin=messages,
            )
        rows = next(iter(bq.client().query_and_wait("SELECT COUNT(*) AS n FROM `local.bench.items`")))["n"]
        if rows != records:
            msg = f"{name} loaded {rows} rows, expected {records}"
            if name == "z3-target-bigquery (storage_write_api)":
                raise Skipped(msg)
            raise RuntimeError(msg)
        return run


def refusal(command: list[str], messages: Path) -> str | None:
    """Run the target on the SCHEMA line alone; return its error line when it refuses the config, else None."""
    with messages.open("rb") as source:
        head = source.readline()
    result = subprocess.run(command, input=head, capture_output=True, check=False)
    if result.returncode == 0:
        return None
    text = result.stderr.decode(errors="replace")
    # The line naming the setting, else the last one; without the log prefix (time, level, name).
    named = [line for line in text.splitlines() if "write_method" in line]
    line = named[-1] if named else last_error_line(text)
    return "the target refused the setting: " + line.rsplit(" | ", 1)[-1][:200]


def last_error_line(text: str) -> str:
    """Return the last line of an error output that says something (not a traceback frame)."""
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith(" ")]
    return (lines or ["(no output)"])[-1][:300]


#: Config added to ours, by scenario name.
TARGET_OPTIONS: dict[str, dict] = {
    "target-bigquery-smart": {},
    "target-bigquery-smart (validate_records: true)": {"validate_records": True},
    "target-bigquery-smart (write_method: storage_write)": {"write_method": "storage_write"},
}

TARGETS = (
    "target-bigquery-smart",
    "target-bigquery-smart (validate_records: true)",
    "target-bigquery-smart (write_method: storage_write)",
    "z3-target-bigquery (batch_job)",
    "z3-target-bigquery (storage_write_api)",
    "bare client, 1 load job per 1,000 rows",
    "bare client, same requests as ours (multipart upload, job id)",
    "target-bigquery-smart (no-op loader)",
)


def target_rounds(records: int, n: int, work: Path) -> dict[str, list[Run] | str]:
    """Run every target ``n`` times, alternating; a scenario that cannot run gives its reason instead of runs."""
    messages = singer_file(records, work)
    results: dict[str, list[Run] | str] = {name: [] for name in TARGETS}
    for _ in range(n):
        for name in TARGETS:
            runs = results[name]
            if isinstance(runs, str):
                continue
            try:
                runs.append(target_run(name, messages, records, work))
            except Skipped as exc:
                results[name] = str(exc)
                print(f"skipped {name}: {exc}", file=sys.stderr, flush=True)
    return results


def memory(sizes: list[int], work: Path) -> str:
    lines = [
        "### Memory: peak RSS by records",
        "",
        "| records | tap peak RSS MB | target peak RSS MB |",
        "|---:|---:|---:|",
    ]
    for size in sizes:
        with FastAPI(size) as api:
            cmd = tap_commands(api.url, work, requests_per_second=1000, concurrency=None)["tap-generic-api"]
            tap = measure(cmd, size)
        target = target_run("target-bigquery-smart", singer_file(size, work), size, work)
        lines.append(f"| {size:,} | {tap.rss_mb:.0f} | {target.rss_mb:.0f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--slow-delay", type=float, default=0.1, help="seconds added to each slow-API response")
    parser.add_argument("--memory-sizes", default="10000,100000,1000000")
    parser.add_argument("--only", choices=["tap-fast", "tap-slow", "tap-windows", "target", "memory"], action="append")
    parser.add_argument("--write", action="store_true", help="write benchmarks/RESULTS.md")
    args = parser.parse_args()
    only = set(args.only or ["tap-fast", "tap-slow", "tap-windows", "target", "memory"])
    sections = []
    figures: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(tmp)
        if "tap-fast" in only:
            sections.append(
                table(
                    f"Tap, fast local API ({PAGE:,}-record pages)", tap_fast(args.records, args.rounds, work), figures
                )
            )
            print(sections[-1], flush=True)
        if "tap-slow" in only:
            title = f"Tap, slow API (+{args.slow_delay * 1000:.0f} ms per response, 50 requests/s allowed)"
            sections.append(table(title, tap_slow(args.records, args.rounds, work, args.slow_delay)))
            print(sections[-1], flush=True)
        if "tap-windows" in only:
            title = (
                f"Tap, date windows on the slow API (+{args.slow_delay * 1000:.0f} ms per response, "
                "50 requests/s, cursor pagination)"
            )
            sections.append(table(title, tap_windows(args.records, args.rounds, work, args.slow_delay)))
            print(sections[-1], flush=True)
        if "target" in only:
            sections.append(
                table(
                    "Target, into a fresh local emulator per run",
                    target_rounds(args.records, args.rounds, work),
                    figures,
                )
            )
            print(sections[-1], flush=True)
        if "memory" in only:
            sections.append(memory([int(s) for s in args.memory_sizes.split(",")], work))
            print(sections[-1], flush=True)
    if args.write:
        command = "benchmarks/run.sh " + " ".join(sys.argv[1:])
        header = (
            f"## Run of {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
            f"Command: `{command.strip()}`  \n"
            f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, {platform.machine()}; "
            f"medians of {args.rounds} alternating runs.\n"
        )
        results = ROOT / "benchmarks" / "RESULTS.md"
        text = results.read_text() if results.exists() else ""
        intro, _, run = text.partition("\n## Run of")
        # Sections after the run (other measurements, with their own commands) are kept.
        later = run[run.find("\n## ") :] if "\n## " in run else ""
        intro = intro.rstrip() + "\n\n" if intro else ""
        results.write_text(intro + header + "\n" + "\n\n".join(sections) + "\n" + later)
        if figures:
            chart(figures, header.splitlines()[0].lstrip("# "))
    return 0


def chart(figures: dict, title: str) -> None:
    """Write ``benchmarks/results.json`` and draw ``benchmarks/chart.png`` from it (matplotlib in .bench)."""
    data = ROOT / "benchmarks" / "results.json"
    data.write_text(json.dumps({"title": title, "sections": figures}, indent=2) + "\n")
    subprocess.run(
        [str(CHART_PYTHON), str(ROOT / "benchmarks" / "chart.py"), str(data), str(ROOT / "benchmarks" / "chart.png")],
        check=True,
    )


if __name__ == "__main__":
    raise SystemExit(main())
