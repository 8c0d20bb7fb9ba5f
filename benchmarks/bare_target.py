"""The ceiling for a target: read a Singer file with orjson, one load job per 1,000 rows.

Rows use the raw layout (org_slug, raw_data, extracted_at), like target-bigquery-smart's default.
Usage: python benchmarks/bare_target.py ENDPOINT DATASET < messages.jsonl
"""

from __future__ import annotations

import io
import sys
from datetime import UTC, datetime

import orjson
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

BATCH = 1000


def main() -> None:
    endpoint, dataset = sys.argv[1], sys.argv[2]
    client = bigquery.Client(
        project="local", credentials=AnonymousCredentials(), client_options={"api_endpoint": endpoint}
    )
    client.create_dataset(dataset, exists_ok=True)
    schema = [
        bigquery.SchemaField("org_slug", "STRING"),
        bigquery.SchemaField("raw_data", "STRING"),
        bigquery.SchemaField("extracted_at", "TIMESTAMP"),
    ]
    table = client.create_table(bigquery.Table(f"local.{dataset}.items", schema=schema), exists_ok=True)
    config = bigquery.LoadJobConfig(source_format="NEWLINE_DELIMITED_JSON", schema=schema)
    now = datetime.now(UTC).isoformat()
    rows: list[bytes] = []

    def flush() -> None:
        client.load_table_from_file(io.BytesIO(b"\n".join(rows)), table, job_config=config).result()
        rows.clear()

    for line in sys.stdin.buffer:
        message = orjson.loads(line)
        if message.get("type") != "RECORD":
            continue
        row = {"org_slug": "bench", "raw_data": orjson.dumps(message["record"]).decode(), "extracted_at": now}
        rows.append(orjson.dumps(row))
        if len(rows) >= BATCH:
            flush()
    if rows:
        flush()


if __name__ == "__main__":
    main()
