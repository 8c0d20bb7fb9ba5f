"""The example configs (HubSpot, Stripe, GitHub, vendor pipeline, demo, CSV export, report job): valid, and each runs
against a local server answering in that API's documented response shape."""

from __future__ import annotations

import gzip
import io
import json
from contextlib import redirect_stdout
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from tap_generic_api.config import parse_streams
from tap_generic_api.tap import TapGenericAPI
from target_bigquery_smart.settings import parse_settings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TOTAL = 250


def _load(name, kind="tap"):
    return json.loads((EXAMPLES / name / f"{kind}.json").read_text())


@pytest.mark.parametrize("name", ["hubspot", "stripe", "github", "vendor_pipeline", "demo", "csv_export", "report_job"])
def test_example_configs_are_valid(name):
    tap = _load(name)
    streams = parse_streams(tap)
    assert streams
    assert streams[0].name == tap["destination"]["table"]
    settings = parse_settings(_load(name, "target"))
    assert settings.batch_size == 1000


def _local(config, server):
    """Point the example at the local server: same path, query and everything else."""
    parts = urlsplit(config["url"])
    config = {**config, "url": server.url_for(parts.path), "rate_limit": {"requests_per_second": 1000}}
    return config


def _run(config):
    out = io.StringIO()
    with redirect_stdout(out):
        TapGenericAPI(config=config, parse_env_config=False).sync_all()
    return [json.loads(line) for line in out.getvalue().splitlines()]


def _records(messages):
    return [m["record"] for m in messages if m["type"] == "RECORD"]


def test_hubspot_contacts(httpserver):
    """HubSpot CRM v3 list: results + paging.next.after (developers.hubspot.com, CRM objects)."""

    def handler(request):
        assert request.headers["Authorization"] == "Bearer replace-with-a-private-app-token"
        limit = int(request.args["limit"])
        start = int(request.args.get("after", 0))
        ids = range(start, min(start + limit, TOTAL))
        body = {"results": [{"id": str(i), "properties": {"email": f"c{i}@x.com"}, "archived": False} for i in ids]}
        if start + limit < TOTAL:
            body["paging"] = {"next": {"after": str(start + limit), "link": f"?after={start + limit}"}}
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request("/crm/v3/objects/contacts").respond_with_handler(handler)
    messages = _run(_local(_load("hubspot"), httpserver))
    assert [r["id"] for r in _records(messages)] == [str(i) for i in range(TOTAL)]
    assert messages[0]["key_properties"] == ["id"]
    assert len(httpserver.log) == 3


def test_stripe_balance_transactions(httpserver):
    """Stripe list objects: data + has_more, next page via starting_after=<last id> (stripe.com/docs/api/pagination)."""
    created = 1_704_067_200

    def handler(request):
        assert int(request.args["created[gte]"]) == created
        limit = int(request.args["limit"])
        after = request.args.get("starting_after")
        start = int(after.removeprefix("txn_")) + 1 if after else 0
        ids = range(start, min(start + limit, TOTAL))
        body = {
            "object": "list",
            "url": "/v1/balance_transactions",
            "has_more": start + limit < TOTAL,
            "data": [
                {"id": f"txn_{i}", "object": "balance_transaction", "amount": i, "created": created + i} for i in ids
            ],
        }
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request("/v1/balance_transactions").respond_with_handler(handler)
    messages = _run(_local(_load("stripe"), httpserver))
    assert [r["id"] for r in _records(messages)] == [f"txn_{i}" for i in range(TOTAL)]
    state = [m for m in messages if m["type"] == "STATE"][-1]["value"]
    assert state["bookmarks"]["stripe_transactions_raw"]["replication_key_value"] == created + TOTAL - 1


