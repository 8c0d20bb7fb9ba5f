"""Bad input and hostile servers: clear errors, no secret in any message, nothing lost."""

from __future__ import annotations

import base64
import html
import io
import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.parse
from contextlib import redirect_stdout

import pytest
from conftest import BIN, table_rows
from test_target_loading import record_line, run_target, schema_line, state_line
from werkzeug import Response

from plugin_kit.errors import ConfigError
from plugin_kit.redact import WITHHELD
from tap_generic_api.errors import CredentialError, PaginationLoopError, ResponseShapeError
from tap_generic_api.tap import TapGenericAPI
from target_bigquery_smart.reader import InputError
from target_bigquery_smart.settings import TargetConfigError

API = "https://api.example.com/v1/items"
SECRET = "SUPERSECRET-NEVERLOG-zq81x"
FAST = {"requests_per_second": 1000, "max_retries": 0}


def _tap(**config):
    base = {
        "url": API,
        "destination": {"table": "items", "key_fields": ["id"]},
        "auth": {"type": "query", "provider": "X", "param_name": "appid"},
        "secrets": {"x": SECRET},
        "rate_limit": FAST,
    }
    base.update(config)
    return TapGenericAPI(config=base, parse_env_config=False)


def _extract(tap):
    return list(tap.streams["items"].get_records(None))


#: A target config whose BigQuery endpoint refuses connections.
UNREACHABLE_TARGET = {"project": "p", "dataset": "d", "api_endpoint": "http://127.0.0.1:9"}


def _run(tmp_path, program, config, **kwargs):
    """Run ``program --config`` (written from ``config``) to its end; stderr as text."""
    path = tmp_path / f"{program}.json"
    path.write_text(json.dumps(config))
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    command = [str(BIN / program), "--config", str(path)]
    return subprocess.run(command, stderr=subprocess.PIPE, text=True, timeout=60, check=False, **kwargs)


def test_non_json_200_with_custom_query_param_never_shows_the_key(requests_mock):
    requests_mock.get(API, text=f"<html><p>echo appid={SECRET}</p></html>", headers={"Content-Type": "text/html"})
    with pytest.raises(ResponseShapeError) as info:
        _extract(_tap())
    message = str(info.value)
    assert "is not JSON" in message
    assert "appid=***" in message
    assert SECRET not in message


def test_percent_encoded_secret_in_an_error_body_is_masked(requests_mock):
    secret = "Ab+cd/Ef=Gh-NEVERLOG-1234"
    requests_mock.get(API, status_code=404, json={"echo_url": "/v1/items?appid=Ab%2Bcd%2FEf%3DGh-NEVERLOG-1234"})
    with pytest.raises(Exception, match="API error 404") as info:
        _extract(_tap(secrets={"x": secret}))
    assert "NEVERLOG" not in str(info.value)


def test_basic_auth_password_and_header_token_echoed_back_are_masked(requests_mock):
    import base64

    token = base64.b64encode(f"admin:{SECRET}".encode()).decode()
    requests_mock.get(API, status_code=403, json={"error": f"bad password {SECRET}", "auth": f"Basic {token}"})
    with pytest.raises(Exception, match="API error 403") as info:
        _extract(_tap(auth={"type": "basic", "provider": "X"}, secrets={"x": f"admin:{SECRET}"}))
    assert "bad password ***" in str(info.value)
    assert "Basic ***" in str(info.value)
    assert SECRET not in str(info.value)
    assert token not in str(info.value)


def test_a_key_written_in_headers_or_variables_is_masked_when_echoed(requests_mock):
    header_key, variable_key = "hdr-NEVERLOG-77aa", "var-NEVERLOG-88bb"
    requests_mock.get(API, status_code=400, json={"got": [header_key, variable_key]})
    tap = _tap(
        auth=None,
        headers={"X-Api-Key": header_key, "X-Signature": "{signing_token}"},
        variables={"signing_token": variable_key},
    )
    with pytest.raises(Exception, match="API error 400") as info:
        _extract(tap)
    assert '"got": ["***", "***"]' in str(info.value)


def test_a_secret_no_stream_uses_is_masked_too(requests_mock):
    other = "other-NEVERLOG-99cc"
    requests_mock.get(API, status_code=400, json={"got": other})
    with pytest.raises(Exception, match="API error 400") as info:
        _extract(_tap(secrets={"x": SECRET, "another_vendor": other}))
    assert '"got": "***"' in str(info.value)


