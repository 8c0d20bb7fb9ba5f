"""Target configuration that is wrong: a config error naming the key, before any input is read, with no secret shown."""

from __future__ import annotations

import json

import pytest
from helpers import QUERY_KEY_SECRET as SECRET
from helpers import UNREACHABLE_TARGET, record_line, run_cli, run_target, schema_line

from plugin_kit.errors import ConfigError
from target_bigquery_smart.settings import TargetConfigError


def test_bad_dataset_name_is_a_config_error(target_config):
    with pytest.raises(TargetConfigError, match="'dataset': 'bad-ds.name' is not a dataset name"):
        run_target({**target_config, "dataset": "bad-ds.name"}, [])


@pytest.mark.parametrize(
    ("add_fields", "message"),
    [
        ({"raw_data": "x"}, "clashes with another column"),
        ({"Foo": "a", "foo": "b"}, "clashes with another column"),
        ({"ORG_SLUG": "x"}, "clashes with another column"),
        ({"_PARTITIONTIME": "x"}, "is not a valid BigQuery column name"),
        ({"extracted_at": "not a time"}, "add_fields.extracted_at"),
    ],
)
def test_bad_add_fields_are_config_errors(target_config, add_fields, message):
    with pytest.raises(TargetConfigError, match=message):
        run_target({**target_config, "add_fields": add_fields}, [])


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"api_endpoint": "not a url"},
            "Target config 'api_endpoint' must be an http(s) URL of a host and port, such as http://127.0.0.1:9050 "
            "(the local emulator), with no path and no user:password; got 'not a url'.",
        ),
        (
            {"api_endpoint": f"http://user:{SECRET}@127.0.0.1:9050"},
            "Target config 'api_endpoint' must be an http(s) URL of a host and port, such as http://127.0.0.1:9050 "
            "(the local emulator), with no path and no user:password; got a URL with a user:password in it.",
        ),
        (
            {"api_endpoint": "http://127.0.0.1:99999"},
            "Target config 'api_endpoint' must be an http(s) URL of a host and port, such as http://127.0.0.1:9050 "
            "(the local emulator), with no path and no user:password; got 'http://127.0.0.1:99999'.",
        ),
        (
            {"api_endpoint": "http://127.0.0.1:9050/bigquery/v2"},
            "Target config 'api_endpoint' must be an http(s) URL of a host and port, such as http://127.0.0.1:9050 "
            "(the local emulator), with no path and no user:password; got 'http://127.0.0.1:9050/bigquery/v2'.",
        ),
        (
            {"api_endpoint": "http://127.0.0.1:9050\n"},
            "Target config 'api_endpoint' must be an http(s) URL of a host and port, such as http://127.0.0.1:9050 "
            "(the local emulator), with no path and no user:password; got 'http://127.0.0.1:9050\\n'.",
        ),
        (
            {"credentials_path": "/nonexistent/key.json"},
            "Target config 'credentials_path': cannot read '/nonexistent/key.json' (No such file or directory).",
        ),
        (
            {"credentials_json": json.dumps({"type": "service_account", "private_key": SECRET, "token_uri": "x"})},
            "Config key 'credentials_json' is not a service-account key (Service account info was not in the "
            "expected format, missing fields client_email.).",
        ),
    ],
)
def test_target_endpoint_and_credential_mistakes_are_config_errors_before_any_input(config, message):
    with pytest.raises(TargetConfigError) as info:
        run_target({"project": "p", "dataset": "d", **config}, ["not even JSON"])
    assert str(info.value) == message


def test_a_key_given_as_an_object_is_masked_in_the_config_error(caplog):
    from singer_sdk.exceptions import ConfigValidationError

    key = {"type": "service_account", "private_key": SECRET}
    with pytest.raises(ConfigValidationError) as info:
        run_target({"project": "p", "dataset": "d", "credentials_json": key}, [])
    assert info.value.errors == [
        "{'type': '***', 'private_key': '***'} is not of type 'string', 'null' in config['credentials_json']"
    ]
    assert SECRET not in caplog.text


def test_a_key_file_of_another_shape_is_a_config_error(tmp_path):
    key = tmp_path / "key.json"
    key.write_text('["x"]')
    with pytest.raises(TargetConfigError) as info:
        run_target({"project": "p", "dataset": "d", "credentials_path": str(key)}, ["not even JSON"])
    assert str(info.value) == (
        f"Target config 'credentials_path': '{key}' is not a service-account key file "
        "('list' object has no attribute 'keys')."
    )


def test_an_endpoint_with_a_trailing_slash_is_used_without_it():
    from target_bigquery_smart.client import check_endpoint

    assert check_endpoint("http://127.0.0.1:9050/") == "http://127.0.0.1:9050"
    assert check_endpoint("HTTP://localhost:9050") == "HTTP://localhost:9050"


def test_no_google_credentials_is_a_config_error_before_any_input(monkeypatch, tmp_path):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with pytest.raises(TargetConfigError) as info:
        run_target({"project": "p", "dataset": "d"}, ["not even JSON"])
    assert str(info.value).startswith(
        "No Google credentials: set credentials_path or credentials_json in the target config, or set up "
        "Application Default Credentials (gcloud auth application-default login). File "
    )


def test_a_malformed_proxy_for_bigquery_is_a_target_config_error(monkeypatch, no_proxy_environment):
    monkeypatch.setenv("HTTP_PROXY", f"http://user:{SECRET}@127.0.0.1:99999")
    with pytest.raises(ConfigError) as info:
        run_target(UNREACHABLE_TARGET, ["not even JSON"])
    assert str(info.value) == (
        "The proxy for http://127.0.0.1:9 from HTTP_PROXY is not a usable URL: http://***@127.0.0.1:99999. "
        "Fix or unset it, or exempt the host with NO_PROXY."
    )


def test_unknown_target_config_keys_are_refused_with_a_suggestion():
    from target_bigquery_smart.settings import check_known_keys

    with pytest.raises(TargetConfigError) as info:
        run_target({"project": "p", "datset": "d", "flaten": True}, ["not even JSON"])
    message = str(info.value)
    assert message.startswith(
        "Target config: unknown key(s) 'datset' (did you mean 'dataset'?), 'flaten' (did you mean 'flatten'?). "
        "Valid keys: add_fields, add_record_metadata, api_endpoint, batch_max_bytes, batch_size,"
    )
    assert ", write_mode." in message
    with pytest.raises(TargetConfigError) as info:
        check_known_keys({"transform": {"flaten": True}}, ["transform"])
    assert str(info.value) == (
        "Target config 'transform': unknown key(s) 'flaten' (did you mean 'flatten'?). Valid keys: add_fields, flatten."
    )
    check_known_keys({"transform": {"flatten": True}, "stream_maps": {}}, ["transform", "stream_maps"])


def test_an_unknown_target_config_key_stops_the_cli_before_any_input(tmp_path, target_config, bq_client):
    from google.api_core.exceptions import NotFound

    lines = "\n".join([schema_line(keys=()), record_line({"id": 1})]) + "\n"
    config = {**target_config, "flaten": True}
    result = run_cli(tmp_path, "target-bigquery-smart", config, input=lines, stdin=None)
    assert result.returncode == 1
    assert "Target config: unknown key(s) 'flaten' (did you mean 'flatten'?). Valid keys: add_fields," in result.stderr
    assert "Traceback" not in result.stderr
    with pytest.raises(NotFound):
        bq_client.get_table(f"{target_config['project']}.{target_config['dataset']}.items")
