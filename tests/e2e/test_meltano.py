"""`meltano install` and `meltano run` with the project's meltano.yml: Datasette -> emulator,
then a second run that loads only the new records (Meltano's stored state)."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest
from helpers import ROOT, table_rows
from local_services import DATASETTE_TOKEN, DatasetteAPI

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

MELTANO = ROOT / ".plugins" / "meltano" / "bin" / "meltano"


@pytest.fixture
def meltano_project(tmp_path):
    """A copy of meltano.yml whose plugins install this checkout."""
    project = tmp_path / "project"
    project.mkdir()
    text = (ROOT / "meltano.yml").read_text().replace("pip_url: -e .", f"pip_url: -e {ROOT}")
    (project / "meltano.yml").write_text(text)
    return project


def _meltano(project, *args, env, timeout=900):
    result = subprocess.run(
        [str(MELTANO), *args], cwd=project, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return result


def test_meltano_install_and_incremental_runs(meltano_project, bq_emulator, bq_client):
    dataset = f"meltano_{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_DISABLE_TRACKING": "true",
        "DEMO_BIGQUERY_ENDPOINT": bq_emulator.endpoint,
        "TAP_GENERIC_API_SECRETS": json.dumps({"demo_api": DATASETTE_TOKEN}),
        "TARGET_BIGQUERY_SMART_DATASET": dataset,
    }
    _meltano(meltano_project, "install", env=env)
    with DatasetteAPI(500) as api:
        env["DEMO_API_BASE"] = api.base_url
        _meltano(meltano_project, "run", "tap-generic-api", "target-bigquery-smart", env=env)
        first = table_rows(bq_client, "local", dataset, "demo_items_raw")
        assert sorted(json.loads(r["raw_data"])["id"] for r in first) == list(range(1, 501))

        api.add_items(100)
        _meltano(meltano_project, "run", "tap-generic-api", "target-bigquery-smart", env=env)
        rows = table_rows(bq_client, "local", dataset, "demo_items_raw")
        ids = [json.loads(r["raw_data"])["id"] for r in rows]
        # Only the 100 new records were loaded by the second run (the bookmark came from state).
        assert sorted(ids) == list(range(1, 601))
        extracted = {r["extracted_at"] for r in rows if json.loads(r["raw_data"])["id"] > 500}
        assert len(extracted) == 1
        assert extracted.isdisjoint({r["extracted_at"] for r in first})

        state = _meltano(meltano_project, "state", "get", "dev:tap-generic-api-to-target-bigquery-smart", env=env)
        assert '"replication_key_value": 600' in state.stdout.replace('":600', '": 600')
