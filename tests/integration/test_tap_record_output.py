"""RECORD output: records copied as the API wrote them, one per line, read in the right encoding, flattened or
deselected as the catalog says."""

from __future__ import annotations

import json

from helpers import API, bearer_tap, extract, record_lines, sync_messages

from tap_generic_api.tap import TapGenericAPI


def test_records_go_out_as_the_api_wrote_them(requests_mock):
    """Without a replication key, a record's text is copied, not decoded and encoded again."""
    first = '{"id": 1, "price": 1.10, "name": "\\u00e9t\\u00e9", "big": 123456789012345678901234567890}'
    second = '{"id":2,"nested":{"a":[1,2.50,null]},"e":1E+2}'
    requests_mock.get(API, text=f'{{"rows": [{first}, {second}], "total": 2}}\n')
    lines = record_lines(bearer_tap(data_path="rows"))
    prefix = '{"type":"RECORD","stream":"items","record":'
    assert [line[: line.index(',"time_extracted":')] for line in lines] == [prefix + first, prefix + second]
    assert [json.loads(line)["record"]["id"] for line in lines] == [1, 2]


def test_records_with_line_breaks_inside_are_written_one_per_line(requests_mock):
    requests_mock.get(API, text=json.dumps({"rows": [{"id": 1, "a": "x"}, {"id": 2}]}, indent=2))
    lines = record_lines(bearer_tap(data_path="rows"))
    prefix = '{"type":"RECORD","stream":"items","record":'
    assert [line[: line.index(',"time_extracted":')] for line in lines] == [
        prefix + '{"id":1,"a":"x"}',
        prefix + '{"id":2}',
    ]


def test_a_replication_key_stream_still_reads_its_records(requests_mock):
    requests_mock.get(API, text='{"rows": [{"id": 1, "ts": "2026-01-02"}, {"id": 2, "ts": "2026-01-03"}]}')
    tap = bearer_tap(data_path="rows", replication_key="ts", start_date="2026-01-01")
    messages = sync_messages(tap)
    assert [m["record"]["id"] for m in messages if m["type"] == "RECORD"] == [1, 2]
    state = [m for m in messages if m["type"] == "STATE"][-1]["value"]
    assert state["bookmarks"]["items"]["replication_key_value"] == "2026-01-03"


def test_flattening_enabled_flattens_the_records_as_well_as_the_schema(requests_mock):
    requests_mock.get(API, text='{"rows": [{"id": 1, "b": {"x": 1, "y": 2}}]}')
    schema = {"type": "object", "properties": {"id": {"type": "integer"}, "b": {"type": "object"}}}
    schema["properties"]["b"]["properties"] = {"x": {"type": "integer"}, "y": {"type": "integer"}}
    tap = bearer_tap(data_path="rows", schema=schema, flattening_enabled=True, flattening_max_depth=3)
    messages = sync_messages(tap)
    (schema_message,) = [m for m in messages if m["type"] == "SCHEMA"]
    assert set(schema_message["schema"]["properties"]) == {"id", "b__x", "b__y"}
    assert [m["record"] for m in messages if m["type"] == "RECORD"] == [{"id": 1, "b__x": 1, "b__y": 2}]


def test_a_nested_field_deselected_in_the_catalog_is_left_out(requests_mock):
    requests_mock.get(API, text='{"rows": [{"id": 1, "b": {"x": 1, "y": 2}}]}')
    schema = {"type": "object", "properties": {"id": {"type": "integer"}, "b": {"type": "object"}}}
    schema["properties"]["b"]["properties"] = {"x": {"type": "integer"}, "y": {"type": "integer"}}
    catalog = bearer_tap(data_path="rows", schema=schema).catalog_dict
    for entry in catalog["streams"][0]["metadata"]:
        if entry["breadcrumb"] == ["properties", "b", "properties", "y"]:
            entry["metadata"]["selected"] = False
    config = {**bearer_tap(data_path="rows", schema=schema).config}
    tap = TapGenericAPI(config=config, catalog=catalog, parse_env_config=False)
    records = [m["record"] for m in sync_messages(tap) if m["type"] == "RECORD"]
    assert records == [{"id": 1, "b": {"x": 1}}]


def test_utf8_json_labelled_text_plain_without_charset_is_read_as_utf8(requests_mock):
    requests_mock.get(
        API, content='{"rows": [{"id": 1, "a": "café"}]}'.encode(), headers={"Content-Type": "text/plain"}
    )
    assert extract(bearer_tap(data_path="rows")) == [{"id": 1, "a": "café"}]
    lines = record_lines(bearer_tap(data_path="rows"))
    assert json.loads(lines[0])["record"] == {"id": 1, "a": "café"}


def test_a_character_across_the_check_slices_still_goes_out_as_the_api_wrote_it(requests_mock):
    """Raw records are checked for UTF-8 a mebibyte at a time: a character cut by a slice is still valid."""
    head = '[{"id": 1, "s": "'
    record = '{"id": 1, "s": "' + "a" * ((1 << 20) - 1 - len(head)) + 'é"}'
    assert ("[" + record).encode().index("é".encode()) == (1 << 20) - 1
    requests_mock.get(API, content=f'{{"rows": [{record}, {{"id": 2}}]}}'.encode())
    lines = record_lines(bearer_tap(data_path="rows"))
    prefix = '{"type":"RECORD","stream":"items","record":'
    assert [line[: line.index(',"time_extracted":')] for line in lines] == [prefix + record, prefix + '{"id": 2}']


def test_a_line_break_past_the_first_check_slice_still_splits_no_message(requests_mock):
    record = '{"id": 1, "s": "' + "a" * (2 << 20) + '"}'
    requests_mock.get(API, content=f'{{"rows": [{record},\n{{"id": 2}}]}}'.encode())
    lines = record_lines(bearer_tap(data_path="rows"))
    assert [json.loads(line)["record"]["id"] for line in lines] == [1, 2]
    assert lines[1].startswith('{"type":"RECORD","stream":"items","record":{"id":2}')
