"""Peak RSS of the target by number of records, for every ``write_method``.

For each size in ``--sizes`` writes a Singer file (ten fields, a STATE every 1,000 records) and
loads it with each method of ``--methods`` into a fresh local emulator (``batch_size`` 1000,
raw layout; rows and distinct ids checked), and prints the peak RSS (VmHWM) of the target
process, and how far the largest size is from the smallest.

Usage: python benchmarks/memory_by_method.py [--sizes 10000,100000,1000000]
    [--methods smart,load_job,streaming,storage_write]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from target_runs import run_target, singer_file  # noqa: E402


def main() -> int:
    """Run every method at every size and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--methods", default="smart,load_job,streaming,storage_write")
    parser.add_argument("--work", type=Path, default=None, help="folder for the Singer files")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    methods = args.methods.split(",")
    peaks: dict[str, dict[int, float]] = {m: {} for m in methods}
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        for size in sizes:
            messages = singer_file(work / f"items-{size}.singer", size)
            for method in methods:
                run = run_target({"write_method": method, "batch_size": 1000}, messages, size)
                peaks[method][size] = run.rss_mb
                print(
                    f"{method} {size:,}: peak RSS {run.rss_mb:.1f} MiB, wall {run.wall:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
    print("| write_method | " + " | ".join(f"{s:,} records" for s in sizes) + " | largest / smallest |")
    print("|---|" + "---:|" * (len(sizes) + 1))
    for method, by_size in peaks.items():
        cells = " | ".join(f"{by_size[s]:.0f} MiB" for s in sizes)
        print(f"| {method} | {cells} | {by_size[sizes[-1]] / by_size[sizes[0]]:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
