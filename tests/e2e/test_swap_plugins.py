"""Either side swapped for another Singer plugin from PyPI (installed in .plugins/ by setup)."""

from __future__ import annotations

import json
import subprocess

import pytest
from helpers import BIN, ROOT, run_pipeline, table_rows
from local_services import DATASETTE_TOKEN, served_item

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

PLUGINS = ROOT / ".plugins"


def _tap_config(api):
    return {
        "url": api.table_url,
        "params": {"_shape": "objects", "_size": "500"},
        "data_path": "rows",
        "auth": {"type": "bearer", "provider": "DATASETTE"},
        "secrets": {"datasette": DATASETTE_TOKEN},
        "pagination": {"type": "cursor", "param": "_next", "response_path": "next"},
        "destination": {"table": "items", "key_fields": ["id"]},
    }


def test_our_tap_into_target_jsonl_writes_what_we_load_into_bigquery(datasette_10k, tmp_path, target_config, bq_client):
    tap_path = tmp_path / "tap.json"
    tap_path.write_text(json.dumps(_tap_config(datasette_10k)))
    out_dir = tmp_path / "jsonl"
    out_dir.mkdir()
    jsonl_config = tmp_path / "target-jsonl.json"
    jsonl_config.write_text(json.dumps({"destination_path": str(out_dir), "do_timestamp_file": False}))
    script = (
        f"set -euo pipefail; {BIN}/tap-generic-api --config {tap_path} "
        f"| {PLUGINS}/target-jsonl/bin/target-jsonl --config {jsonl_config}"
    )
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    (written,) = out_dir.glob("items*.jsonl")
    jsonl_records = [json.loads(line) for line in written.read_text().splitlines()]
    assert len(jsonl_records) == 10_000

    run = run_pipeline(tmp_path, _tap_config(datasette_10k), target_config)
    assert run.target_returncode == 0, run.target_stderr[-2000:]
    loaded = [
        json.loads(r["raw_data"])
        for r in table_rows(bq_client, target_config["project"], target_config["dataset"], "items")
    ]
    key = lambda r: r["id"]  # noqa: E731
    assert sorted(jsonl_records, key=key) == sorted(loaded, key=key)
    assert sorted(loaded, key=key)[:3] == [served_item(i) for i in (1, 2, 3)]


def test_another_tap_loads_into_our_target(tmp_path, target_config, bq_client):
    data = tmp_path / "orders.jsonl"
    data.write_text(
        "\n".join(json.dumps({"order_id": i, "total": i * 1.5, "lines": [{"sku": f"s{i}"}]}) for i in range(1, 301))
    )
    tap_config = tmp_path / "tap-jsonl.json"
    tap_config.write_text(json.dumps({"path": str(data), "stream_name": "orders", "primary_keys": ["order_id"]}))
    messages_path = tmp_path / "messages.jsonl"
    tap = subprocess.run(
        [str(PLUGINS / "tap-jsonl" / "bin" / "tap-jsonl"), "--config", str(tap_config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert tap.returncode == 0, tap.stderr[-2000:]
    messages_path.write_text(tap.stdout)
    emitted = [json.loads(line)["record"] for line in tap.stdout.splitlines() if '"RECORD"' in line]
    assert len(emitted) == 300

    target_path = tmp_path / "target.json"
    target_path.write_text(json.dumps({**target_config, "flatten": True}))
    with messages_path.open() as stdin:
        target = subprocess.run(
            [str(BIN / "target-bigquery-smart"), "--config", str(target_path)],
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert target.returncode == 0, target.stderr[-2000:]
    states = [json.loads(line) for line in target.stdout.splitlines()]
    assert states
    assert "bookmarks" in states[-1]
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "orders", "ORDER BY order_id")
    assert [r["order_id"] for r in rows] == list(range(1, 301))
    by_id = {r["order_id"]: r for r in emitted}
    for row in rows:
        record = by_id[row["order_id"]]
        assert row["total"] == record["total"]
        assert [json.loads(x) if isinstance(x, str) else x for x in row["lines"]] == record["lines"]
        assert row["_sdc_filename"] == record["_sdc_filename"] == str(data)
        assert row["_sdc_extra"] is None
