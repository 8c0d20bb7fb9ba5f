"""A config mistake is one error line with its correction, in every mode of both plugins (CLI)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from helpers import BIN, UNREACHABLE_TARGET, run_cli

PAGES = (
    "config.pagination.type: invalid value 'pages' (did you mean 'page'?). "
    "Valid values: cursor, offset, page, link, none."
)
TAP_BAD_CHOICE = {"url": "http://127.0.0.1:9/x", "destination": {"table": "t"}, "pagination": {"type": "pages"}}


def error_lines(stderr: str) -> list[str]:
    """Every stderr line but the SDK's version line (``tap-generic-api v0.1.0, Meltano SDK v...``)."""
    return [line for line in stderr.splitlines() if "Meltano SDK v" not in line]


@pytest.mark.parametrize("mode", [[], ["--discover"], ["--test"]])
def test_a_misspelt_choice_is_one_error_with_the_correction_in_every_tap_mode(tmp_path, mode):
    path = tmp_path / "tap.json"
    path.write_text(json.dumps(TAP_BAD_CHOICE))
    command = [str(BIN / "tap-generic-api"), "--config", str(path), *mode]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 1
    assert error_lines(result.stderr) == [f"Config error: {PAGES}"]


def test_a_misspelt_choice_inside_a_streams_entry_names_the_entry(tmp_path):
    config = {"streams": [{"name": "a", "url": "http://127.0.0.1:9/x", "destination": {"table": "a"}}]}
    config["streams"][0]["pagination"] = {"type": "curser"}
    result = run_cli(tmp_path, "tap-generic-api", config)
    assert result.returncode == 1
    assert error_lines(result.stderr) == [
        "Config error: streams[0].pagination.type: invalid value 'curser' (did you mean 'cursor'?). "
        "Valid values: cursor, offset, page, link, none."
    ]


def test_a_misspelt_key_inside_a_streams_entry_is_one_error_in_a_sync(tmp_path):
    config = {"streams": [{"name": "a", "url": "http://127.0.0.1:9/x", "destination": {"table": "a"}}]}
    config["streams"][0]["pagnation"] = {"type": "page"}
    result = run_cli(tmp_path, "tap-generic-api", config)
    assert result.returncode == 1
    (line,) = error_lines(result.stderr)
    assert line.startswith("Config error: streams[0]: unknown key(s) 'pagnation' (did you mean 'pagination'?).")


def test_the_target_words_a_misspelt_choice_the_same_way(tmp_path):
    result = run_cli(tmp_path, "target-bigquery-smart", {**UNREACHABLE_TARGET, "write_mode": "merj"})
    assert result.returncode == 1
    assert error_lines(result.stderr) == [
        "Config error: config.write_mode: invalid value 'merj' (did you mean 'merge'?). Valid values: append, merge."
    ]


def test_a_credential_given_as_a_choice_is_masked_but_still_corrected(tmp_path):
    config = {**TAP_BAD_CHOICE, "pagination": {"type": "page"}, "auth": {"type": "berer-NEVERLOG"}}
    result = run_cli(tmp_path, "tap-generic-api", config)
    assert result.returncode == 1
    assert error_lines(result.stderr) == [
        "Config error: config.auth.type: invalid value '***'. Valid values: bearer, header, query, basic, oauth2."
    ]


@pytest.mark.parametrize(
    ("program", "variable", "value", "message"),
    [
        (
            "tap-generic-api",
            "TAP_GENERIC_API_SECRETS",
            '{"api": NEVERLOG',
            "environment variable TAP_GENERIC_API_SECRETS (setting 'secrets') must hold JSON "
            "(Expecting value at character 8); its value is not shown.",
        ),
        (
            "target-bigquery-smart",
            "TARGET_BIGQUERY_SMART_BATCH_SIZE",
            "NEVERLOG",
            "environment variable TARGET_BIGQUERY_SMART_BATCH_SIZE (setting 'batch_size') must hold an integer; "
            "its value is not shown.",
        ),
    ],
)
def test_a_malformed_environment_variable_is_named_and_its_value_masked(tmp_path, program, variable, value, message):
    env = {**os.environ, variable: value}
    command = [str(BIN / program), "--config", "ENV"]
    result = subprocess.run(
        command, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, check=False, timeout=60
    )
    assert result.returncode == 1
    assert f"Config error: {message}" in result.stderr.splitlines()
    assert "Traceback" not in result.stderr
    assert "NEVERLOG" not in result.stderr + result.stdout