def test_secret_straddling_the_excerpt_limit_is_not_half_shown(requests_mock):
    requests_mock.get(API, status_code=401, text="x" * 290 + f" key=Bearer {SECRET} " + "y" * 50)
    with pytest.raises(Exception, match="API error 401") as info:
        _extract(_tap())
    assert "SUPERSECR" not in str(info.value)


def test_secret_with_a_line_break_is_refused_without_echo():
    with pytest.raises(CredentialError, match="contains a line break") as info:
        _tap(secrets={"x": "SUPERSECRET\nNEVERLOG"})
    assert "NEVERLOG" not in str(info.value)


def test_url_scheme_other_than_http_is_a_config_error():
    with pytest.raises(ConfigError, match=r"config.url must be an http:// or https:// URL"):
        _tap(url="ftp://127.0.0.1/x")


def test_next_link_back_to_the_first_page_is_a_loop_not_a_second_read(requests_mock):
    requests_mock.get(API, json={"data": [{"id": 1}], "next": f"{API}?appid={SECRET}"})
    tap = _tap(data_path="data", pagination={"type": "link", "response_path": "next"})
    with pytest.raises(PaginationLoopError) as info:
        _extract(tap)
    assert requests_mock.call_count == 1
    assert SECRET not in str(info.value)


@pytest.mark.parametrize("body", [{"data": [1, "a", None]}, {"data": "hello"}])
def test_records_that_are_not_objects_are_a_clear_error(requests_mock, body):
    requests_mock.get(API, json=body)
    with pytest.raises(ResponseShapeError, match=r"data_path 'data' .* holds a (int|str) at position 0, not an object"):
        _extract(_tap(data_path="data"))


