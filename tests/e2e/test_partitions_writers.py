"""One table, many writers: target processes loading one table at once (partitioned runs)."""

from __future__ import annotations

import json
import subprocess
import threading

from helpers import BIN, BigQueryProxy, run_target, table_rows


def _schema(properties: dict) -> str:
    schema = {"type": "object", "properties": properties}
    return json.dumps({"type": "SCHEMA", "stream": "events", "schema": schema, "key_properties": ["id"]})


def _record(record: dict) -> str:
    return json.dumps({"type": "RECORD", "stream": "events", "record": record})


def test_two_targets_adding_the_same_column_at_once_both_succeed(target_config, bq_emulator, bq_client, tmp_path):
    config = {**target_config, "flatten": True}
    # The table exists with the first schema.
    run_target(config, [_schema({"id": {"type": "integer"}}), _record({"id": 0})])
    # Both targets read the table before either adds the column: the proxy holds each schema
    # update (PATCH) until both have arrived, then sends them on, one after the other.
    both_read = threading.Barrier(2, timeout=60)
    one_at_a_time = threading.Lock()
    patches: list[str] = []
    wider = {"id": {"type": "integer"}, "colour": {"type": "string"}}
    with BigQueryProxy(bq_emulator.endpoint) as proxy:
        forward = proxy.server.RequestHandlerClass._forward

        def hold_then_forward(handler):
            patches.append(handler.path)
            if len(patches) <= 2:
                both_read.wait()
            with one_at_a_time:
                return forward(handler)

        proxy.server.RequestHandlerClass.do_PATCH = hold_then_forward
        processes = []
        for task in (1, 2):
            path = tmp_path / f"target-{task}.json"
            path.write_text(json.dumps({**config, "api_endpoint": proxy.endpoint}))
            lines = [_schema(wider)] + [_record({"id": task * 100 + i, "colour": f"c{task}"}) for i in range(3)]
            processes.append(
                subprocess.Popen(
                    [str(BIN / "target-bigquery-smart"), "--config", str(path)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
            processes[-1].stdin.write("\n".join(lines) + "\n")
            processes[-1].stdin.close()
        outcomes = [(p.wait(timeout=300), p.stderr.read()) for p in processes]

    assert [code for code, _ in outcomes] == [0, 0], [err[-2000:] for _, err in outcomes]
    # Both tried to add the column against the same table version; the second, refused (412),
    # read the table again and found the column there.
    assert len(patches) == 2, patches
    table = bq_client.get_table(f"{target_config['project']}.{target_config['dataset']}.events")
    assert [f.name for f in table.schema if f.name in ("id", "colour")] == ["id", "colour"]
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "events", "ORDER BY id")
    assert [(r["id"], r["colour"]) for r in rows] == [
        (0, None),
        (100, "c1"),
        (101, "c1"),
        (102, "c1"),
        (200, "c2"),
        (201, "c2"),
        (202, "c2"),
    ]


def test_a_table_created_by_another_writer_at_the_same_moment_is_read_and_loaded(target_config, bq_emulator, bq_client):
    # The create reaches BigQuery, but this target is answered as the loser of a race (the local
    # emulator answers 400 where BigQuery answers 409): the table exists, so it is read and used.
    refused = []

    def lose_the_race(method: str, path: str, status: int, body: bytes) -> tuple[int, bytes]:
        if method == "POST" and path.split("?")[0].endswith("/tables") and not refused:
            refused.append(path)
            error = {"error": {"code": 400, "message": "Failed to commit: Failed to commit DuckLake transaction."}}
            return 400, json.dumps(error).encode()
        return status, body

    with BigQueryProxy(bq_emulator.endpoint, answer=lose_the_race) as proxy:
        config = {**target_config, "flatten": True, "api_endpoint": proxy.endpoint}
        run_target(config, [_schema({"id": {"type": "integer"}}), _record({"id": 1}), _record({"id": 2})])
    assert len(refused) == 1
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "events", "ORDER BY id")
    assert [r["id"] for r in rows] == [1, 2]
