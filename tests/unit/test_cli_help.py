"""``--help`` describes each plugin, its commands and where the docs are (CLI)."""

from __future__ import annotations

import subprocess

from helpers import BIN

from plugin_kit.help_text import help_text


def _help(program: str) -> str:
    result = subprocess.run([str(BIN / program), "--help"], capture_output=True, text=True, check=True, timeout=60)
    return result.stdout


def test_the_tap_help_describes_the_tap_and_its_commands():
    text = _help("tap-generic-api")
    assert "Execute the Singer tap." not in text
    assert "  Singer tap for any REST API, by configuration alone:" in text
    assert (
        "    tap-generic-api --config tap.json --test\n        first page of each stream: record count and keys\n"
    ) in text
    assert "    tap-generic-api-credentials\n" in text
    assert "sync a single record" not in text
    assert "--test TEXT               Fetch each stream's first page and print its\n" in text
    assert "Documentation: README.md and docs/TAP_CONFIG.md" in text


def test_the_target_help_describes_the_target():
    text = _help("target-bigquery-smart")
    assert "Execute the Singer target." not in text
    assert "  Singer target for BigQuery: reads SCHEMA, RECORD and STATE messages on" in text
    assert "Documentation: README.md and docs/TARGET_CONFIG.md" in text


def test_sub_commands_are_listed_one_a_line():
    text = help_text("What it does.", [("x --a", "does a")], subcommands={"probe": "p", "from-openapi": "o"})
    assert text == (
        "What it does.\n\n\b\nExamples:\n  x --a\n      does a\n\n"
        "\b\nSub-commands:\n  probe         p\n  from-openapi  o"
    )