def test_204_and_nan_bodies(requests_mock):
    requests_mock.get(API, status_code=204, text="")
    assert _extract(_tap(data_path="data")) == []
    requests_mock.get(API, text='{"data": [{"id": 1, "score": NaN}]}')
    (record,) = _extract(_tap(data_path="data"))
    assert record == {"id": 1, "score": None}  # JSON has no NaN: null, with a warning


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "must hold a JSON object, not a list"),
    ],
)
def test_unreadable_config_file_is_a_clean_error(tmp_path, content, message):
    path = tmp_path / "tap.json"
    path.write_text(content)
    result = subprocess.run(
        [str(BIN / "tap-generic-api"), "--config", str(path), "--discover"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("content", "stderr"),
    [
        ("", "is not valid JSON"),  # the command feeding the pipe failed and wrote nothing
        (
            '{"url": "http://127.0.0.1:1/x", "destination": {"table": "t"}, "rate_limit": {"max_retries": 0}}',
            "Error: Stream 't': request to http://127.0.0.1:1/x failed",  # the config was read
        ),
    ],
)
def test_config_from_a_pipe_is_checked_and_still_read(content, stderr):
    script = f"{BIN / 'tap-generic-api'} --config <(printf '%s' \"$CONFIG\")"
    result = subprocess.run(
        ["bash", "-c", script], env={"CONFIG": content}, capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 1
    assert stderr in result.stderr
    assert "Traceback" not in result.stderr


def test_secrets_given_as_text_fail_cleanly_in_discovery(tmp_path):
    path = tmp_path / "tap.json"
    path.write_text(
        json.dumps({"url": API, "destination": {"table": "t"}, "auth": {"provider": "X"}, "secrets": SECRET})
    )
    result = subprocess.run(
        [str(BIN / "tap-generic-api"), "--config", str(path), "--discover"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert "Config key 'secrets' must be an object" in result.stderr
    assert SECRET not in result.stderr + result.stdout


# --- target ---------------------------------------------------------------------


@pytest.mark.emulator
def test_schema_change_then_state_then_bad_line_commits_before_the_state(target_config, bq_client, capsys):
    v2 = {"type": "object", "properties": {"id": {"type": "integer"}}}
    lines = [schema_line(), record_line({"id": 1})]
    lines += [json.dumps({"type": "SCHEMA", "stream": "items", "schema": v2, "key_properties": ["id"]})]
    lines += [state_line({"pos": 1}), "{crash"]
    with pytest.raises(InputError, match="Input line 5 is not valid JSON"):
        run_target(target_config, lines)
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items")
    assert [json.loads(r["raw_data"]) for r in rows] == [{"id": 1}]


@pytest.mark.emulator
def test_state_after_schema_change_is_written_at_the_end(target_config):
    v2 = {"type": "object", "properties": {"id": {"type": "integer"}}}
    lines = [schema_line()] + [record_line({"id": i}) for i in range(3)] + [state_line({"pos": 3})]
    lines += [json.dumps({"type": "SCHEMA", "stream": "items", "schema": v2, "key_properties": ["id"]})]
    lines += [record_line({"id": 3})]
    states = run_target({**target_config, "batch_size": 2}, lines)
    assert states == [{"pos": 3}]


@pytest.mark.emulator
def test_nan_in_state_is_written_back(target_config):
    lines = [schema_line(), record_line({"id": 1}), '{"type": "STATE", "value": {"n": NaN}}']
    states = run_target(target_config, lines)
    assert len(states) == 1
    assert states[0]["n"] != states[0]["n"]


@pytest.mark.emulator
def test_record_that_is_not_an_object_names_the_line(target_config):
    lines = [schema_line(), '{"type": "RECORD", "stream": "items", "record": [1, 2]}']
    with pytest.raises(InputError, match=r"Input line 2 \(stream 'items'\): RECORD of stream 'items' has a list"):
        run_target(target_config, lines)


@pytest.mark.emulator
def test_streams_that_would_share_a_table_are_refused(target_config):
    lines = [schema_line(stream="a-b"), schema_line(stream="a.b")]
    with pytest.raises(InputError, match=r"Streams 'a-b' and 'a.b' would both load into table 'a_b'"):
        run_target(target_config, lines)


@pytest.mark.emulator
def test_identical_batches_both_load(target_config, bq_client):
    lines = [schema_line(keys=())] + [record_line({"v": 1}) for _ in range(4)]
    run_target({**target_config, "batch_size": 2, "streaming_threshold": 1}, lines)
    assert len(table_rows(bq_client, target_config["project"], target_config["dataset"], "items")) == 4


@pytest.mark.emulator
def test_same_key_twice_in_a_small_batch_keeps_both_versions(target_config, bq_client):
    lines = [schema_line(), record_line({"id": 1, "v": "old"}), record_line({"id": 1, "v": "new"})]
    run_target(target_config, lines)
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items")
    assert sorted(json.loads(r["raw_data"])["v"] for r in rows) == ["new", "old"]


def test_bad_dataset_name_is_a_config_error(target_config):
    with pytest.raises(TargetConfigError, match="'dataset': 'bad-ds.name' is not a dataset name"):
        run_target({**target_config, "dataset": "bad-ds.name"}, [])


@pytest.mark.emulator
def test_new_versions_of_a_key_across_small_batches_are_all_kept(target_config, bq_client):
    values = [(1, "a"), (2, "a"), (1, "b"), (3, "b"), (1, "c")]
    lines = [schema_line()] + [record_line({"id": i, "v": v}) for i, v in values]
    run_target({**target_config, "batch_size": 2}, lines)
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items")
    assert sorted((json.loads(r["raw_data"])["id"], json.loads(r["raw_data"])["v"]) for r in rows) == sorted(values)


@pytest.mark.emulator
def test_every_refused_row_reaches_the_dead_letter_table(target_config, bq_client):
    schema = {"type": "object", "properties": {"id": {"type": "integer"}, "n": {"type": "integer"}}}
    lines = [json.dumps({"type": "SCHEMA", "stream": "s", "schema": schema, "key_properties": ["id"]})]
    lines += [record_line({"id": 1, "n": "x"}, stream="s"), record_line({"id": 1, "n": "y"}, stream="s")]
    config = {**target_config, "flatten": True, "validate_records": False, "dead_letter_table": "dead"}
    run_target(config, lines)
    assert len(table_rows(bq_client, target_config["project"], target_config["dataset"], "dead")) == 2


@pytest.mark.emulator
@pytest.mark.parametrize("value", ["1E+100000000", "1E+5000", "1" * 401])
def test_enormous_numbers_are_refused_rows_not_hangs(target_config, bq_client, value):
    schema = {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "n": {"type": "number", "format": "decimal"}, "i": {}},
    }
    lines = [json.dumps({"type": "SCHEMA", "stream": "s", "schema": schema, "key_properties": ["id"]})]
    lines += ['{"type": "RECORD", "stream": "s", "record": {"id": 1, "n": ' + value + "}}"]
    config = {**target_config, "flatten": True, "dead_letter_table": "dead"}
    run_target(config, lines)
    (letter,) = table_rows(bq_client, target_config["project"], target_config["dataset"], "dead")
    assert "NUMERIC" in letter["errors"] or "n:" in letter["errors"]


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


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (
            {"stream": None, "schema": {"properties": {}}},
            "Input line 1: SCHEMA message: 'stream' must be a non-empty string, got null.",
        ),
        (
            {"stream": 5, "schema": {"properties": {}}},
            "Input line 1 (stream '5'): SCHEMA message: 'stream' must be a non-empty string, got 5.",
        ),
        (
            {"stream": "s", "schema": "abc"},
            "Input line 1 (stream 's'): SCHEMA message: 'schema' must be a JSON schema object, got str.",
        ),
        (
            {"stream": "s", "schema": {"properties": [1]}},
            "Input line 1 (stream 's'): SCHEMA message: 'schema.properties' must be an object of name -> schema, "
            "got list.",
        ),
        (
            {"stream": "s", "schema": {"properties": {}}, "key_properties": "id"},
            "Input line 1 (stream 's'): SCHEMA message: 'key_properties' must be a list of property names, got \"id\".",
        ),
        (
            {"stream": "s", "schema": {"properties": {}}, "bookmark_properties": [1]},
            "Input line 1 (stream 's'): SCHEMA message: 'bookmark_properties' must be a list of property names, "
            "got [1].",
        ),
        (
            {"stream": "s", "schema": {"type": "object", "properties": {"a": {"type": "wat"}}}},
            "Input line 1 (stream 's'): SCHEMA message: 'schema' is not a valid JSON schema: Schema Validation "
            "Error: 'wat' is not valid under any of the given schemas",
        ),
        (
            {"stream": "s", "schema": {"type": "object", "properties": {"o": {"type": "object", "properties": []}}}},
            "Input line 1 (stream 's'): SCHEMA message: 'schema' is not a valid JSON schema: Schema Validation "
            "Error: [] is not of type 'object'",
        ),
        (
            {"stream": "s", "schema": {"type": "object", "properties": {"id": {"type": []}}}},
            "Input line 1 (stream 's'): SCHEMA message: 'schema' is not a valid JSON schema: Schema Validation "
            "Error: [] is not valid under any of the given schemas",
        ),
        (
            {"stream": "s", "schema": {"type": "object"}},
            "Input line 1 (stream 's'): SCHEMA message: 'schema' has no 'properties' (give {} for a stream "
            "without declared fields).",
        ),
    ],
)
def test_a_malformed_schema_message_is_one_error_naming_the_line_and_field(message, error):
    with pytest.raises(InputError) as info:
        run_target(UNREACHABLE_TARGET, [json.dumps({"type": "SCHEMA", **message})])
    assert str(info.value) == error


def test_reserved_column_prefixes_are_renamed():
    from target_bigquery_smart.schema import clean_name

    assert clean_name("_PARTITIONTIME") == "f_PARTITIONTIME"
    assert clean_name("_table_suffix") == "f_table_suffix"


def _start_tap(tmp_path, config: dict, *, text: bool = True) -> subprocess.Popen:
    """Start tap-generic-api on ``config`` with stdout and stderr piped (to signal it, or read it live)."""
    path = tmp_path / "tap.json"
    path.write_text(json.dumps(config))
    command = [str(BIN / "tap-generic-api"), "--config", str(path)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=text)


def _target_cli(target_config, tmp_path, data: bytes, env=None) -> subprocess.CompletedProcess:
    config = tmp_path / "target.json"
    config.write_text(json.dumps(target_config))
    command = [str(BIN / "target-bigquery-smart"), "--config", str(config)]
    return subprocess.run(command, input=data, capture_output=True, env=env, check=False)


@pytest.mark.emulator
def test_record_not_matching_its_schema_commits_the_rows_before_it(target_config, bq_client, tmp_path):
    schema = {"type": "object", "properties": {"id": {"type": "integer"}}}
    lines = [json.dumps({"type": "SCHEMA", "stream": "items", "schema": schema, "key_properties": ["id"]})]
    lines += [record_line({"id": 1}), record_line({"id": 2}), state_line({"a": 1})]
    lines += [record_line({"id": "not-an-integer"})]
    result = _target_cli(target_config, tmp_path, ("\n".join(lines) + "\n").encode())
    assert result.returncode != 0
    assert b"Input line 5 (stream 'items'): Stream 'items': record 3 does not match its SCHEMA" in result.stderr
    assert result.stdout.decode().splitlines() == [json.dumps({"a": 1})]
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items")
    assert sorted(json.loads(r["raw_data"])["id"] for r in rows) == [1, 2]


@pytest.mark.emulator
def test_bytes_that_are_not_utf8_under_a_strict_locale_name_the_line(target_config, bq_client, tmp_path):
    lines = [schema_line(), record_line({"id": 1}), state_line({"a": 1})]
    data = ("\n".join(lines) + "\n").encode() + b'{"type":"RECORD","stream":"items","record":{"id":2,"n":"\xff"}}\n'
    env = {"PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8:strict", "LC_ALL": "C.UTF-8"}
    result = _target_cli(target_config, tmp_path, data, env)
    assert result.returncode != 0
    assert b"Input line 4 is not valid JSON (it holds bytes that are not UTF-8): " in result.stderr
    assert b"Traceback" not in result.stderr
    assert result.stdout.decode().splitlines() == [json.dumps({"a": 1})]
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "items")
    assert [json.loads(r["raw_data"]) for r in rows] == [{"id": 1}]


