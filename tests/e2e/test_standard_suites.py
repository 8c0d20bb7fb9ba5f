"""The singer-sdk standard tap and target test suites, plus checks of what each standard
target input actually produced in the table (the SDK's target tests pass even a target that
writes nothing)."""

from __future__ import annotations

import io
import json
import sys
import uuid
from contextlib import redirect_stdout
from importlib import resources
from pathlib import Path

import pytest
import simplejson
from singer_sdk.testing import get_tap_test_class, get_target_test_class

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from local_services import DATASETTE_TOKEN, shared_datasette, shared_emulator  # noqa: E402

from tap_generic_api.tap import TapGenericAPI  # noqa: E402
from target_bigquery_smart.sinks import table_name  # noqa: E402
from target_bigquery_smart.target import TargetBigQuerySmart  # noqa: E402

pytestmark = pytest.mark.emulator
CAPTURE_DEBUG_LOGS = False

_API = shared_datasette(1000)
_BQ = shared_emulator()

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

TARGET_CONFIG = {
    "project": _BQ.project,
    "dataset": f"standard_{uuid.uuid4().hex[:8]}",
    "api_endpoint": _BQ.endpoint,
    "org_slug": "acme",
}

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


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_standard_input_writes_no_state_past_it(name):
    lines = (STREAMS_DIR / f"{name}.singer").read_text()
    config = {**TARGET_CONFIG, "dataset": f"std_{name}_{uuid.uuid4().hex[:6]}"}
    target = TargetBigQuerySmart(config=config, parse_env_config=False)
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(Exception, match="Input line"):
        target.listen(file_input=io.StringIO(lines))
    assert all(json.loads(line) for line in out.getvalue().splitlines())
