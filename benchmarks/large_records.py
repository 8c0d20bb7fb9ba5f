"""Peak RSS of the target on large records, by ``batch_max_bytes``.

Writes a Singer file of ``--records`` records of about ``--record-mb`` MB each (one string
field), loads it into a fresh local emulator per run with ``batch_size`` 1000 and each
``--budgets`` value of ``batch_max_bytes`` (``none``: a budget larger than the input, as before
the setting existed), checks the row count, and prints peak RSS (VmHWM) per run.

Usage: python benchmarks/large_records.py [--records 500] [--record-mb 1] [--budgets none,50000000,10000000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import BIN, BigQueryEmulator, measure, write_json  # noqa: E402


def singer_file(path: Path, records: int, size: int) -> int:
    """Write the Singer file; return its size in bytes."""
    properties = {"id": {}, "pad": {}}
    schema = {"type": "SCHEMA", "stream": "items", "schema": {"properties": properties}, "key_properties": []}
    with path.open("w") as out:
        out.write(json.dumps(schema) + "\n")
        for i in range(records):
            pad = (f"{i:08d}" * (size // 8 + 1))[:size]
            out.write(json.dumps({"type": "RECORD", "stream": "items", "record": {"id": i, "pad": pad}}) + "\n")
    return path.stat().st_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=500)
    parser.add_argument("--record-mb", type=float, default=1.0)
    parser.add_argument("--budgets", default="none,50000000,10000000")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        messages = work / "large.singer"
        total = singer_file(messages, args.records, int(args.record_mb * 1_000_000))
        print(f"input: {args.records:,} records, {total / 1e6:,.0f} MB; batch_size 1000")
        print("| batch_max_bytes | peak RSS MiB | wall s | peak RSS / budget |")
        print("|---:|---:|---:|---:|")
        for budget in args.budgets.split(","):
            value = 10**15 if budget == "none" else int(budget)
            with BigQueryEmulator() as bq:
                config = {
                    "project": "local",
                    "dataset": "bench",
                    "api_endpoint": bq.endpoint,
                    "batch_size": 1000,
                    "batch_max_bytes": value,
                }
                path = write_json(work, "target.json", config)
                run = measure([str(BIN / "target-bigquery-smart"), "--config", str(path)], args.records, stdin=messages)
                rows = next(iter(bq.client().query_and_wait("SELECT COUNT(*) AS n FROM `local.bench.items`")))["n"]
            if rows != args.records:
                print(f"loaded {rows} rows, expected {args.records}", file=sys.stderr)
                return 1
            ratio = "" if budget == "none" else f"{run.rss_mb * 2**20 / value:.1f}"
            shown = "none (larger than the input)" if budget == "none" else f"{value:,}"
            print(f"| {shown} | {run.rss_mb:,.0f} | {run.wall:.1f} | {ratio} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