@pytest.mark.parametrize("concurrency", [1, 4])
def test_api_ignoring_the_offset_is_a_loop_not_endless_duplicates(requests_mock, concurrency):
    requests_mock.get(API, json=[{"id": 1}, {"id": 2}])  # the same page for every offset
    tap = _tap(pagination={"type": "offset", "limit": 2, "max_concurrency": concurrency})
    records = []
    with pytest.raises(PaginationLoopError, match="pages 1 and 2 hold the same 2 records"):
        records.extend(tap.streams["items"].get_records(None))
    assert records == [{"id": 1}, {"id": 2}]
    assert requests_mock.call_count <= 1 + concurrency


def test_a_state_file_of_several_lines_starts_from_the_last(tmp_path, httpserver):
    httpserver.expect_request("/v1/items").respond_with_json([{"id": 7, "seq": 7}])
    config = tmp_path / "tap.json"
    config.write_text(
        json.dumps(
            {
                "url": httpserver.url_for("/v1/items"),
                "destination": {"table": "items", "key_fields": ["id"]},
                "replication_key": "seq",
                "start_date": "0",
                "params": {"after": "{bookmark}"},
            }
        )
    )
    state = tmp_path / "state.json"
    lines = [{"bookmarks": {"items": {"replication_key": "seq", "replication_key_value": n}}} for n in (2, 4, 6)]
    state.write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = subprocess.run(
        [str(BIN / "tap-generic-api"), "--config", str(config), "--state", str(state)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"State file {state} holds 3 lines; using the last" in result.stderr
    (request,) = [r for r, _ in httpserver.log]
    assert request.args["after"] == "6"


def test_a_state_file_that_is_not_json_is_one_clear_line(tmp_path):
    config = tmp_path / "tap.json"
    config.write_text(json.dumps({"url": "https://api.example.com/x", "destination": {"table": "t"}}))
    state = tmp_path / "state.json"
    state.write_text("{not json\n")
    result = subprocess.run(
        [str(BIN / "tap-generic-api"), "--config", str(config), "--state", str(state)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(f"State error: state file {state} is not valid JSON")
    assert "Traceback" not in result.stderr


def test_records_without_the_replication_key_are_a_clear_error(requests_mock):
    # data_path forgotten: the whole envelope is one record
    requests_mock.get(API, json={"object": "list", "data": [{"id": 1, "created": 5}], "has_more": False})
    tap = _tap(replication_key="created", start_date="0")
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(ResponseShapeError) as info:
        tap.sync_all()
    assert str(info.value) == (
        f"Stream 'items': data_path '' gives one object in the response from {API}?appid=***; its key 'data' "
        "holds a list of 1 object: set data_path to 'data'."
    )
    assert '"RECORD"' not in out.getvalue()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_ends_the_tap_with_a_failing_status(tmp_path, httpserver, signum):
    release, opened = threading.Event(), threading.Event()

    def hang(request):
        opened.set()
        release.wait(30)
        return Response("[]", content_type="application/json")

    httpserver.expect_request("/v1/items").respond_with_handler(hang)
    proc = _start_tap(tmp_path, {"url": httpserver.url_for("/v1/items"), "destination": {"table": "items"}})
    try:
        assert opened.wait(30)  # the tap is waiting on its request
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=30)
    finally:
        release.set()
        proc.kill()
    assert proc.returncode == 128 + signum, stderr[-2000:]
    assert f"Stopped by signal {int(signum)}; exiting with status {128 + signum}." in stderr


def test_a_signal_does_not_wait_for_requests_ahead(tmp_path, httpserver):
    # Offset pagination fetches pages ahead on other threads; a signal must not wait for them.
    release, held = threading.Event(), threading.Event()

    def page(request):
        if request.args.get("offset", "0") == "0":
            return Response(json.dumps([{"id": i} for i in range(2)]), content_type="application/json")
        held.set()
        release.wait(60)  # longer than the test waits for the tap to end
        return Response("[]", content_type="application/json")

    httpserver.expect_request("/v1/items").respond_with_handler(page)
    config = {
        "url": httpserver.url_for("/v1/items"),
        "destination": {"table": "items"},
        "pagination": {"type": "offset", "limit": 2, "max_concurrency": 4},
        "timeout": 120,
    }
    proc = _start_tap(tmp_path, config)
    try:
        assert held.wait(30)  # a later page's request is in flight
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=20)
        still_held = not release.is_set()
    finally:
        release.set()
        proc.kill()
    assert still_held
    assert proc.returncode == 143, stderr[-2000:]
    assert [json.loads(line)["record"]["id"] for line in stdout.splitlines() if '"RECORD"' in line] == [0, 1]


def test_a_closed_stdout_ends_the_tap_with_one_clear_line(tmp_path, httpserver):
    # `tap-generic-api ... | head -1`: the reader goes away after the first line.
    httpserver.expect_request("/v1/items").respond_with_json([{"id": i, "pad": "x" * 200} for i in range(5000)])
    proc = _start_tap(tmp_path, {"url": httpserver.url_for("/v1/items"), "destination": {"table": "items"}}, text=False)
    assert proc.stdout.readline().startswith(b'{"type":"SCHEMA"')
    proc.stdout.close()
    stderr = proc.communicate(timeout=60)[1].decode()
    assert proc.returncode == 1
    assert stderr.strip().splitlines()[-1] == (
        "Error: stdout was closed by the program reading it; the run stopped before its end."
    )
    assert "Traceback" not in stderr
    assert "Exception ignored" not in stderr


@pytest.mark.parametrize("program", ["tap-generic-api", "target-bigquery-smart"])
def test_a_stdout_closed_at_start_is_one_clear_line(tmp_path, program):
    config = {"url": "http://127.0.0.1:9/x", "destination": {"table": "t"}}
    result = _run(tmp_path, program, config, preexec_fn=lambda: os.close(1))  # noqa: PLW1509 - `program >&-`
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: stdout is closed; Singer messages are written there (redirect it, e.g. > out.jsonl)."
    )


def test_a_header_credential_outside_latin_1_is_a_credential_error_before_any_request(requests_mock):
    api = requests_mock.get(API, json=[])
    with pytest.raises(CredentialError) as info:
        _extract(_tap(auth={"type": "bearer", "provider": "X"}, secrets={"x": "tok\u20acn-NEVERLOG"}))
    assert str(info.value) == (
        "auth.type 'bearer': the credential for provider 'X' holds characters an HTTP header cannot carry "
        "(only Latin-1); look for a stray character such as a typographic quote."
    )
    assert api.call_count == 0


def test_a_header_value_outside_latin_1_is_a_config_error():
    with pytest.raises(ConfigError) as info:
        _tap(headers={"X-API-Key": "k\u2019NEVERLOG"})
    assert str(info.value) == (
        "config.headers.X-API-Key holds characters an HTTP header cannot carry (names: ASCII; values: Latin-1); "
        "look for a stray character such as a typographic quote."
    )


def test_an_unknown_message_type_is_one_clear_error(tmp_path):
    lines = '{"type":"STATE","value":{}}\n{"type":"WHATEVER"}\n'
    result = _run(tmp_path, "target-bigquery-smart", UNREACHABLE_TARGET, stdin=None, input=lines)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: Input line 2: unknown message type 'WHATEVER' (expected SCHEMA, RECORD, STATE or ACTIVATE_VERSION)."
    )
    assert "Traceback" not in result.stderr


