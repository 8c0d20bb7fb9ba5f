"""End to end: `tap-generic-api from-openapi` on the description of the local list APIs.

The generated config passes `--test` against Prism serving the same description (Prism checks
every request against it), and lands every served record from the local APIs through
`tap-generic-api | target-bigquery-smart`.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from helpers import BIN, PAGED_SPEC, PAGED_TOKEN, run_pipeline, table_rows
from local_services import item
from paged_apis import ORDERS, order, order_lines

STREAMS = [
    "offset_items",
    "page_items",
    "has_more_items",
    "cursor_items",
    "link_items",
    "owners_items",
    "orders",
    "orders_lines",
]


def _generate(tmp_path, server: str) -> dict:
    out = tmp_path / "tap.json"
    run = subprocess.run(
        [str(BIN / "tap-generic-api"), "from-openapi", str(PAGED_SPEC), "--server", server, "--write", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "secrets: give bearerauth under 'secrets' in a second --config at run time" in run.stderr
    return json.loads(out.read_text())


def test_generated_config_passes_test_against_prism(prism, tmp_path):
    config = _generate(tmp_path, prism.base_url)
    assert [s["name"] for s in config["streams"]] == STREAMS
    assert config["auth"] == {"type": "bearer", "secret_key": "bearerauth"}
    assert config["variables"] == {"owner_id": "2"}
    lines = config["streams"][STREAMS.index("orders_lines")]
    assert lines["parent"] == "orders"
    assert lines["url"] == f"{prism.base_url}/orders/{{parent.id}}/lines"
    assert lines["include_from_parent"] == ["id"]
    assert lines["destination"] == {"table": "orders_lines", "key_fields": ["_parent_id", "id"]}
    tap_json, secrets_json = tmp_path / "tap.json", tmp_path / "secrets.json"
    secrets_json.write_text(json.dumps({"secrets": {"bearerauth": PAGED_TOKEN}}))
    log_before = prism.log_path.read_text()
    run = subprocess.run(
        [str(BIN / "tap-generic-api"), "--config", str(tap_json), "--config", str(secrets_json), "--test"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    # --test prints one line per stream: its first page's record count and first record's keys.
    reports = {line.split("'")[1]: line for line in run.stdout.splitlines() if line.startswith("Stream '")}
    assert sorted(reports) == sorted(STREAMS)
    assert all(
        "first record's keys: " in line and "id" in line.split("keys: ")[1].split(", ") for line in reports.values()
    )
    # asked for the lines of the order Prism served (the description's example, id 1)
    assert "(for record 1 of parent stream 'orders': {parent.id} = 1)" in reports["orders_lines"]
    # Prism checked each request (parameters, bearer security) against the description.
    log = prism.log_path.read_text()[len(log_before) :]
    # (Offset and page streams may ask for a page ahead before --test stops them.)
    received = log.count("Request received")
    assert log.count("The request passed the validation rules") == received >= len(STREAMS)
    assert "✖" not in log
    assert "get /orders/1/lines" in log


@pytest.mark.emulator
@pytest.mark.slow
def test_generated_config_lands_every_served_record(paged_apis, bq_client, target_config, tmp_path):
    config = _generate(tmp_path, paged_apis.base_url)
    run = run_pipeline(tmp_path, {**config, "secrets": {"bearerauth": PAGED_TOKEN}}, target_config)
    assert run.tap_returncode == 0, run.tap_stderr[-3000:]
    assert run.target_returncode == 0, run.target_stderr[-3000:]
    served = [item(i) for i in range(1, 96)]
    for stream in STREAMS:
        rows = table_rows(bq_client, target_config["project"], target_config["dataset"], stream)
        records = sorted((json.loads(row["raw_data"]) for row in rows), key=lambda r: r["id"])
        if stream.startswith("orders"):
            continue
        expected = [r for r in served if r["quantity"] % 3 + 1 == 2] if stream == "owners_items" else served  # noqa: PLR2004
        assert records == expected, stream
    orders = table_rows(bq_client, target_config["project"], target_config["dataset"], "orders")
    assert sorted((json.loads(row["raw_data"]) for row in orders), key=lambda r: r["id"]) == [
        order(n) for n in range(1, ORDERS + 1)
    ]
    # Every line of every order, each with its order's id; line ids repeat across orders.
    lines = table_rows(bq_client, target_config["project"], target_config["dataset"], "orders_lines")
    landed = sorted((json.loads(row["raw_data"]) for row in lines), key=lambda r: (r["_parent_id"], r["id"]))
    assert landed == [{"_parent_id": n, **line} for n in range(1, ORDERS + 1) for line in order_lines(n)]
    # Orders on pages of 5 (the description's maximum), each order's lines on pages of 2, every order asked.
    asked = {(path, tuple(sorted(query.items()))) for path, query in paged_apis.requests}
    assert {("/orders", (("page", "1"), ("per_page", "5"))), ("/orders", (("page", "2"), ("per_page", "5")))} <= asked
    line_pages = {(f"/orders/{n}/lines", (("limit", "2"), ("offset", str(o)))) for n in range(1, 8) for o in (0, 2)}
    assert {(p, q) for p, q in asked if p.endswith("/lines") and ("offset", "0") in q} == {
        (p, q) for p, q in line_pages if ("offset", "0") in q
    }