def test_github_repos(httpserver):
    """GitHub REST: a JSON array, next page in the Link header (docs.github.com, using pagination)."""

    def handler(request):
        assert request.headers["Accept"] == "application/vnd.github+json"
        per_page = int(request.args["per_page"])
        page = int(request.args.get("page", 1))
        start = (page - 1) * per_page
        body = [
            {"id": i, "name": f"repo-{i}", "full_name": f"meltano/repo-{i}"}
            for i in range(start, min(start + per_page, TOTAL))
        ]
        headers = {}
        if start + per_page < TOTAL:
            next_url = httpserver.url_for(f"/orgs/meltano/repos?per_page={per_page}&page={page + 1}")
            headers["Link"] = (
                f'<{next_url}>; rel="next", <{httpserver.url_for("/orgs/meltano/repos?page=3")}>; rel="last"'
            )
        return Response(json.dumps(body), content_type="application/json", headers=headers)

    httpserver.expect_request("/orgs/meltano/repos").respond_with_handler(handler)
    config = _load("github")
    messages = _run(_local(config, httpserver))
    assert [r["id"] for r in _records(messages)] == list(range(TOTAL))
    assert [entry[0].args.get("page") for entry in httpserver.log] == [None, "2", "3"]


def test_vendor_pipeline_with_decrypted_secret(httpserver):
    """The vendor example after its decrypt step: secrets arrive as a second config."""

    def handler(request):
        assert request.headers["Authorization"] == "Bearer decrypted-token"
        start = int(request.args.get("cursor", 0))
        ids = range(start, min(start + 100, TOTAL))
        next_cursor = str(start + 100) if start + 100 < TOTAL else None
        return Response(
            json.dumps({"items": [{"id": i} for i in ids], "next_cursor": next_cursor}), content_type="application/json"
        )

    httpserver.expect_request("/v1/data").respond_with_handler(handler)
    config = {**_load("vendor_pipeline"), "secrets": {"vendor_api_key": "decrypted-token"}}
    messages = _run(_local(config, httpserver))
    assert [r["id"] for r in _records(messages)] == list(range(TOTAL))


