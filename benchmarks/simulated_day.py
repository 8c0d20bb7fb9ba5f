"""A simulated day: many records into one table with ``batch_size`` 1000, past the load-job budget.

Writes a Singer file of ``--records`` records (ten fields, a STATE every 1,000) and loads it
once into a fresh local emulator with ``write_method: load_job`` and the default
``max_load_jobs_per_table`` (1,000). With ``--path storage_write`` the target has the
emulator's gRPC port (``storage_api_endpoint``), so past the budget the table switches to the
Storage Write API; with ``--path coalesce`` it has not, so the last job of the budget takes
every remaining batch through one resumable upload. Checks the rows (count and distinct ids),
counts the load jobs the emulator ran into the table (``jobs.list``), and prints the target's
summary line, wall seconds, CPU seconds and peak RSS.

Usage: python benchmarks/simulated_day.py [--records 2000000] [--path storage_write|coalesce]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from target_runs import run_target, singer_file, summary_line  # noqa: E402


def main() -> int:
    """Run the day and print what it did."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--path", choices=["storage_write", "coalesce"], default="storage_write")
    parser.add_argument("--work", type=Path, default=None, help="folder for the Singer file")
    args = parser.parse_args()
    jobs: dict[str, int] = {}

    def count_jobs(bq) -> None:
        client = bq.client()
        for job in client.list_jobs(all_users=True):
            if job.job_type == "load" and job.destination is not None and job.destination.table_id == "items":
                jobs["load"] = jobs.get("load", 0) + 1
                jobs["errors"] = jobs.get("errors", 0) + (1 if job.error_result else 0)

    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        messages = singer_file(work / f"items-{args.records}.singer", args.records)
        config = {"write_method": "load_job", "batch_size": 1000}
        if args.path == "coalesce":
            config["storage_api_endpoint"] = None  # dropped below: no Storage Write API
        started = datetime.now(UTC)
        run = run_target(config, messages, args.records, inspect=count_jobs)
    summary = summary_line(run.stderr)
    print(f"started {started:%Y-%m-%d %H:%M} UTC; {args.records:,} records, batch_size 1000, past budget: {args.path}")
    print(f"load jobs into the table (jobs.list): {jobs.get('load', 0)}, failed: {jobs.get('errors', 0)}")
    print(f"wall {run.wall:.0f} s, {run.rate:,.0f} records/s, target CPU {run.cpu:.1f} s, peak RSS {run.rss_mb:.0f} MB")
    print(f"summary: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
