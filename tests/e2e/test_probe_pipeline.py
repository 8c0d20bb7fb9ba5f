"""End to end: `tap-generic-api probe` writes a config; `tap-generic-api | target-bigquery-smart` lands every record.

One test per pagination style: the local list APIs (offset with a total, page numbers with
total pages, has_more with the last id, an opaque body cursor, a Link header, a body token its
next URL sends back, a next URL in the body) and Datasette
(its Link header). The evidence must name the field or header behind the pagination.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from helpers import BIN, PAGED_TOKEN, run_pipeline, table_rows
from local_services import DATASETTE_TOKEN, DatasetteAPI, item, served_item

pytestmark = [pytest.mark.emulator, pytest.mark.slow]


def _probe(tmp_path, url: str, env_var: str, secret: str, *args: str) -> tuple[dict, str, int]:
    out = tmp_path / "tap.json"
    run = subprocess.run(
        [str(BIN / "tap-generic-api"), "probe", url, "--bearer-env", env_var, "--rate", "20", "--write", str(out)]
        + list(args),
        capture_output=True,
        text=True,
        env={**os.environ, env_var: secret},
        timeout=120,
        check=False,
    )
    assert run.stdout == ""  # the config went to the file
    return json.loads(out.read_text()), run.stderr, run.returncode


STYLES = {
    # style: (expected pagination block, evidence naming the field or header)
    "offset": (
        {"type": "offset", "param": "offset", "limit": 10, "limit_param": "limit"},
        "from: body field 'total' (95 records, 10 on the first page); parameter 'offset' confirmed",
    ),
    "page": (
        {"type": "page", "param": "page", "limit": 10, "limit_param": "per_page"},
        "from: body field 'meta.total_pages' (10); parameter 'page' confirmed",
    ),
    "has_more": (
        {"type": "cursor", "param": "starting_after", "response_path": "data.-1.id"},
        "from: body field 'has_more' is true; the last record's 'id' (10) sent back as 'starting_after'",
    ),
    "cursor": (
        {"type": "cursor", "param": "cursor", "response_path": "meta.next_cursor"},
        "from: body field 'meta.next_cursor' (\"YWZ0ZXI6MTA=\"); sent back as 'cursor'",
    ),
    "link": ({"type": "link", "response_path": ""}, 'from: response header Link with rel="next"'),
    "token": (
        {"type": "cursor", "param": "_next", "response_path": "next"},
        "from: body field 'next' (\"10\"), which the next URL in body field 'next_url' sends back as parameter '_next'",
    ),
    "next_url": ({"type": "link", "response_path": "next"}, "from: body field 'next' holds the next page's URL"),
}


@pytest.mark.parametrize("style", list(STYLES))
def test_probe_config_lands_every_record(style, paged_apis, bq_client, target_config, tmp_path):
    config, evidence, status = _probe(tmp_path, f"{paged_apis.base_url}/{style}/items", "PAGED_TOKEN", PAGED_TOKEN)
    assert status == 0, evidence
    pagination, named = STYLES[style]
    assert config["pagination"] == pagination
    assert named in evidence
    assert config["auth"] == {"type": "bearer", "secret_key": "paged_token"}
    assert config["destination"] == {"table": "items", "key_fields": ["id"]}
    assert "verdict: OK" in evidence
    assert PAGED_TOKEN not in json.dumps(config)
    assert PAGED_TOKEN not in evidence
    assert len(paged_apis.requests) <= 3 + 3  # --max-pages 3, + 3

    # The secret comes at run time, as the evidence says: secrets.<key> beside the written config.
    run = run_pipeline(tmp_path, {**config, "secrets": {"paged_token": PAGED_TOKEN}}, target_config)
    assert run.tap_returncode == 0, run.tap_stderr[-3000:]
    assert run.target_returncode == 0, run.target_stderr[-3000:]
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items")
    records = sorted((json.loads(row["raw_data"]) for row in rows), key=lambda r: r["id"])
    assert records == [json.loads(json.dumps(item(i))) for i in range(1, 96)]


def test_probe_datasette_link_header(bq_client, target_config, tmp_path):
    with DatasetteAPI(250) as api:
        args = ("--param", "_shape=objects", "--param", "_size=100")
        config, evidence, status = _probe(tmp_path, api.table_url, "DS_TOKEN", DATASETTE_TOKEN, *args)
        assert status == 0, evidence
        # Datasette 0.65 sends the Link header with every page, besides 'next' and 'next_url' in the body.
        assert config["pagination"] == {"type": "link", "response_path": ""}
        assert config["data_path"] == "rows"
        assert config["params"] == {"_shape": "objects", "_size": "100"}
        assert 'from: response header Link with rel="next"' in evidence
        assert "verdict: OK: 250 records on 3 pages, each page new, and the stop rule ended the sequence" in evidence
        run = run_pipeline(tmp_path, {**config, "secrets": {"ds_token": DATASETTE_TOKEN}}, target_config)
    assert run.tap_returncode == 0, run.tap_stderr[-3000:]
    assert run.target_returncode == 0, run.target_stderr[-3000:]
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items")
    records = sorted((json.loads(row["raw_data"]) for row in rows), key=lambda r: r["id"])
    assert records == [served_item(i) for i in range(1, 251)]
