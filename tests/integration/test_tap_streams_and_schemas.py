"""Several streams, POST bodies with templates, given and inferred schemas."""

from __future__ import annotations

import io
from contextlib import redirect_stdout

from helpers import API, FAST, ROOT, bearer_tap, extract, sync_messages

from tap_generic_api.tap import TapGenericAPI


def test_two_streams_each_send_their_own_credential(requests_mock):
    requests_mock.get("https://api.example.com/a", json=[])
    requests_mock.get("https://other.example.com/b", json=[])
    config = {
        "secrets": {"vendor_a": "key-A", "vendor_b": "key-B"},
        "auth": {"type": "bearer", "provider": "VENDOR_A"},
        "streams": [
            {"url": "https://api.example.com/a", "destination": {"table": "a"}},
            {
                "url": "https://other.example.com/b",
                "destination": {"table": "b"},
                "auth": {"type": "header", "provider": "VENDOR_B", "header_name": "X-Key"},
            },
        ],
        "rate_limit": FAST,
    }
    tap = TapGenericAPI(config=config, parse_env_config=False)
    extract(tap, "a")
    extract(tap, "b")
    a, b = requests_mock.request_history
    assert a.headers["Authorization"] == "Bearer key-A"
    assert "X-Key" not in a.headers
    assert b.headers["X-Key"] == "key-B"
    assert b.headers.get("Authorization", "").startswith("Bearer key-A") is False


def test_post_with_templated_body_and_cursor_in_body(requests_mock):
    requests_mock.post(
        API,
        [
            {"json": {"results": [{"id": 1}], "paging": {"next": "t2"}}},
            {"json": {"results": [{"id": 2}], "paging": {}}},
        ],
    )
    tap = bearer_tap(
        method="POST",
        body={"filter": {"org": "{org_slug}", "since": "{start_date_unix}"}, "sort": ["id"]},
        start_date="2024-01-01T00:00:00Z",
        org_slug="acme",
        data_path="results",
        pagination={
            "type": "cursor",
            "param": "after",
            "response_path": "paging.next",
            "limit": 100,
            "location": "body",
        },
    )
    assert len(extract(tap)) == 2
    bodies = [r.json() for r in requests_mock.request_history]
    assert bodies[0] == {"filter": {"org": "acme", "since": 1704067200}, "sort": ["id"], "limit": 100}
    assert bodies[1] == {"filter": {"org": "acme", "since": 1704067200}, "sort": ["id"], "limit": 100, "after": "t2"}
    assert all(r.qs == {} for r in requests_mock.request_history)


def test_infer_schema_from_first_pages(requests_mock):
    requests_mock.get(
        API,
        [
            {"json": {"data": [{"id": 1, "amount": 1, "tags": ["a"], "meta": {"x": None}}], "next": "p2"}},
            {"json": {"data": [{"id": 2, "amount": 2.5, "note": None, "meta": {"x": "s"}}]}},
        ],
    )
    tap = bearer_tap(
        data_path="data", infer_schema=True, pagination={"type": "cursor", "param": "c", "response_path": "next"}
    )
    schema = tap.streams["items"].schema
    props = schema["properties"]
    assert props["id"] == {"type": ["integer", "null"]}
    assert props["amount"] == {"type": ["number", "null"]}
    assert props["tags"] == {"type": ["array", "null"], "items": {"type": ["string", "null"]}}
    assert props["note"] == {"type": ["string", "null"]}
    assert props["meta"] == {"type": ["object", "null"], "properties": {"x": {"type": ["string", "null"]}}}


def test_stream_given_schema_is_emitted(requests_mock):
    requests_mock.get(API, json=[{"id": 1, "name": "a"}])
    schema = {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}
    messages = sync_messages(bearer_tap(schema=schema))
    assert messages[0]["schema"]["properties"] == schema["properties"]


def test_infer_schema_on_an_incremental_stream_reads_from_start_date_each_run_as_documented(requests_mock):
    requests_mock.get(API, json=[{"id": 1, "updated": "2024-07-01T00:00:00Z"}])
    state = {"bookmarks": {"items": {"replication_key": "updated", "replication_key_value": "2024-06-01T00:00:00Z"}}}
    config = {
        "url": API,
        "params": {"since": "{bookmark}"},
        "start_date": "2024-01-01T00:00:00Z",
        "replication_key": "updated",
        "infer_schema": True,
        "destination": {"table": "items", "key_fields": ["id"]},
        "rate_limit": {"requests_per_second": 1000},
    }
    tap = TapGenericAPI(config=config, state=state, parse_env_config=False)
    with redirect_stdout(io.StringIO()):
        tap.sync_all()
    sinces = [request.qs["since"][0] for request in requests_mock.request_history]
    assert sinces == ["2024-01-01t00:00:00z", "2024-06-01t00:00:00z"]  # inference, then the run from the bookmark
    lines = (ROOT / "docs" / "TAP_CONFIG.md").read_text().splitlines()
    row = next(line for line in lines if "| `infer_schema` |" in line)
    assert "reads the first 3 pages from `start_date` again each run" in row
    assert "write `schema` instead" in row