def test_a_full_stdout_ends_the_tap_with_one_clear_line(tmp_path, httpserver):
    httpserver.expect_request("/v1/items").respond_with_json([{"id": i} for i in range(10)])
    config = {"url": httpserver.url_for("/v1/items"), "destination": {"table": "items"}}
    with open("/dev/full", "w") as full:
        result = _run(tmp_path, "tap-generic-api", config, stdout=full)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: stdout could not be written (No space left on device); the run stopped before its end."
    )
    assert "Traceback" not in result.stderr


def test_a_closed_stdout_ends_the_target_with_one_clear_line(tmp_path):
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody reads the target's STATE
    state = '{"type":"STATE","value":{"bookmarks":{"items":{"id":1}}}}\n'
    result = _run(tmp_path, "target-bigquery-smart", UNREACHABLE_TARGET, stdin=None, input=state, stdout=write_end)
    os.close(write_end)
    assert result.returncode == 1, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1].startswith("Error: stdout was closed by the program reading it")
    assert "Traceback" not in result.stderr


def test_a_signal_ends_the_target_with_a_failing_status(tmp_path):
    config = tmp_path / "target.json"
    config.write_text(json.dumps({"project": "p", "dataset": "d", "api_endpoint": "http://127.0.0.1:9"}))
    proc = subprocess.Popen(
        [str(BIN / "target-bigquery-smart"), "--config", str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(3)  # started and waiting for input
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 143, stderr[-2000:]


def test_an_invalid_url_with_a_password_is_a_config_error_that_does_not_show_it():
    with pytest.raises(ConfigError) as info:
        _tap(auth=None, url="http://user:pa-NEVERLOG/ss@127.0.0.1:9/x")
    assert str(info.value).startswith("config.url is not a valid URL (a user:password in it must be")
    assert "NEVERLOG" not in str(info.value)


@pytest.mark.parametrize(
    "echo",
    [
        lambda s: s.replace("/", "\\/"),  # JSON with escaped slashes
        lambda s: base64.b64encode(s.encode()).decode(),
        lambda s: base64.urlsafe_b64encode(s.encode()).decode().rstrip("="),
        html.escape,  # an HTML error page
        lambda s: html.escape(s).replace("&#x27;", "&#39;"),  # the other entity for '
        lambda s: json.dumps(s)[1:-1],  # JSON with non-ASCII as \\uXXXX (Python's default)
        lambda s: s.replace("&", "\\u0026").replace("<", "\\u003c"),  # Go's HTML-safe JSON
        lambda s: json.dumps(s).replace("/", "\\/")[1:-1],  # PHP's json_encode
        lambda s: "".join(f"\\u{ord(c):04X}" if c in "&<'+" or not c.isascii() else c for c in s),  # .NET
        lambda s: html.escape(s).replace("&#x27;", "&apos;").replace("&amp;", "&#38;"),  # other entities
        lambda s: urllib.parse.quote(s, safe="-_.!~*'()"),  # JavaScript's encodeURIComponent
        lambda s: urllib.parse.quote(s),  # '/' left as is
        lambda s: s.encode().decode("latin-1"),  # UTF-8 read as Latin-1
    ],
)
def test_secrets_echoed_escaped_or_in_base64_are_masked(requests_mock, echo):
    secret = "sEcr3t/NEVERLOG+tok==&<'é"
    requests_mock.get(API, status_code=400, text=f'{{"error": "bad key {echo(secret)}"}}')
    with pytest.raises(Exception, match="API error 400") as info:
        _extract(_tap(secrets={"x": secret}))
    assert "NEVERLOG" not in str(info.value)
    # masked where it stands, or (an encoding no variant lists) the whole excerpt withheld
    assert "bad key ***" in str(info.value) or str(info.value).endswith(f": {WITHHELD}")


def test_a_non_ascii_secret_in_a_reason_phrase_or_a_text_body_without_charset_is_masked(httpserver):
    secret = "Sk&<a>'b/c+é-NEVERLOG"

    def echo(request):
        if request.args.get("where") == "reason":
            response = Response("{}", status=400, content_type="application/json")
            response.status = f"400 Bad {secret}".encode().decode("latin-1")  # sent as UTF-8 bytes
            return response
        return Response(f"<p>bad key {secret}</p>".encode(), status=400, content_type="text/html")

    httpserver.expect_request("/v1/items").respond_with_handler(echo)
    for where in ("reason", "body"):
        tap = _tap(url=httpserver.url_for("/v1/items"), params={"where": where}, secrets={"x": secret})
        with pytest.raises(Exception, match="API error 400") as info:
            _extract(tap)
        assert "NEVERLOG" not in str(info.value)


def test_a_secret_in_the_url_path_is_masked(requests_mock):
    secret = "Sk&<a>'b/c+é-NEVERLOG"
    requests_mock.get(re.compile(r"https://api\.example\.com/echo/.*"), status_code=404, text="no such key")
    tap = _tap(url="https://api.example.com/echo/{api_token}/x", variables={"api_token": secret})
    with pytest.raises(Exception, match="API error 404") as info:
        _extract(tap)
    assert "NEVERLOG" not in str(info.value)


def test_the_oauth2_token_error_masks_every_secret_before_it_is_cut(requests_mock):
    token_url = "https://auth.example.com/token"
    secret = "cs&<q>'r/s+NEVERLOG-1"
    body = "p" * 290 + f" {secret} and {SECRET}"
    requests_mock.post(token_url, status_code=400, text=body)
    tap = _tap(auth={"type": "oauth2", "token_url": token_url, "client_id": "c", "client_secret": secret})
    with pytest.raises(Exception, match="OAuth2 token request") as info:
        _extract(tap)
    assert "NEVERLOG" not in str(info.value)
    assert "cs&<q>" not in str(info.value)


def test_a_secret_in_the_reason_phrase_or_content_type_is_masked(requests_mock):
    requests_mock.get(API, status_code=401, reason=f"Invalid credential {SECRET}", json={})
    with pytest.raises(Exception, match="API error 401 Invalid credential \\*\\*\\*") as info:
        _extract(_tap())
    assert SECRET not in str(info.value)
    requests_mock.get(API, text="not json", headers={"Content-Type": f"text/plain; key={SECRET}"})
    with pytest.raises(ResponseShapeError) as info:
        _extract(_tap())
    assert SECRET not in str(info.value)


def test_a_secret_across_the_excerpt_window_is_masked_whole(requests_mock):
    requests_mock.get(API, status_code=401, text=" " * 5985 + f"key {SECRET} rejected")
    with pytest.raises(Exception, match="API error 401") as info:
        _extract(_tap())
    assert "key ***" in str(info.value)
    assert SECRET[:6] not in str(info.value)


def test_the_oauth2_token_request_does_not_follow_a_redirect(requests_mock):
    token_url = "https://auth.example.com/token"
    requests_mock.post(token_url, status_code=307, headers={"Location": "https://elsewhere.example/steal"})
    elsewhere = requests_mock.post("https://elsewhere.example/steal", json={"access_token": "x"})
    tap = _tap(auth={"type": "oauth2", "token_url": token_url, "client_id": "c", "client_secret": SECRET})
    with pytest.raises(Exception, match=r"OAuth2 token request to .* was redirected \(status 307\)"):
        _extract(tap)
    assert elsewhere.call_count == 0


def test_a_saved_state_message_and_bad_bookmarks_in_the_state_file(tmp_path, httpserver):
    httpserver.expect_request("/v1/items").respond_with_json([])
    config = tmp_path / "tap.json"
    config.write_text(
        json.dumps(
            {
                "url": httpserver.url_for("/v1/items"),
                "destination": {"table": "items"},
                "replication_key": "seq",
                "start_date": "0",
                "params": {"after": "{bookmark}"},
            }
        )
    )
    state = tmp_path / "state.json"
    bookmark = {"bookmarks": {"items": {"replication_key": "seq", "replication_key_value": 9}}}
    state.write_text(json.dumps({"type": "STATE", "value": bookmark}))
    command = [str(BIN / "tap-generic-api"), "--config", str(config), "--state", str(state)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "holds a STATE message; using its value" in result.stderr
    assert httpserver.log[0][0].args["after"] == "9"
    state.write_text(json.dumps({"bookmarks": []}))
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert "'bookmarks' must map each stream name to an object, got []" in result.stderr
    assert "Traceback" not in result.stderr


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
    result = _run(tmp_path, "target-bigquery-smart", config, input=lines, stdin=None)
    assert result.returncode == 1
    assert "Target config: unknown key(s) 'flaten' (did you mean 'flatten'?). Valid keys: add_fields," in result.stderr
    assert "Traceback" not in result.stderr
    with pytest.raises(NotFound):
        bq_client.get_table(f"{target_config['project']}.{target_config['dataset']}.items")