def test_github_issues_of_each_repository(httpserver):
    """Child streams: each repository's issues (docs.github.com, REST issues: list repository issues), repos
    read for their children only, pull requests dropped by a stream map, a repository with issues disabled
    (410 Gone) skipped."""
    issues = {
        "meltano/alpha": [
            {"id": 1000 + i, "number": i, "updated_at": f"2024-02-01T00:{i // 60:02d}:{i % 60:02d}Z"}
            | ({"pull_request": {"url": "x"}} if i % 10 == 0 else {})
            for i in range(150)
        ],
        "meltano/beta": [{"id": 2000 + i, "number": i, "updated_at": f"2024-03-0{i + 1}T00:00:00Z"} for i in range(3)],
    }

    def issues_handler(request):
        assert request.headers["Authorization"] == "Bearer replace-with-a-token"
        assert request.args["since"] == "2024-01-01T00:00:00Z"
        assert (request.args["state"], request.args["sort"], request.args["direction"]) == ("all", "updated", "asc")
        full_name = request.path.removeprefix("/repos/").removesuffix("/issues")
        if full_name not in issues:
            return Response(json.dumps({"message": "Issues are disabled for this repo"}), status=410)
        per_page, page = int(request.args["per_page"]), int(request.args.get("page", 1))
        rows = issues[full_name][(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(issues[full_name]):
            next_url = httpserver.url_for(f"/repos/{full_name}/issues") + (
                f"?state=all&sort=updated&direction=asc&since=2024-01-01T00:00:00Z&per_page={per_page}&page={page + 1}"
            )
            headers["Link"] = f'<{next_url}>; rel="next"'
        return Response(json.dumps(rows), content_type="application/json", headers=headers)

    repos = [{"id": n, "full_name": f"meltano/{name}"} for n, name in enumerate(("alpha", "gone", "beta"), 1)]
    httpserver.expect_request("/orgs/meltano/repos").respond_with_json(repos)
    for name in ("alpha", "gone", "beta"):
        httpserver.expect_request(f"/repos/meltano/{name}/issues").respond_with_handler(issues_handler)
    config = _load("github_issues")
    for stream in config["streams"]:
        stream["url"] = stream["url"].replace("https://api.github.com", httpserver.url_for("").rstrip("/"))
    config["rate_limit"] = {"requests_per_second": 1000}
    messages = _run(config)

    assert {m["stream"] for m in messages if m["type"] == "SCHEMA"} == {"issues"}
    expected = [
        issue | {"_parent_full_name": name}
        for name in ("meltano/alpha", "meltano/beta")
        for issue in issues[name]
        if "pull_request" not in issue
    ]
    assert _records(messages) == expected
    state = next(m["value"] for m in reversed(messages) if m["type"] == "STATE")
    partitions = state["bookmarks"]["issues"]["partitions"]
    assert {p["context"]["parent.full_name"]: p.get("replication_key_value") for p in partitions} == {
        "meltano/alpha": "2024-02-01T00:02:29Z",
        "meltano/gone": None,
        "meltano/beta": "2024-03-03T00:00:00Z",
    }


def test_csv_export(httpserver):
    """A CSV export with ';' delimiters, gzip-compressed without Content-Encoding, next part in the Link header."""
    parts = {
        "1": "invoice_id;customer;amount;paid;lines;issued_at\r\n"
        'inv-1;"Dupont; Fils";120.50;true;3;2026-01-02T10:00:00Z\r\n'
        'inv-2;"Multi\nline";0;false;;2026-01-03T11:00:00Z\r\n',
        "2": "invoice_id;customer;amount;paid;lines;issued_at\r\ninv-3;Plain;9.99;yes;1;2026-01-04T12:00:00Z\r\n",
    }

    def handler(request):
        assert request.headers["X-Api-Key"] == "replace-with-an-api-key"
        part = request.args.get("part", "1")
        headers = (
            {"Link": f'<{httpserver.url_for("/v1/exports/invoices.csv")}?part=2>; rel="next"'} if part == "1" else {}
        )
        body = gzip.compress(parts[part].encode())
        return Response(body, content_type="application/octet-stream", headers=headers)

    httpserver.expect_request("/v1/exports/invoices.csv").respond_with_handler(handler)
    records = _records(_run(_local(_load("csv_export"), httpserver)))
    assert records == [
        {
            "invoice_id": "inv-1",
            "customer": "Dupont; Fils",
            "amount": 120.5,
            "paid": True,
            "lines": 3,
            "issued_at": "2026-01-02T10:00:00Z",
        },
        {
            "invoice_id": "inv-2",
            "customer": "Multi\nline",
            "amount": 0,
            "paid": False,
            "lines": None,
            "issued_at": "2026-01-03T11:00:00Z",
        },
        {
            "invoice_id": "inv-3",
            "customer": "Plain",
            "amount": 9.99,
            "paid": True,
            "lines": 1,
            "issued_at": "2026-01-04T12:00:00Z",
        },
    ]


def test_report_job(httpserver):
    """Create the report, poll it until COMPLETED, download its file from storage without the token."""
    storage = HTTPServer(host="127.0.0.1", port=0)
    storage.start()
    try:
        polls = []

        def status(request):
            assert request.headers["Authorization"] == "Bearer replace-with-a-token"
            polls.append(request.path)
            done = len(polls) == 2
            report = {"id": "r1", "status": "COMPLETED" if done else "RUNNING"}
            if done:
                report["files"] = [storage.url_for("/bucket/r1.csv.gz") + "?X-Amz-Signature=abc"]
            return Response(json.dumps({"report": report}), content_type="application/json")

        def download(request):
            assert "Authorization" not in request.headers
            assert request.args["X-Amz-Signature"] == "abc"
            csv_text = "day,campaign_id,impressions,spend\n2026-01-01,c1,100,1.50\n2026-01-02,c1,80,1.25\n"
            return Response(gzip.compress(csv_text.encode()), content_type="application/octet-stream")

        httpserver.expect_request("/v2/reports", method="POST").respond_with_json({"report": {"id": "r1"}})
        httpserver.expect_request("/v2/reports/r1").respond_with_handler(status)
        storage.expect_request("/bucket/r1.csv.gz").respond_with_handler(download)
        config = _local(_load("report_job"), httpserver)
        config["job"] = {**config["job"], "poll_url": httpserver.url_for("/v2/reports/{job_id}"), "poll_interval": 0}
        messages = _run(config)
    finally:
        storage.stop()
    assert _records(messages) == [
        {"day": "2026-01-01", "campaign_id": "c1", "impressions": 100, "spend": 1.5},
        {"day": "2026-01-02", "campaign_id": "c1", "impressions": 80, "spend": 1.25},
    ]
    assert len(polls) == 2
    state = [m for m in messages if m["type"] == "STATE"][-1]["value"]
    assert state["bookmarks"]["ads_campaign_spend_raw"]["replication_key_value"] == "2026-01-02"
