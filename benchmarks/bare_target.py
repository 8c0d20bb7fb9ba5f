"""The ceiling for a target: read a Singer file with orjson, one load job per 1,000 rows.

Rows use the raw layout (org_slug, raw_data, extracted_at), like target-bigquery-smart's default.
The client's default upload for a file of unknown size is resumable (two requests). With
``--multipart`` each load job is sent as target-bigquery-smart sends it: one multipart request
with a job id, and the schema with its descriptions.
Usage: python benchmarks/bare_target.py ENDPOINT DATASET [--multipart] < messages.jsonl
"""

from __future__ import annotations

import io
import sys
import uuid
from datetime import UTC, datetime

import orjson
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

BATCH = 1000


def main() -> None:
    endpoint, dataset = sys.argv[1], sys.argv[2]
    multipart = "--multipart" in sys.argv[3:]
    client = bigquery.Client(
        project="local", credentials=AnonymousCredentials(), client_options={"api_endpoint": endpoint}
    )
    client.create_dataset(dataset, exists_ok=True)
    schema = [
        bigquery.SchemaField("org_slug", "STRING", description="Organisation slug (target config)."),
        bigquery.SchemaField("raw_data", "STRING", description="The record as JSON text."),
        bigquery.SchemaField("extracted_at", "TIMESTAMP", description="Start of the load run."),
    ]
    if not multipart:
        schema = [bigquery.SchemaField(f.name, f.field_type) for f in schema]
    table = client.create_table(bigquery.Table(f"local.{dataset}.items", schema=schema), exists_ok=True)
    config = bigquery.LoadJobConfig(source_format="NEWLINE_DELIMITED_JSON", schema=schema)
    if multipart:
        config.write_disposition = bigquery.WriteDisposition.WRITE_APPEND
    now = datetime.now(UTC).isoformat()
    rows: list[bytes] = []

    def flush() -> None:
        data = b"\n".join(rows)
        extra = {"size": len(data), "job_id": f"bare_{uuid.uuid4().hex}"} if multipart else {}
        client.load_table_from_file(io.BytesIO(data), table, job_config=config, **extra).result()
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
