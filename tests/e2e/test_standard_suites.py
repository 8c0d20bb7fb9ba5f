"""The singer-sdk standard tap and target test suites, plus checks of what each standard
target input actually produced in the table (the SDK's target tests pass even a target that
writes nothing)."""

from __future__ import annotations

import io
import json
import uuid
from contextlib import redirect_stdout
from importlib import resources

import pytest
import simplejson
from local_services import DATASETTE_TOKEN, shared_datasette
from singer_sdk.testing import get_tap_test_class, get_target_test_class

from tap_generic_api.tap import TapGenericAPI
from target_bigquery_smart.sinks import table_name
from target_bigquery_smart.target import TargetBigQuerySmart

pytestmark = pytest.mark.emulator
CAPTURE_DEBUG_LOGS = False

#: The SDK's tap suite reads its streams when the test class is made (the first stream infers
#: its schema from the API), so this API is needed while the module is collected; the
#: emulator is needed only by the tests, which get it from the ``bq_emulator`` fixture.
_API = shared_datasette(1000)

TAP_CONFIG = {
    "streams": [
        {
            "url": _API.table_url,
            "params": {"_shape": "objects", "_size": "200"},
            "data_path": "rows",
            "pagination": {"type": "cursor", "param": "_next", "response_path": "next"},
            "destination": {"table": "items", "key_fields": ["id"]},
            "infer_schema": True,
        },
        {
            "url": _API.query_url,
            "params": {"_shape": "array"},
            "pagination": {"type": "offset", "limit": 250},
            "destination": {"table": "items_by_offset", "key_fields": ["id"]},
            "replication_key": "id",
            "start_date": 0,
            "schema": {
                "type": "object",
                "properties": {
                    name: {"type": [kind, "null"]}
                    for name, kind in {
                        "id": "integer",
                        "name": "string",
                        "email": "string",
                        "amount": "number",
                        "quantity": "integer",
                        "active": "integer",
                        "category": "string",
                        "note": "string",
                        "created_at": "string",
                        "updated_at": "string",
                    }.items()
                },
            },
        },
    ],
    "auth": {"type": "bearer", "provider": "DATASETTE"},
    "secrets": {"datasette": DATASETTE_TOKEN},
    "rate_limit": {"requests_per_second": 200},
}

#: The SDK's target suite reads this dict when each test runs; ``_target_on_the_emulator`` fills
#: in the emulator's project and endpoint first.
TARGET_CONFIG = {
    "dataset": f"standard_{uuid.uuid4().hex[:8]}",
    "org_slug": "acme",
}


@pytest.fixture(autouse=True, scope="module")
def _target_on_the_emulator(bq_emulator):
    TARGET_CONFIG.update(project=bq_emulator.project, api_endpoint=bq_emulator.endpoint)


TestTapGenericAPI = get_tap_test_class(TapGenericAPI, config=TAP_CONFIG)
TestTargetBigQuerySmart = get_target_test_class(TargetBigQuerySmart, config=TARGET_CONFIG)


# --- what each standard target input produced ------------------------------------------------

STREAMS_DIR = resources.files("singer_sdk.testing") / "target_test_streams"
#: Inputs the SDK expects a target to refuse.
REFUSED = {
    "invalid_schema",
    "record_before_schema",
    "record_missing_key_property",
    # Fails record validation ('id' is required): refused with its line number.
    "record_missing_required_property",
}
VALID = sorted(
    p.name.removesuffix(".singer")
    for p in STREAMS_DIR.iterdir()
    if p.name.endswith(".singer") and p.name.removesuffix(".singer") not in REFUSED
)


def _expected(lines: list[str]) -> dict[str, tuple[list[str], list[dict]]]:
    """Return stream -> (key properties of its last SCHEMA, records)."""
    streams: dict[str, tuple[list[str], list[dict]]] = {}
    for line in lines:
        message = simplejson.loads(line, use_decimal=True)
        if message["type"] == "SCHEMA":
            keys = message.get("key_properties") or []
            streams[message["stream"]] = (keys, streams.get(message["stream"], ([], []))[1])
        elif message["type"] == "RECORD":
            streams[message["stream"]][1].append(message["record"])
    return streams


def _canonical(record: dict) -> str:
    return simplejson.dumps(record, sort_keys=True, use_decimal=True)


@pytest.mark.parametrize("name", VALID)
def test_standard_input_lands_exactly(name, bq_client):
    lines = [line for line in (STREAMS_DIR / f"{name}.singer").read_text().splitlines() if line.strip()]
    dataset = f"std_{name}_{uuid.uuid4().hex[:6]}"
    config = {**TARGET_CONFIG, "dataset": dataset}
    target = TargetBigQuerySmart(config=config, parse_env_config=False)
    with redirect_stdout(io.StringIO()):
        target.listen(file_input=io.StringIO("\n".join(lines) + "\n"))
    for stream, (_keys, records) in _expected(lines).items():
        if not records:
            continue  # a SCHEMA without RECORDs creates no table
        rows = list(
            bq_client.query_and_wait(f"SELECT raw_data FROM `{config['project']}.{dataset}.{table_name(stream)}`")
        )
        loaded = [simplejson.loads(r["raw_data"], use_decimal=True) for r in rows]
        # Append mode keeps every record, duplicates by key included.
        assert sorted(map(_canonical, loaded)) == sorted(map(_canonical, records)), f"{name}: stream {stream}"


ID_SCHEMA = {"type": "object", "properties": {"id": {}}}
#: The line of each refused input (1-based) that the target refuses.
REFUSED_LINE = {
    "invalid_schema": 1,
    "record_before_schema": 1,
    "record_missing_key_property": 2,
    "record_missing_required_property": 2,
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_standard_input_writes_no_state_past_it(name, bq_client):
    # A committed stream first, then the refused input with a STATE after each of its lines:
    # the target must confirm exactly the last STATE before the refused line, and keep the row.
    refused = [line for line in (STREAMS_DIR / f"{name}.singer").read_text().splitlines() if line.strip()]
    before = [
        json.dumps({"type": "SCHEMA", "stream": "committed_first", "schema": ID_SCHEMA, "key_properties": []}),
        json.dumps({"type": "RECORD", "stream": "committed_first", "record": {"id": 1}}),
        json.dumps({"type": "STATE", "value": {"read": "line 0"}}),
    ]
    lines = list(before)
    for number, line in enumerate(refused, start=1):
        lines += [line, json.dumps({"type": "STATE", "value": {"read": f"line {number}"}})]
    bad = REFUSED_LINE[name]
    config = {**TARGET_CONFIG, "dataset": f"std_{name}_{uuid.uuid4().hex[:6]}"}
    if name == "record_missing_required_property":
        # The raw layout stores such a record (any JSON object is storable there): it refuses
        # it only when validation is asked for.
        config["validate_records"] = True
    target = TargetBigQuerySmart(config=config, parse_env_config=False)
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(Exception, match=f"Input line {len(before) + 2 * bad - 1} "):
        target.listen(file_input=io.StringIO("\n".join(lines) + "\n"))
    assert all(json.loads(line) for line in out.getvalue().splitlines())
    assert [json.loads(line) for line in out.getvalue().splitlines()] == [{"read": f"line {bad - 1}"}]
    rows = bq_client.query_and_wait(
        f"SELECT raw_data FROM `{config['project']}.{config['dataset']}.{table_name('committed_first')}`"
    )
    assert [json.loads(r["raw_data"]) for r in rows] == [{"id": 1}]
