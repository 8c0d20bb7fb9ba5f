"""examples/probe/run.sh: probe, run the probed config, and import the OpenAPI description, on the local APIs."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from local_services import free_port

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "probe" / "run.sh"


def test_the_five_minute_example_runs(tmp_path):
    env = {**os.environ, "PORT": str(free_port()), "OUT": str(tmp_path)}
    run = subprocess.run(["bash", str(EXAMPLE)], capture_output=True, text=True, env=env, timeout=180, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "records extracted: 95" in run.stdout
    assert "verdict: OK so far: 30 records on 3 pages, each page new" in run.stderr
    probed = json.loads((tmp_path / "tap.json").read_text())
    assert probed["pagination"] == {"type": "cursor", "param": "cursor", "response_path": "meta.next_cursor"}
    imported = json.loads((tmp_path / "openapi-tap.json").read_text())
    assert len(imported["streams"]) == 8  # noqa: PLR2004
