"""Tap configuration, config files and state files that are wrong: one clear error naming the key or file."""

from __future__ import annotations

import json
import subprocess

import pytest
from helpers import API, BIN, query_key_tap
from helpers import QUERY_KEY_SECRET as SECRET

from plugin_kit.errors import ConfigError


def test_url_scheme_other_than_http_is_a_config_error():
    with pytest.raises(ConfigError, match=r"config.url must be an http:// or https:// URL"):
        query_key_tap(url="ftp://127.0.0.1/x")


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
    # Discovery checks the config as a sync does: the same one line.
    assert result.stderr.splitlines() == ["Config error: '***' is not of type 'object', 'null' in config['secrets']"]
    assert SECRET not in result.stderr + result.stdout


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


def test_a_header_value_outside_latin_1_is_a_config_error():
    with pytest.raises(ConfigError) as info:
        query_key_tap(headers={"X-API-Key": "k\u2019NEVERLOG"})
    assert str(info.value) == (
        "config.headers.X-API-Key holds characters an HTTP header cannot carry (names: ASCII; values: Latin-1); "
        "look for a stray character such as a typographic quote."
    )


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
