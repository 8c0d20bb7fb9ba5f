"""examples/deploy: each engine's definition parsed and checked against what the tap reads, and run.sh run for real.

The engines themselves (Kubernetes, Cloud Run, Airflow) cannot run here; their files are checked
for the contract: the variables the tap reads for ``partition: auto``, the task count, the image
and its entrypoint, and the tap config they mount.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
from pathlib import Path

import yaml
from events_api import EventsAPI
from helpers import BIN

from tap_generic_api.config import parse_streams
from tap_generic_api.partitions.spec import COUNT_VARIABLES, INDEX_VARIABLES, parse_partition

DEPLOY = Path(__file__).resolve().parents[2] / "examples" / "deploy"
IMAGE = "europe-docker.pkg.dev/my-project/etl/tap-generic-api-bigquery:latest"


def _tasks_agree(tap: dict, environments: list[dict[str, str]]) -> None:
    """Every task's environment gives a valid, distinct index of the same count."""
    parse_streams(tap)
    partitions = [parse_partition(tap["partition"], env) for env in environments]
    assert [(p.index, p.count) for p in partitions] == [(i, len(environments)) for i in range(len(environments))]


def test_kubernetes_indexed_job_sets_the_count_the_tap_reads():
    config_map, job, combine = yaml.safe_load_all((DEPLOY / "kubernetes-indexed-job.yaml").read_text())
    assert (config_map["kind"], job["kind"], combine["kind"]) == ("ConfigMap", "Job", "Job")
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    container = spec["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    # Kubernetes sets JOB_COMPLETION_INDEX itself; the count must equal .spec.completions.
    assert env["JOB_COMPLETION_COUNT"] == str(spec["completions"])
    assert "JOB_COMPLETION_INDEX" not in env
    assert container["image"] == IMAGE
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/config", "/secrets", "/state"}
    tap = json.loads(config_map["data"]["tap.json"])
    assert tap == json.loads((DEPLOY / "tap.json").read_text())
    _tasks_agree(tap, [{"JOB_COMPLETION_INDEX": str(i), **env} for i in range(spec["completions"])])
    assert combine["spec"]["template"]["spec"]["containers"][0]["args"] == ["combine"]


def test_cloud_run_job_leaves_the_task_variables_to_cloud_run():
    job = yaml.safe_load((DEPLOY / "cloud-run-job.yaml").read_text())
    assert (job["apiVersion"], job["kind"]) == ("run.googleapis.com/v1", "Job")
    execution = job["spec"]["template"]["spec"]
    container = execution["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert not set(env) & {*INDEX_VARIABLES, *COUNT_VARIABLES}  # Cloud Run sets them
    assert container["image"] == IMAGE
    tap = json.loads((DEPLOY / "tap.json").read_text())
    count = execution["taskCount"]
    _tasks_agree(tap, [{"CLOUD_RUN_TASK_INDEX": str(i), "CLOUD_RUN_TASK_COUNT": str(count)} for i in range(count)])


def test_airflow_dag_maps_one_task_per_index_then_combines():
    tree = ast.parse((DEPLOY / "airflow_dag.py").read_text())
    constants = {
        node.targets[0].id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
    }
    expand = next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "expand")
    (keyword,) = expand.keywords
    assert keyword.arg == "environment"
    mapped = keyword.value
    assert isinstance(mapped, ast.ListComp)
    assert ast.unparse(mapped.generators[0].iter) == "range(TASKS)"
    names = {key.value: ast.unparse(value) for key, value in zip(mapped.elt.keys, mapped.elt.values, strict=True)}
    assert names["JOB_COMPLETION_INDEX"] == "str(index)"
    assert names["JOB_COMPLETION_COUNT"] == "str(TASKS)"
    assert "data_interval_end" in names["END_DATE"]  # every task the same end
    tap = json.loads((DEPLOY / "tap.json").read_text())
    tasks = constants["TASKS"]
    _tasks_agree(tap, [{"JOB_COMPLETION_INDEX": str(i), "JOB_COMPLETION_COUNT": str(tasks)} for i in range(tasks)])
    assert constants["IMAGE"] == IMAGE
    source = ast.unparse(tree)
    assert "command='combine'" in source
    assert "extract >> combine" in source


def test_dockerfile_copies_what_exists_and_runs_run_sh():
    lines = (DEPLOY / "Dockerfile").read_text().splitlines()
    root = DEPLOY.parents[1]
    copies = [line.split()[1:-1] for line in lines if line.startswith("COPY")]
    assert copies
    assert all((root / source).exists() for sources in copies for source in sources)
    assert 'ENTRYPOINT ["/app/run.sh"]' in lines
    assert "COPY examples/deploy/run.sh /app/run.sh" in lines


def test_run_sh_extracts_each_share_then_combines_the_states(tmp_path, target_config, bq_client):
    """run.sh as each engine runs it: two tasks, then ``run.sh combine``; then a second run from the combined state."""
    config, state = tmp_path / "config", tmp_path / "state"
    config.mkdir()
    state.mkdir()
    with EventsAPI(2000, days=4) as api:
        tap = {**json.loads((DEPLOY / "tap.json").read_text()), "url": api.url}
        del tap["auth"]
        tap["rate_limit"] = {}
        (config / "tap.json").write_text(json.dumps(tap))
        (config / "target.json").write_text(json.dumps({**target_config, "flatten": True, "write_mode": "merge"}))
        env = {
            **os.environ,
            "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
            "CONFIG_DIR": str(config),
            "STATE_DIR": str(state),
            "SECRETS_FILE": str(tmp_path / "none.json"),
            "JOB_COMPLETION_COUNT": "2",
            "END_DATE": "2024-01-05T00:00:00Z",
        }
        for index in (0, 1):
            run = subprocess.run(
                [str(DEPLOY / "run.sh")],
                env={**env, "JOB_COMPLETION_INDEX": str(index)},
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert run.returncode == 0, run.stderr[-2000:]
        assert sorted(p.name for p in state.iterdir()) == ["task-0.jsonl", "task-1.jsonl"]
        run = subprocess.run(
            [str(DEPLOY / "run.sh"), "combine"], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert run.returncode == 0, run.stderr
        assert sorted(p.name for p in state.iterdir()) == ["state.json"]
        assert json.loads((state / "state.json").read_text()) == {
            "bookmarks": {"events": {"replication_key": "updated_at", "replication_key_value": "2024-01-05T00:00:00Z"}}
        }
        requests_before = api.requests
        # The next run starts from the combined bookmark: nothing new up to the same end.
        run = subprocess.run(
            [str(DEPLOY / "run.sh")],
            env={**env, "JOB_COMPLETION_INDEX": "0"},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert run.returncode == 0, run.stderr[-2000:]
        assert api.requests == requests_before
    table = f"{target_config['project']}.{target_config['dataset']}.events"
    sql = f"SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS ids FROM `{table}`"
    row = next(iter(bq_client.query_and_wait(sql)))
    assert (row["n"], row["ids"]) == (2000, 2000)
