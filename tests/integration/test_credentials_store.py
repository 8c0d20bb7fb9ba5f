"""Credentials from org_integration_credentials (emulator) decrypted by KMS (local REST double)."""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest
from helpers import API, BIN
from local_services import KMSDouble

from tap_generic_api.credential_store import CredentialStore, CredentialStoreError, parse_store_config
from tap_generic_api.credentials_cli import main as credentials_main
from tap_generic_api.errors import CredentialError
from tap_generic_api.tap import TapGenericAPI

pytestmark = pytest.mark.emulator

KEY = "projects/local/locations/global/keyRings/pipelines/cryptoKeys/credentials"
SECRET = "pat-NEVERLOG-from-kms-8c1d"


@pytest.fixture
def kms_double():
    with KMSDouble() as double:
        yield double


@pytest.fixture(autouse=True)
def _real_http_for_unmocked(request):
    """BigQuery and KMS calls go to the real local services; only the API is mocked."""
    if "requests_mock" in request.fixturenames:
        request.getfixturevalue("requests_mock").real_http = True


@pytest.fixture
def store_config(bq_emulator, kms_double):
    dataset = f"creds_{uuid.uuid4().hex[:8]}"
    return {
        "credentials_table": {"project": "local", "dataset": dataset, "table": "org_integration_credentials"},
        "kms_key_name": KEY,
        "bigquery_api_endpoint": bq_emulator.endpoint,
        "kms_api_endpoint": kms_double.endpoint,
        "org_slug": "acme",
    }


def _store(config):
    return CredentialStore(parse_store_config(config))


def _tap(store_config, **overrides):
    config = {
        **store_config,
        "url": API,
        "destination": {"table": "items"},
        "auth": {"type": "bearer", "provider": "VENDOR_API"},
        **overrides,
    }
    return TapGenericAPI(config=config, parse_env_config=False)


def _sent_token(tap, requests_mock):
    requests_mock.get(API, json=[])
    list(tap.streams["items"].get_records(None))
    return requests_mock.last_request.headers["Authorization"]


def test_each_source_wins_in_the_seed_order(store_config, requests_mock, kms_double):
    _store(store_config).put("acme", "VENDOR_API", SECRET)
    # 1. config secrets under the provider beat the table.
    tap = _tap(store_config, secrets={"vendor_api_api_key": "from-secrets", "direct": "from-secret-key"})
    assert _sent_token(tap, requests_mock) == "Bearer from-secrets"
    # 2. the table (decrypted with KMS) beats auth.secret_key.
    tap = _tap(
        store_config,
        secrets={"direct": "from-secret-key"},
        auth={"type": "bearer", "provider": "VENDOR_API", "secret_key": "direct"},
    )
    assert _sent_token(tap, requests_mock) == f"Bearer {SECRET}"
    assert ("decrypt", KEY) in kms_double.calls
    # 3. auth.secret_key when the table has no row for this org.
    tap = _tap(
        {**store_config, "org_slug": "other-org"},
        secrets={"direct": "from-secret-key"},
        auth={"type": "bearer", "provider": "VENDOR_API", "secret_key": "direct"},
    )
    assert _sent_token(tap, requests_mock) == "Bearer from-secret-key"


def test_json_credentials_give_the_field_for_the_auth_type(store_config, requests_mock):
    store = _store(store_config)
    store.put("acme", "BASIC_API", json.dumps({"username": "u", "password": "p-NEVERLOG"}))
    store.put("acme", "TOKEN_API", json.dumps({"access_token": "at-NEVERLOG"}))
    tap = _tap(store_config, auth={"type": "basic", "provider": "BASIC_API"})
    assert _sent_token(tap, requests_mock).startswith("Basic ")
    tap = _tap(store_config, auth={"type": "bearer", "provider": "TOKEN_API"})
    assert _sent_token(tap, requests_mock) == "Bearer at-NEVERLOG"


def test_org_slug_with_a_quote_cannot_change_the_query(store_config):
    store = _store(store_config)
    store.put("acme", "VENDOR_API", SECRET)
    assert store.fetch("x' OR '1'='1", "VENDOR_API") is None
    assert store.fetch("acme' --", "VENDOR_API") is None
    store.put("o'brien", "VENDOR_API", "quoted-NEVERLOG")
    assert store.fetch("o'brien", "VENDOR_API") == "quoted-NEVERLOG"


