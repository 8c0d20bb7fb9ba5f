"""Load jobs and MERGEs: job ids per batch of a run, the job deadline, staging tables that expire."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout

import pytest
from conftest import table_rows
from test_target_loading import record_line, run_target, schema_line

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
