"""Run z3-target-bigquery against the local emulator (run with z3's own virtual environment).

z3 builds its BigQuery client from service-account credentials or ADC only; this points its
client factory at the emulator with anonymous credentials, the same client setup our target
uses. z3 gzips every load upload (a ``gzip`` child process per batch), which the emulator
cannot read (it would load nothing). So its compressor is kept and does all of its work, and
a plain copy of the same bytes is what gets uploaded: z3's CPU is what it spends in
production (compression included), plus one extra in-memory copy per record. Its CLI then
runs unchanged.
With ``BENCH_BIGQUERY_GRPC=127.0.0.1:G`` (the emulator's gRPC port), z3's Storage Write client
factory gives a ``BigQueryWriteClient`` on a plaintext channel to it (the emulator serves no TLS),
with anonymous credentials, for ``method: storage_write_api``.
Usage: BENCH_BIGQUERY_ENDPOINT=http://127.0.0.1:P [BENCH_BIGQUERY_GRPC=127.0.0.1:G]
       python benchmarks/z3_on_emulator.py --config c.json
"""

from __future__ import annotations

import io
import os
from functools import cache

import grpc
import target_bigquery.batch_job as batch_job
import target_bigquery.core as core
import target_bigquery.storage_write as storage_write
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery, bigquery_storage_v1
from google.cloud.bigquery_storage_v1.services.big_query_write.transports import BigQueryWriteGrpcTransport
from target_bigquery.target import TargetBigQuery

_GzipCompressor = core.Compressor


@cache
def _client(creds: object) -> bigquery.Client:
    return bigquery.Client(
        project=getattr(creds, "project", "local"),
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": os.environ["BENCH_BIGQUERY_ENDPOINT"]},
    )


def _storage_client(creds: object) -> bigquery_storage_v1.BigQueryWriteClient:
    channel = grpc.insecure_channel(os.environ["BENCH_BIGQUERY_GRPC"])
    return bigquery_storage_v1.BigQueryWriteClient(transport=BigQueryWriteGrpcTransport(channel=channel))


class _CompressAndKeepPlain(_GzipCompressor):
    """z3's gzip Compressor, unchanged, that also keeps the plain bytes for the upload."""

    def __init__(self) -> None:
        super().__init__()
        self._plain = io.BytesIO()

    def write(self, data: bytes) -> None:
        super().write(data)
        self._plain.write(data)

    def getvalue(self) -> bytes:
        super().getvalue()  # finish the compression, as z3 does
        return self._plain.getvalue()

    def getbuffer(self) -> memoryview:
        super().getbuffer()
        return self._plain.getbuffer()


core.bigquery_client_factory = _client
batch_job.bigquery_client_factory = _client
core.Compressor = _CompressAndKeepPlain
if os.environ.get("BENCH_BIGQUERY_GRPC"):
    core.storage_client_factory = _storage_client
    storage_write.storage_client_factory = _storage_client
batch_job.Compressor = _CompressAndKeepPlain

if __name__ == "__main__":
    TargetBigQuery.cli()