def test_missing_credential_names_provider_org_and_sources(store_config, requests_mock):
    with pytest.raises(CredentialError) as info:
        _tap(store_config)
    message = str(info.value)
    assert message.startswith("Failed to resolve credential for provider VENDOR_API (org acme)")
    assert "config secrets keys ['vendor_api', 'vendor_api_api_key', 'vendor_api_key']" in message
    assert "org_integration_credentials (no row for org acme, provider VENDOR_API)" in message
    assert "tap-generic-api-credentials set" in message
    assert [r.url for r in requests_mock.request_history if r.url.startswith(API)] == []


def test_kms_failure_names_the_step(store_config, kms_double):
    _store(store_config).put("acme", "VENDOR_API", SECRET)
    kms_double.fail_with = 403
    with pytest.raises(
        CredentialStoreError, match=f"KMS decrypt of the credential for provider VENDOR_API with key {KEY}"
    ):
        _tap(store_config)


def test_setup_command_row_reads_back_to_the_same_secret(store_config, tmp_path, monkeypatch, capsys):
    config_path = tmp_path / "tap.json"
    config_path.write_text(json.dumps(store_config))
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO(SECRET + "\n"))
    assert credentials_main(["set", "--config", str(config_path), "--provider", "vendor_api"]) == 0
    assert _store(store_config).fetch("acme", "VENDOR_API") == SECRET

    assert credentials_main(["check", "--config", str(config_path), "--provider", "VENDOR_API"]) == 0
    out = capsys.readouterr().out
    assert out == f"org acme, provider VENDOR_API: pa********1d ({len(SECRET)} characters)\n"
    assert credentials_main(["check", "--config", str(config_path), "--provider", "NOPE"]) == 2


def test_setup_command_refuses_a_blank_secret(store_config, tmp_path, monkeypatch, capsys):
    config_path = tmp_path / "tap.json"
    config_path.write_text(json.dumps(store_config))
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("   \n"))
    assert credentials_main(["set", "--config", str(config_path), "--provider", "blank_api"]) == 1
    assert "no secret on standard input (it was empty or only whitespace)" in capsys.readouterr().err
    assert _store(store_config).fetch("acme", "BLANK_API") is None


def test_decrypt_step_then_extract_as_a_shell_pipeline(store_config, tmp_path, httpserver):
    """The seed's Example 4: a decrypt step, then the extract step using the secret."""
    _store(store_config).put("acme", "VENDOR_API", SECRET)
    httpserver.expect_request("/v1/data", headers={"Authorization": f"Bearer {SECRET}"}).respond_with_json(
        {"items": [{"id": 1}, {"id": 2}], "next_cursor": None}
    )
    creds_path = tmp_path / "creds.json"
    creds_path.write_text(json.dumps(store_config))
    tap_config = {
        "url": httpserver.url_for("/v1/data"),
        "auth": {"type": "bearer", "provider": "VENDOR_API"},
        "pagination": {"type": "cursor", "param": "cursor", "response_path": "next_cursor"},
        "data_path": "items",
        "destination": {"table": "vendor_data_raw"},
    }
    tap_path = tmp_path / "tap.json"
    tap_path.write_text(json.dumps(tap_config))
    script = (
        f"set -euo pipefail; {BIN}/tap-generic-api --config {tap_path} --config <({BIN}/tap-generic-api-credentials "
        f"decrypt --config {creds_path} --provider VENDOR_API --context-key vendor_api_key)"
    )
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    records = [json.loads(line)["record"] for line in result.stdout.splitlines() if '"RECORD"' in line]
    assert records == [{"id": 1}, {"id": 2}]
    assert SECRET not in result.stderr


def test_wrong_kms_key_and_unreachable_kms_name_the_step(store_config):
    _store(store_config).put("acme", "VENDOR_API", SECRET)
    other_key = KEY.replace("credentials", "other")
    with pytest.raises(CredentialStoreError, match=f"KMS decrypt .* with key {other_key} failed: 400"):
        _tap({**store_config, "kms_key_name": other_key})
    with pytest.raises(CredentialStoreError, match="KMS decrypt .* failed: .*Error"):
        _tap({**store_config, "kms_api_endpoint": "http://127.0.0.1:9"})


def test_credentials_command_reports_kms_errors_as_one_line(store_config, tmp_path, capsys):
    config_path = tmp_path / "tap.json"
    config_path.write_text(json.dumps({**store_config, "kms_api_endpoint": "http://127.0.0.1:9"}))
    assert credentials_main(["check", "--config", str(config_path), "--provider", "VENDOR_API"]) in (1, 2)
    err = capsys.readouterr().err
    assert "cannot read" not in err
