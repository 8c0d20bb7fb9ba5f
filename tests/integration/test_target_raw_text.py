"""Raw layout: each record's JSON text goes to raw_data as it came in the input line, not re-encoded.

Every guarantee of the decoded path holds: the value is the input's exactly (unicode, big
integers, decimals, nesting), strict JSON where the input was not, key properties checked,
insertIds the same, refused records named, dead letters keep the text.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from helpers import record_line, run_target, run_target_cli, schema_line, state_line, table_rows

from target_bigquery_smart.errors import MissingKeyError, RejectedRowsError

# Written by hand, as a tap might: spacing, escapes, digits no float holds, nesting.
RECORD_TEXTS = [
    '{"id": 1, "name": "Zo\\u00eb \\"quoted\\" \\\\ back", "emoji": "\\ud83d\\ude00", "direct": "日本語 ✓ 😀"}',
    '{"id":2,"big":123456789012345678901234567890,"neg":-98765432109876543210,"dec":1.10,"exp":1e400}',
    '{ "id" : 3 , "nested" : { "a" : [ 1 , { "b" : [ ] , "c" : { } } , null , true , false ] , "z" : 0.000001 } }',
    '{"id":4,"tab":"a\\tb\\nc","nul":"\\u0000","slash":"\\/","empty":"","control":"\\u001f"}',
]


def _record(text, stream="items"):
    return '{"type":"RECORD","stream":"' + stream + '","record":' + text + "}"


def _lines(texts, stream="items"):
    return [schema_line(stream)] + [_record(t, stream) for t in texts]


def _raw_by_id(bq_client, config, table="items"):
    rows = table_rows(bq_client, config["project"], config["dataset"], table)
    return {json.loads(r["raw_data"])["id"]: r["raw_data"] for r in rows}


@pytest.mark.emulator
@pytest.mark.parametrize("threshold", [100, 1], ids=["streaming-insert", "load-job"])
def test_raw_data_is_the_input_records_text_exactly(target_config, bq_client, threshold):
    run_target({**target_config, "streaming_threshold": threshold}, _lines(RECORD_TEXTS))
    stored = _raw_by_id(bq_client, target_config)
    assert [stored[i] for i in (1, 2, 3, 4)] == RECORD_TEXTS
    for text in RECORD_TEXTS:
        value = json.loads(stored[json.loads(text)["id"]], parse_float=Decimal)
        assert value == json.loads(text, parse_float=Decimal)
    assert json.loads(stored[1])["emoji"] == "😀"
    assert json.loads(stored[1])["direct"] == "日本語 ✓ 😀"
    assert json.loads(stored[2])["big"] == 123456789012345678901234567890
    assert json.loads(stored[2], parse_float=Decimal)["dec"] == Decimal("1.10")


@pytest.mark.emulator
def test_a_record_strict_json_cannot_hold_is_stored_strict_and_the_others_as_they_came(target_config, bq_client):
    texts = ['{"id": 1, "x": NaN, "y": -Infinity}', '{"id": 2, "s": "a\\ud800b"}', '{"id": 3, "ok": [1, 2]}']
    run_target(target_config, _lines(texts))
    stored = _raw_by_id(bq_client, target_config)
    assert stored == {1: '{"id":1,"x":null,"y":null}', 2: '{"id":2,"s":"a\ufffdb"}', 3: texts[2]}


@pytest.mark.emulator
def test_sdc_metadata_fields_are_dropped_from_raw_data(target_config, bq_client):
    texts = ['{"id": 1, "_sdc_extracted_at": "2024-01-01T00:00:00Z", "_sdc_x": 2}', '{"id": 2, "n": "_sdc_"}']
    run_target(target_config, _lines(texts))
    stored = _raw_by_id(bq_client, target_config)
    assert stored == {1: '{"id":1,"_sdc_x":2}', 2: texts[1]}


def test_a_record_lacking_its_key_property_is_refused_naming_the_record(target_config):
    texts = ['{"id": 1, "n": 1}', '{"ident": 2, "n": 2}']
    with pytest.raises(MissingKeyError) as info:
        run_target(target_config, _lines(texts))
    assert str(info.value) == (
        "Input line 3 (stream 'items'): Stream 'items': record 2 lacks key property ['id']; "
        "fields present: ['ident', 'n']."
    )


def test_merge_mode_refuses_a_record_whose_key_is_null_naming_it(target_config):
    texts = ['{"id": 1, "n": 1}', '{"id": null, "n": 2}']
    with pytest.raises(RejectedRowsError) as info:
        run_target({**target_config, "write_mode": "merge"}, _lines(texts))
    assert "record 2 (input line 3): id: key property is null" in str(info.value)


@pytest.mark.emulator
def test_merge_mode_reads_keys_from_the_text_of_keys_that_are_not_identifiers(target_config, bq_client):
    schema = {"type": "object", "properties": {"user id": {"type": "integer"}, "class": {"type": "string"}}}
    head = json.dumps({"type": "SCHEMA", "stream": "s", "schema": schema, "key_properties": ["user id", "class"]})
    texts = ['{"user id": 1, "class": "a", "v": 1}', '{"user id": 1, "class": "b", "v": 2}']
    texts.append('{"v": 3, "class": "a", "user id": 1}')
    lines = [head] + [_record(t, "s") for t in texts]
    run_target({**target_config, "write_mode": "merge"}, [*lines[:3], state_line({"n": 2}), lines[3]])
    rows = table_rows(bq_client, target_config["project"], target_config["dataset"], "s")
    assert sorted(r["raw_data"] for r in rows) == sorted([texts[1], texts[2]])


@pytest.mark.emulator
def test_the_raw_layout_stores_a_record_its_schema_does_not_describe_unless_validation_is_asked(
    target_config, bq_client
):
    schema = {"type": "object", "properties": {"id": {"type": "integer"}, "n": {"type": "integer"}}}
    head = json.dumps({"type": "SCHEMA", "stream": "s", "schema": schema, "key_properties": ["id"]})
    lines = [head, record_line({"id": 1, "n": "forty-two"}, "s")]
    run_target(target_config, lines)
    (row,) = table_rows(bq_client, target_config["project"], target_config["dataset"], "s")
    assert row["raw_data"] == '{"id": 1, "n": "forty-two"}'
    with pytest.raises(RejectedRowsError, match="record 1 does not match its SCHEMA: data.n must be integer"):
        run_target({**target_config, "validate_records": True}, lines)


@pytest.mark.emulator
def test_a_dead_letter_keeps_the_records_text_as_it_came(target_config, bq_client):
    schema = {"type": "object", "properties": {"id": {"type": "integer"}, "n": {"type": "integer"}}}
    head = json.dumps({"type": "SCHEMA", "stream": "s", "schema": schema, "key_properties": ["id"]})
    texts = ['{"id": 1, "n": 5}', '{"id": 2,  "n": "x", "big": 123456789012345678901234567890}']
    lines = [head] + [_record(t, "s") for t in texts]
    run_target({**target_config, "validate_records": True, "dead_letter_table": "dead"}, lines)
    (letter,) = table_rows(bq_client, target_config["project"], target_config["dataset"], "dead")
    assert (letter["record_number"], letter["row_data"]) == (2, texts[1])
    (row,) = table_rows(bq_client, target_config["project"], target_config["dataset"], "s")
    assert row["raw_data"] == texts[0]


@pytest.mark.emulator
def test_insert_ids_are_those_of_the_decoded_record(target_config, monkeypatch):
    from target_bigquery_smart import loader, rows

    sent: list[list[str]] = []
    real = loader.stream_rows

    def spy(client, table, batch_rows, row_ids, *args, **kwargs):
        sent.append(list(row_ids))
        return real(client, table, batch_rows, row_ids, *args, **kwargs)

    monkeypatch.setattr(loader, "stream_rows", spy)
    run_target(target_config, _lines(RECORD_TEXTS))
    expected = [rows.insert_id("items", json.loads(t, parse_float=Decimal), n) for n, t in enumerate(RECORD_TEXTS, 1)]
    assert sent == [expected]


@pytest.mark.emulator
def test_the_cli_stores_the_text_of_piped_records(target_config, bq_client, tmp_path):
    lines = [*_lines(RECORD_TEXTS[:2]), state_line({"n": 2})]
    result = run_target_cli(target_config, tmp_path, ("\n".join(lines) + "\n").encode())
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert result.stdout.decode().splitlines() == ['{"n": 2}']
    assert _raw_by_id(bq_client, target_config) == {1: RECORD_TEXTS[0], 2: RECORD_TEXTS[1]}


@pytest.mark.emulator
def test_a_stream_map_gets_the_whole_record_decoded(target_config, bq_client):
    config = {**target_config, "stream_maps": {"items": {"doubled": "id * 2"}}}
    run_target(config, _lines(['{"id": 21, "n": 1.50}']))
    (row,) = table_rows(bq_client, target_config["project"], target_config["dataset"], "items")
    assert json.loads(row["raw_data"], parse_float=Decimal) == {"id": 21, "n": Decimal("1.50"), "doubled": 42}


def test_a_record_before_its_schema_is_still_refused_naming_the_stream(target_config):
    from singer_sdk.exceptions import RecordsWithoutSchemaException

    with pytest.raises(RecordsWithoutSchemaException, match="items"):
        run_target(target_config, [_record('{"id": 1}')])
