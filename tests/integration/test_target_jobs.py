"""Load jobs and MERGEs: job ids per batch of a run, the job deadline, staging tables that expire."""

from __future__ import annotations

import io
import json
import re
import subprocess
import threading
from contextlib import redirect_stdout
from datetime import UTC, datetime, timedelta

import pytest
from helpers import BIN, BigQueryProxy, record_line, run_target, schema_line, state_line, table_rows

from target_bigquery_smart import loader
from target_bigquery_smart.target import TargetBigQuerySmart

pytestmark = pytest.mark.emulator
CAPTURE_DEBUG_LOGS = False


def _raw(bq_client, config, table="items"):
    rows = table_rows(bq_client, config["project"], config["dataset"], table)
    return sorted((json.loads(r["raw_data"]) for r in rows), key=json.dumps)


def test_a_merge_key_flapping_a_b_a_one_record_per_batch_ends_at_a(target_config, bq_client):
    lines = [schema_line()] + [record_line({"id": 1, "v": v}) for v in ("a", "b", "a")]
    run_target({**target_config, "write_mode": "merge", "batch_size": 1}, lines)
    assert _raw(bq_client, target_config) == [{"id": 1, "v": "a"}]


def test_an_identical_batch_after_a_schema_change_is_loaded_again(target_config, bq_client):
    v2 = {"type": "object", "properties": {"id": {}, "v": {}}, "additionalProperties": True}
    batch = [record_line({"id": 1}), record_line({"id": 2})]
    lines = [schema_line(), *batch]
    lines += [json.dumps({"type": "SCHEMA", "stream": "items", "schema": v2, "key_properties": ["id"]}), *batch]
    run_target({**target_config, "batch_size": 2, "streaming_threshold": 1}, lines)
    assert _raw(bq_client, target_config) == [{"id": 1}, {"id": 1}, {"id": 2}, {"id": 2}]


def test_each_batch_of_a_run_has_its_own_job_id_from_run_stream_number_and_content(target_config, monkeypatch):
    """Two runs of the same input: four batches, four ids, each the documented hash of its batch."""
    uploads = []
    real = loader.bigquery.Client.load_table_from_file

    def spy(self, file_obj, destination, *args, **kwargs):
        uploads.append((kwargs["job_id"], file_obj.getvalue()))
        file_obj.seek(0)
        return real(self, file_obj, destination, *args, **kwargs)

    monkeypatch.setattr(loader.bigquery.Client, "load_table_from_file", spy)
    config = {**target_config, "batch_size": 2, "streaming_threshold": 1, "add_fields": {"extracted_at": "2026-01-01"}}
    lines = [schema_line(), *[record_line({"id": i}) for i in (1, 2, 1, 2)]]
    run_ids = []
    for _ in range(2):
        target = TargetBigQuerySmart(config=config, parse_env_config=False)
        with redirect_stdout(io.StringIO()):
            target.listen(file_input=io.StringIO("\n".join(lines) + "\n"))
        run_ids.append(target.run_id)
    table_id = f"{target_config['project']}.{target_config['dataset']}.items"
    # The four uploads hold the same rows, extracted_at fixed: only run and batch number differ.
    assert len({payload for _, payload in uploads}) == 1
    assert [job_id for job_id, _ in uploads] == [
        loader.load_job_id(table_id, payload, f"{run_id}\nitems\n{number}")
        for (_, payload), (run_id, number) in zip(
            uploads, [(run_ids[0], 1), (run_ids[0], 2), (run_ids[1], 1), (run_ids[1], 2)], strict=True
        )
    ]
    assert len({job_id for job_id, _ in uploads}) == 4
    assert run_ids[0] != run_ids[1]


def _still_running(job_kind: str, held: set[str]):
    """Answer every job of ``job_kind`` (load, merge) but the first as RUNNING, its results as incomplete.

    The ids of the jobs held go into ``held``.
    """
    first: list[str] = []

    def answer(method, path, status, body):
        try:
            resource = json.loads(body)
        except ValueError:
            return status, body
        job_id = (resource.get("jobReference") or {}).get("jobId", "") if isinstance(resource, dict) else ""
        if not job_id.startswith(f"target_bigquery_smart_{job_kind}_"):
            return status, body
        if not first:
            first.append(job_id)
        if job_id == first[0]:
            return status, body
        held.add(job_id)
        if resource.get("kind") == "bigquery#job":
            resource["status"] = {"state": "RUNNING"}
        else:  # getQueryResults
            resource["jobComplete"] = False
        return status, json.dumps(resource).encode()

    return answer


