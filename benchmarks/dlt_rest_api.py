"""dlt's REST API source on the benchmark API (run with dlt's own virtual environment, .bench/dlt).

``extract``: the source's records extracted to dlt's local files, the tap's share of the work.
``run``: extract, normalize and load into dlt's embedded DuckDB, the whole pipeline. The record
count is checked either way (printed as ``RECORDS <n>`` and compared by the caller).
Telemetry is off (``RUNTIME__DLTHUB_TELEMETRY=false``): the benchmark sends nothing out.
Each run works in a new folder under WORKDIR, removed at the end; a count other than EXPECTED
exits 1.
Usage: python benchmarks/dlt_rest_api.py URL extract|run WORKDIR EXPECTED
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")

import dlt  # noqa: E402
from dlt.sources.rest_api import rest_api_source  # noqa: E402


def main() -> None:
    url, mode, workdir, expected = sys.argv[1], sys.argv[2], tempfile.mkdtemp(dir=sys.argv[3]), int(sys.argv[4])
    base, path = url.rsplit("/", 1)
    source = rest_api_source(
        {
            "client": {"base_url": base + "/"},
            "resource_defaults": {"primary_key": "id", "write_disposition": "append"},
            "resources": [
                {
                    "name": "items",
                    "endpoint": {
                        "path": path,
                        "data_selector": "rows",
                        "paginator": {
                            "type": "offset",
                            "limit": 1000,
                            "offset_param": "offset",
                            "limit_param": "limit",
                            "total_path": None,
                            "stop_after_empty_page": True,
                        },
                    },
                }
            ],
        }
    )
    pipeline = dlt.pipeline(
        pipeline_name="bench",
        pipelines_dir=os.path.join(workdir, "pipelines"),
        destination=dlt.destinations.duckdb(os.path.join(workdir, "dlt.duckdb")),
        dataset_name="items_data",
    )
    if mode == "extract":
        info = pipeline.extract(source)
        count = sum(
            metrics.items_count
            for load_metrics in info.metrics.values()
            for step in load_metrics
            for name, metrics in step["table_metrics"].items()
            if name == "items"
        )
    else:
        pipeline.run(source)
        with pipeline.sql_client() as client:
            count = client.execute_sql("SELECT COUNT(*) FROM items")[0][0]
    shutil.rmtree(workdir)
    print(f"RECORDS {count}", flush=True)
    if count != expected:
        sys.exit(f"dlt {mode}: {count} records, expected {expected}")


if __name__ == "__main__":
    main()
