"""The ceiling for a tap: one requests.Session, orjson, one RECORD line per record.

Usage: python benchmarks/bare_tap.py URL PAGE_SIZE > /dev/null
"""

from __future__ import annotations

import sys

import orjson
import requests


def main() -> None:
    url, size = sys.argv[1], int(sys.argv[2])
    session = requests.Session()
    out = sys.stdout.buffer
    offset = 0
    while True:
        rows = orjson.loads(session.get(url, params={"offset": offset, "limit": size}, timeout=60).content)["rows"]
        if not rows:
            break
        for row in rows:
            out.write(orjson.dumps({"type": "RECORD", "stream": "items", "record": row}) + b"\n")
        if len(rows) < size:
            break
        offset += size
    out.flush()


if __name__ == "__main__":
    main()
