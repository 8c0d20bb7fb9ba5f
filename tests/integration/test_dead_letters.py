"""Rows BigQuery refuses go to the dead-letter table (dead_letter_table), each one, never lost or hung on."""

from __future__ import annotations

import json

import pytest
from helpers import record_line, run_target, table_rows


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
