"""Records per second of ``write_method: storage_write`` against ``load_job``, into the local emulator.

Writes a Singer file of ``--records`` records (ten fields, a STATE every 1,000), then loads it
``--rounds`` times with each method, alternating, into a fresh emulator per run (row count and
distinct ids checked), with ``batch_size`` 1000. Prints per method the median wall seconds,
records/s, target CPU seconds, and the emulator's CPU seconds in total and per batch.

``storage_write:one-per-append`` is ``storage_write`` with ``storage_write_queued_batches: 0``
(one batch per append, one append in flight: the behaviour before batches were merged);
``storage_write:queued=N`` sets ``storage_write_queued_batches`` to N.

Usage: python benchmarks/storage_write_rate.py [--records 50000] [--rounds 3] [--layout raw|flattened]
    [--methods storage_write,storage_write:one-per-append,load_job]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from target_runs import run_target, singer_file, summary_line  # noqa: E402


def main() -> int:
    """Run the comparison and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--layout", choices=["raw", "flattened"], default="raw")
    parser.add_argument("--methods", default="storage_write,storage_write:one-per-append,load_job")
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args()
    methods = args.methods.split(",")
    runs: dict[str, list] = {m: [] for m in methods}
    with tempfile.TemporaryDirectory() as tmp:
        messages = singer_file(Path(tmp) / f"items-{args.records}.singer", args.records)
        for _ in range(args.rounds):
            for method in methods:
                config = {"write_method": method, "batch_size": args.batch_size, "flatten": args.layout == "flattened"}
                if method.endswith(":one-per-append"):  # as before storage_write_queued_batches existed
                    config.update(write_method="storage_write", storage_write_queued_batches=0)
                elif ":queued=" in method:
                    config.update(write_method="storage_write", storage_write_queued_batches=int(method.split("=")[1]))
                run = run_target(config, messages, args.records)
                runs[method].append(run)
                print(
                    f"{method}: {run.wall:.2f} s wall, {run.rate:,.0f} records/s, target CPU {run.cpu:.2f} s, "
                    f"emulator CPU {run.emulator_cpu:.2f} s | {summary_line(run.stderr)[-160:]}",
                    file=sys.stderr,
                    flush=True,
                )
    batches = -(-args.records // args.batch_size)
    print(f"{args.records:,} records, {args.layout} layout, batch_size {args.batch_size}; medians of {args.rounds}")
    print("| write_method | wall s | records/s | target CPU s | emulator CPU s | emulator CPU ms per batch |")
    print("|---|---:|---:|---:|---:|---:|")
    for method, done in runs.items():
        wall = statistics.median(r.wall for r in done)
        emulator = statistics.median(r.emulator_cpu for r in done)
        print(
            f"| {method} | {wall:.2f} | {args.records / wall:,.0f} | {statistics.median(r.cpu for r in done):.2f} | "
            f"{emulator:.2f} | {emulator * 1000 / batches:.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