def test_a_load_job_still_running_at_the_deadline_fails_the_run_naming_it_with_no_state_past_it(
    tmp_path, target_config
):
    held: set[str] = set()
    with BigQueryProxy(target_config["api_endpoint"], _still_running("load", held)) as proxy:
        config = {
            **target_config,
            "api_endpoint": proxy.endpoint,
            "batch_size": 2,
            "streaming_threshold": 1,
            # The proxy holds one job RUNNING for ever; the others must finish within the deadline
            # on a busy machine too: 5 s is about a hundred times the emulator's time for a job.
            "job_timeout_seconds": 5,
        }
        path = tmp_path / "target.json"
        path.write_text(json.dumps(config))
        lines = [schema_line(), record_line({"id": 1}), record_line({"id": 2}), state_line({"upto": 2})]
        lines += [record_line({"id": 3}), record_line({"id": 4}), state_line({"upto": 4})]
        result = subprocess.run(
            [str(BIN / "target-bigquery-smart"), "--config", str(path)],
            input="\n".join(lines) + "\n",
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    [job_id] = held
    assert result.returncode == 1
    assert [json.loads(line) for line in result.stdout.splitlines()] == [{"upto": 2}]
    table_id = f"{target_config['project']}.{target_config['dataset']}.items"
    assert (
        f"Load job into {table_id} (job {job_id}) was not done after 5 s (job_timeout_seconds); the run stops"
        in result.stderr
    )
    assert ("POST", f"/bigquery/v2/projects/{target_config['project']}/jobs/{job_id}/cancel") in [
        (m, p.split("?")[0]) for m, p in proxy.requests
    ]


def test_a_merge_still_running_at_the_deadline_fails_the_batch_naming_it(target_config, bq_client):
    held: set[str] = set()
    with BigQueryProxy(target_config["api_endpoint"], _still_running("merge", held)) as proxy:
        config = {
            **target_config,
            "api_endpoint": proxy.endpoint,
            "write_mode": "merge",
            "batch_size": 1,
            "job_timeout_seconds": 5,
        }
        lines = [schema_line(), record_line({"id": 1, "v": "a"}), state_line({"upto": 1})]
        lines += [record_line({"id": 1, "v": "b"}), state_line({"upto": 2})]
        target = TargetBigQuerySmart(config=config, parse_env_config=False)
        out, errors = io.StringIO(), []

        def listen():
            try:
                with redirect_stdout(out):
                    target.listen(file_input=io.StringIO("\n".join(lines) + "\n"))
            except Exception as exc:  # noqa: BLE001 - checked below
                errors.append(exc)

        # A thread, so that a target waiting past the deadline fails this test instead of hanging it.
        thread = threading.Thread(target=listen, daemon=True)
        thread.start()
        thread.join(120)
        assert not thread.is_alive(), "the MERGE was waited for past job_timeout_seconds"
    [job_id] = held
    [error] = errors
    assert isinstance(error, loader.JobDeadlineError)
    table_id = f"{target_config['project']}.{target_config['dataset']}.items"
    assert str(error).startswith(f"MERGE into {table_id} (job {job_id}) was not done after 5 s")
    assert [json.loads(line) for line in out.getvalue().splitlines()] == [{"upto": 1}]


def test_a_staging_table_left_by_a_killed_merge_expires_after_a_day(target_config, bq_client):
    """The staging table's drop never reaches BigQuery (as when the run is killed): it expires."""

    before = datetime.now(UTC)
    with BigQueryProxy(target_config["api_endpoint"]) as proxy:
        proxy.lost = lambda method, path: method == "DELETE" and "__staging_" in path
        config = {**target_config, "api_endpoint": proxy.endpoint, "write_mode": "merge"}
        run_target(config, [schema_line(), record_line({"id": 1, "v": "a"})])
    after = datetime.now(UTC)
    dataset = f"{target_config['project']}.{target_config['dataset']}"
    [staging] = [t for t in bq_client.list_tables(dataset) if "__staging_" in t.table_id]
    expires = bq_client.get_table(staging).expires
    assert before + timedelta(days=1) - timedelta(seconds=1) <= expires <= after + timedelta(days=1)
    assert re.fullmatch(r"items__staging_[0-9a-f]{16}", staging.table_id)
    assert _raw(bq_client, target_config) == [{"id": 1, "v": "a"}]


def test_staging_table_names_are_per_batch_and_within_bigquerys_1024_characters():
    longest = "p.d." + "m" * 1024
    name = loader.staging_table_name(longest, "run\nitems\n1", b"rows")
    assert re.fullmatch(r"m{998}__staging_[0-9a-f]{16}", name)
    assert loader.staging_table_name(longest, "run\nitems\n1", b"rows") == name  # a retry of the batch
    assert loader.staging_table_name(longest, "run\nitems\n2", b"rows") != name  # the next batch, same rows
    assert loader.staging_table_name("p.d.items", "run\nitems\n1", b"rows").startswith("items__staging_")
