"""target-bigquery-smart with its BigQuery calls replaced by no-ops: the parse-and-shape cost alone.

Usage: python benchmarks/noop_target.py --config target.json < messages.jsonl
"""

from __future__ import annotations

from typing import Any

from target_bigquery_smart import loader, sinks, tables, target


def _insert(client: Any, table: Any, rows: list, row_ids: list, **kwargs: Any) -> loader.LoadResult:
    return loader.LoadResult(rows=len(rows), method="load_job", requests=1)


sinks.loader.insert_rows_smart = _insert  # type: ignore[assignment]
tables.Tables.schema = lambda self, table_id: []  # type: ignore[assignment]
tables.Tables.ensure = lambda self, table_id, schema, **kw: None  # type: ignore[assignment]
target.TargetBigQuerySmart.bq_client = property(lambda self: None)  # type: ignore[assignment]

if __name__ == "__main__":
    target.main()
