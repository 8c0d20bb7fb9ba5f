"""README's *Your first API in five minutes*, as written: its configs, --test, the pipe and the query snippet."""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess

import pytest
from helpers import BIN, ROOT, run_pipeline
from werkzeug import Request, Response

SECTION = ROOT.joinpath("README.md").read_text().split("## Your first API in five minutes", 1)[1].split("\n## ", 1)[0]
USERS = [
    {"id": i, "email": f"u{i}@example.com", "name": f"User {i}", "created_at": "2024-01-01T00:00:00Z"}
    for i in range(1, 251)
]


def _block(language: str) -> str:
    return re.search(rf"```{language}\n(.*?)```", SECTION, re.DOTALL).group(1)


def _users(request: Request) -> Response:
    """100 users a page, ``?page=1,2,...&per_page=100``, behind the README's bearer token."""
    if request.headers.get("Authorization") != "Bearer your-token":
        return Response("unauthorized", status=401)
    page, size = int(request.args["page"]), int(request.args["per_page"])
    body = {"users": USERS[(page - 1) * size : page * size]}
    return Response(json.dumps(body), content_type="application/json")


@pytest.fixture
def readme_configs(httpserver, tmp_path, bq_emulator, dataset):
    httpserver.expect_request("/v1/users").respond_with_handler(_users)
    tap = json.loads(_block("json"))
    tap["url"] = tap["url"].replace("https://api.example.com", httpserver.url_for("").rstrip("/"))
    target = json.loads(re.search(r"`my-target.json`, `(\{.*?\})`", SECTION, re.DOTALL).group(1).replace("\n", " "))
    assert target == {"project": "local", "dataset": "first", "api_endpoint": "http://127.0.0.1:9050", "flatten": True}
    target.update(dataset=dataset, api_endpoint=bq_emulator.endpoint)
    return tap, target


def test_the_readme_first_api_steps_load_every_record(readme_configs, tmp_path, bq_emulator, bq_client, dataset):
    tap, target = readme_configs
    path = tmp_path / "my-tap.json"
    path.write_text(json.dumps(tap))
    command = [str(BIN / "tap-generic-api"), "--config", str(path), "--test"]
    test = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert test.stdout.splitlines() == [
        "Stream 'users': 100 records on the first page; first record's keys: id, email, name, created_at"
    ]
    assert f"# {test.stdout.strip()}" in SECTION  # the output the README shows

    run = run_pipeline(tmp_path, tap, target)
    assert (run.tap_returncode, run.target_returncode) == (0, 0), run.tap_stderr[-2000:] + run.target_stderr[-2000:]

    snippet = _block("python").replace("http://127.0.0.1:9050", bq_emulator.endpoint)
    snippet = snippet.replace("FROM first.users LIMIT 5", f"FROM {dataset}.users ORDER BY id LIMIT 5")
    assert len([line for line in _block("python").splitlines() if line]) == 6
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(snippet, {})  # the README's snippet, pointed at this test's emulator and dataset
    rows = out.getvalue().splitlines()
    assert len(rows) == 5
    assert rows[0].startswith("{'org_slug': None, 'extracted_at': datetime.datetime(")
    assert rows[0].endswith(
        "'id': 1, 'email': 'u1@example.com', 'name': 'User 1', 'created_at': datetime.datetime(2024, 1, 1, 0, 0, "
        "tzinfo=datetime.timezone.utc), '_sdc_extra': None}"
    )
    ids = [row["id"] for row in bq_client.query_and_wait(f"SELECT id FROM {dataset}.users ORDER BY id")]
    assert ids == list(range(1, 251))
