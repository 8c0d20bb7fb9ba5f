"""A default run's stderr: progress and summary lines, no METRIC lines, no SDK set-up lines (CLI)."""

from __future__ import annotations

import json
import os
import re
import subprocess

from helpers import BIN, metric_points, run_pipeline

RECORDS = [{"id": 1, "updated": "2024-01-01T00:00:00Z"}, {"id": 2, "updated": "2024-01-02T00:00:00Z"}]


def _run(tmp_path, httpserver, *, env=None, **extra):
    httpserver.expect_request("/v1/items").respond_with_json({"items": RECORDS})
    config = {
        "url": httpserver.url_for("/v1/items"),
        "data_path": "items",
        "destination": {"table": "items", "key_fields": ["id"]},
        "replication_key": "updated",
        **extra,
    }
    path = tmp_path / "tap.json"
    path.write_text(json.dumps(config))
    result = subprocess.run(
        [str(BIN / "tap-generic-api"), "--config", str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "LOGLEVEL": "INFO", **(env or {})},
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stderr


def _messages(stderr: str) -> list[str]:
    """Each line as ``LEVEL | logger | message``, without the time stamp and padding."""
    return [" | ".join(part.strip() for part in line.split("|")[1:]) for line in stderr.splitlines()]


def test_a_default_run_logs_the_run_only(tmp_path, httpserver):
    lines = _messages(_run(tmp_path, httpserver))
    lines = [re.sub(r"seconds=[\d.]+", "seconds=S", re.sub(r"v[\d.]+", "vX", line)) for line in lines]
    assert lines == [
        "INFO | tap-generic-api | tap-generic-api vX, Meltano SDK vX",
        "INFO | tap-generic-api.items | Beginning sync of 'items' in incremental mode",
        "INFO | tap-generic-api.items | Starting incremental sync of 'items' with bookmark value: None",
        "INFO | tap-generic-api.items | Summary for stream 'items': pages=1, retries=0, truncated=False, records=2, "
        "seconds=S",
    ]


def test_metrics_log_level_info_brings_the_metric_lines_back(tmp_path, httpserver):
    stderr = _run(tmp_path, httpserver, metrics_log_level="INFO")
    (summary,) = metric_points(stderr, "stream_summary")
    assert summary["tags"]["records"] == 2
    assert "Skipping parse of env var settings" not in stderr


def test_debug_shows_metrics_and_set_up_lines_at_debug_but_never_the_config_schema(tmp_path, httpserver):
    stderr = _run(tmp_path, httpserver, env={"LOGLEVEL": "DEBUG"})
    lines = _messages(stderr)
    assert "DEBUG | tap-generic-api | Skipping parse of env var settings..." in lines
    assert "DEBUG | singer_sdk | Stream is assumed to be unsorted, progress is not resumable if interrupted" in lines
    metric_lines = [line for line in lines if "METRIC: " in line]
    assert metric_lines
    assert all(line.startswith("DEBUG | singer_sdk.metrics | METRIC: ") for line in metric_lines)
    # The schema's descriptions never reach the log (the SDK logged the whole schema, about 10 KB).
    assert "Validating config" not in stderr
    assert "Dotted path to the records" not in stderr


def test_a_default_pipeline_run_has_no_metric_or_set_up_line_from_either_plugin(
    tmp_path, httpserver, target_config, bq_client
):
    httpserver.expect_request("/v1/items").respond_with_json({"items": RECORDS})
    tap_config = {
        "url": httpserver.url_for("/v1/items"),
        "data_path": "items",
        "destination": {"table": "items", "key_fields": ["id"]},
        "replication_key": "updated",
    }
    run = run_pipeline(tmp_path, tap_config, target_config)
    assert (run.tap_returncode, run.target_returncode) == (0, 0), run.target_stderr[-2000:]
    assert "METRIC" not in run.tap_stderr
    target_lines = [re.sub(r"seconds=[\d.]+", "seconds=S", line) for line in _messages(run.target_stderr)]
    table = f"{target_config['project']}.{target_config['dataset']}.items"
    assert target_lines[1:] == [
        "INFO | target-bigquery-smart | Reader 'target-bigquery-smart' completed processing 4 lines of input "
        "(1 schemas, 2 records, 0 batch manifests, 1 state messages, 0 activate version messages).",
        f"INFO | target-bigquery-smart.items | Summary for stream 'items': table={table}, streaming_calls=1, "
        "load_jobs=0, merges=0, storage_appends=0, dead_lettered=0, retries=0, rows=2, seconds=S",
    ]
    assert target_lines[0].startswith("INFO | target-bigquery-smart | target-bigquery-smart v")


def _failing_run(tmp_path, config):
    path = tmp_path / "tap.json"
    path.write_text(json.dumps(config))
    command = [str(BIN / "tap-generic-api"), "--config", str(path)]
    env = {**os.environ, "LOGLEVEL": "INFO"}
    env.pop("TRACEBACK", None)
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False, timeout=60)
    assert result.returncode == 1
    starts = ("Error:", "Config error:")
    return [line for line in result.stderr.splitlines() if "ERROR" in line or line.startswith(starts)]


def test_an_api_error_gives_one_error_line_only(tmp_path, httpserver):
    httpserver.expect_request("/v1/items").respond_with_json({"message": "no"}, status=403)
    url = httpserver.url_for("/v1/items")
    (line,) = _failing_run(tmp_path, {"url": url, "destination": {"table": "items"}})
    assert line.startswith(f"Error: Stream 'items': API error 403 FORBIDDEN for {url} ")


def test_a_response_shape_error_gives_one_error_line_only(tmp_path, httpserver):
    httpserver.expect_request("/v1/items").respond_with_json({"data": {"users": RECORDS}})
    url = httpserver.url_for("/v1/items")
    config = {"url": url, "data_path": "data", "destination": {"table": "items", "key_fields": ["id"]}}
    assert _failing_run(tmp_path, config) == [
        f"Error: Stream 'items': data_path 'data' gives one object in the response from {url}; its key 'users' "
        "holds a list of 2 objects: set data_path to 'data.users'."
    ]


def test_a_config_error_found_while_syncing_gives_one_error_line_only(tmp_path, httpserver):
    httpserver.expect_request("/users").respond_with_json([{"id": 7}])
    config = {
        "streams": [
            {"name": "users", "url": httpserver.url_for("/users"), "destination": {"table": "users"}},
            {
                "name": "orders",
                "parent": "users",
                "url": httpserver.url_for("/users/{parent.user_id}/orders"),
                "destination": {"table": "orders"},
            },
        ]
    }
    (line,) = _failing_run(tmp_path, config)
    assert line.startswith("Config error: ")
    assert "uses {parent.user_id}, but the first record of parent stream 'users' has no field 'user_id'" in line


def test_a_name_differing_from_destination_table_is_warned_at_start_once(tmp_path, httpserver):
    lines = _messages(_run(tmp_path, httpserver, name="items_v2"))
    warning = (
        "WARNING | tap-generic-api | config: name 'items_v2' and destination.table 'items' differ; name wins: the "
        "stream is 'items_v2' and the table written is 'items_v2' (targets name the table after the stream). Set "
        "one of them, or both to the same value."
    )
    assert [line for line in lines if line.startswith("WARNING")] == [warning]
    start = "INFO | tap-generic-api.items_v2 | Beginning sync of 'items_v2' in incremental mode"
    assert lines.index(warning) < lines.index(start)


def test_a_name_equal_to_destination_table_is_not_warned(tmp_path, httpserver):
    lines = _messages(_run(tmp_path, httpserver, name="items"))
    assert [line for line in lines if line.startswith("WARNING")] == []
