"""Run z3-target-bigquery against the local emulator (run with z3's own virtual environment).

z3 builds its BigQuery client from service-account credentials or ADC only; this points its
client factory at the emulator with anonymous credentials, the same client setup our target
uses. z3 also gzips its load uploads, which the emulator cannot read (it loads nothing), so
its compressor is replaced by a plain buffer: that removes z3's compression CPU, which makes
the comparison err in z3's favour. Its CLI then runs unchanged.
Usage: BENCH_BIGQUERY_ENDPOINT=http://127.0.0.1:P python benchmarks/z3_on_emulator.py --config c.json
"""

from __future__ import annotations

import io
import os
from functools import cache

import target_bigquery.batch_job as batch_job
import target_bigquery.core as core
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery
from target_bigquery.target import TargetBigQuery


@cache
def _client(creds: object) -> bigquery.Client:
    return bigquery.Client(
        project=getattr(creds, "project", "local"),
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": os.environ["BENCH_BIGQUERY_ENDPOINT"]},
    )


class _PlainBuffer:
    """z3's Compressor interface without the compression."""

    def __init__(self) -> None:
        self.buffer = io.BytesIO()
        self._closed = False

    def write(self, data: bytes) -> None:
        self.buffer.write(data)

    def flush(self) -> None:
        return

    def close(self) -> None:
        self._closed = True
        self.buffer.seek(0)

    def getvalue(self) -> bytes:
        return self.buffer.getvalue()

    def getbuffer(self) -> memoryview:
        return self.buffer.getbuffer()


core.bigquery_client_factory = _client
batch_job.bigquery_client_factory = _client
core.Compressor = _PlainBuffer
batch_job.Compressor = _PlainBuffer

if __name__ == "__main__":
    TargetBigQuery.cli()
