"""target-bigquery-smart with write_method: storage_write as a process: a run, and kill -9 after the third STATE."""

from __future__ import annotations

import json
import signal
import subprocess

import pytest
from helpers import BIN, record_line, run_target_cli, state_line, table_rows

SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "version": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "owner": {"type": "object", "properties": {"name": {"type": "string"}}},
    },
}
BATCH = 5


def schema_line() -> str:
    return json.dumps({"type": "SCHEMA", "stream": "items", "schema": SCHEMA, "key_properties": ["id"]})


def record(i: int, version: int = 1) -> dict:
    return {"id": i, "version": version, "tags": [f"t{i}"], "owner": {"name": f"n{i}"}}


def batches(first: int, last: int, version: int = 1) -> list[str]:
    """RECORD lines for ids first..last with a STATE (bookmark = last id) after every full batch."""
    lines = []
    for i in range(first, last + 1):
        lines.append(record_line(record(i, version)))
        if i % BATCH == 0:
            lines.append(state_line({"bookmarks": {"items": {"id": i}}}))
    return lines


def test_storage_write_run_through_the_cli(bq_client, target_config, tmp_path):
    # One batch per append (storage_write_queued_batches: 0), so the count of appends is exact.
    config = {**target_config, "write_method": "storage_write", "flatten": True, "batch_size": BATCH}
    config["storage_write_queued_batches"] = 0
    data = "\n".join([schema_line(), *batches(1, 12)]) + "\n"
    result = run_target_cli(config, tmp_path, data.encode())
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    states = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert states == [{"bookmarks": {"items": {"id": 5}}}, {"bookmarks": {"items": {"id": 10}}}]
    assert "storage_appends=3" in result.stderr.decode()
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items", "ORDER BY id")
    assert [(r["id"], r["tags"], r["owner"]) for r in rows] == [(i, [f"t{i}"], {"name": f"n{i}"}) for i in range(1, 13)]


@pytest.mark.parametrize("write_mode", ["append", "merge"])
def test_kill_9_after_the_third_state_then_resume(bq_client, target_config, tmp_path, write_mode):
    """Killed after the third STATE with a partial batch read: the resumed run from that STATE leaves each row once.

    Merge mode resumes from the second STATE, as a tap whose bookmark lags would, and still has each key once.
    """
    # One batch per append, so each batch's STATE is written (batches that wait go together, and
    # then only the STATE after the last of them is).
    config = {**target_config, "write_method": "storage_write", "flatten": True, "batch_size": BATCH}
    config["write_mode"] = write_mode
    config["storage_write_queued_batches"] = 0
    path = tmp_path / "target.json"
    path.write_text(json.dumps(config))
    command = [str(BIN / "target-bigquery-smart"), "--config", str(path)]
    target = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    # Three full batches with their STATE, then two records of a fourth batch still buffered.
    target.stdin.write(("\n".join([schema_line(), *batches(1, 17)]) + "\n").encode())
    target.stdin.flush()
    states = [json.loads(target.stdout.readline()) for _ in range(3)]
    target.send_signal(signal.SIGKILL)
    target.wait(timeout=60)
    target.stdin.close()
    target.stdout.close()
    assert target.returncode == -signal.SIGKILL
    assert states[-1] == {"bookmarks": {"items": {"id": 15}}}
    resume_after = 15 if write_mode == "append" else 10
    data = "\n".join([schema_line(), *batches(resume_after + 1, 23, version=2)]) + "\n"
    result = run_target_cli(config, tmp_path, data.encode())
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items", "ORDER BY id")
    assert [r["id"] for r in rows] == list(range(1, 24))
    assert [r["version"] for r in rows] == [1] * resume_after + [2] * (23 - resume_after)


def test_storage_write_example_config_runs(bq_client, target_config, tmp_path, monkeypatch):
    """examples/storage_write/target.json, pointed at this emulator, loads through the CLI."""
    from helpers import ROOT

    example = json.loads((ROOT / "examples" / "storage_write" / "target.json").read_text())
    config = {**example, **{k: target_config[k] for k in ("dataset", "api_endpoint", "storage_api_endpoint")}}
    data = "\n".join([schema_line(), *batches(1, 5)]) + "\n"
    result = run_target_cli(config, tmp_path, data.encode())
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert "storage_appends=1" in result.stderr.decode()
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items")
    assert sorted(json.loads(r["raw_data"])["id"] for r in rows) == [1, 2, 3, 4, 5]
