"""raw_records: which RECORD lines keep their record as text, and reading only the key properties."""

from __future__ import annotations

from decimal import Decimal

import pytest

from target_bigquery_smart.raw_records import KeyReader, as_record, as_text, record_text


def test_a_record_line_gives_its_stream_and_the_records_text_as_written():
    line = '{"type": "RECORD", "stream": "s", "record": {"a": 1.10,  "b": "\\u00e9"}, "time_extracted": "x"}\n'
    assert record_text(line) == ("s", '{"a": 1.10,  "b": "\\u00e9"}')


@pytest.mark.parametrize(
    "line",
    [
        '{"type": "RECORD", "stream": "s", "record": {"a": NaN}}',
        '{"type": "RECORD", "stream": "s", "record": {"a": "\\ud800"}}',
        '{"type": "RECORD", "stream": "s", "record": {"a": "\udcff"}}',  # a byte that was not UTF-8
        '{"type": "RECORD", "stream": "s", "record": {"a": "\x01"}}',
        '{"type": "RECORD", "stream": "s", "record": [1]}',
        '{"type": "RECORD", "stream": "s"}',
        '{"type": "RECORD", "stream": ["s"], "record": {}}',
        '{"type": "STATE", "value": {}}',
        '{"type": "RECORD", "stream": "s", "record": {"a": ' + "[" * 100_000 + "]" * 100_000 + "}}",
        "[1, 2]",
        "",
        "not json",
    ],
    ids=[
        "nan",
        "lone-surrogate",
        "not-utf8",
        "control",
        "array",
        "no-record",
        "bad-stream",
        "state",
        "deep",
        "array-line",
        "blank",
        "text",
    ],
)
def test_a_line_the_fast_path_cannot_keep_as_strict_text_is_left_to_the_full_decode(line):
    assert record_text(line) is None


def test_key_reader_reads_only_the_key_properties_whatever_their_names():
    keys = KeyReader(["user id", "class", "user id"])
    text = '{"class": "a", "x": {"deep": [1, 2]}, "user id": 12345678901234567890123, "n": 1.5}'
    assert keys.read(text) == {"user id": 12345678901234567890123, "class": "a"}
    assert keys.has_all(text)
    assert keys.read('{"class": 1.50}') == {"class": Decimal("1.50")}
    assert not keys.has_all('{"class": 1.50}')
    assert KeyReader([]).has_all("{}")


def test_a_batch_record_kept_as_text_decodes_and_encodes_as_the_record():
    assert as_record('{"a": 1.10, "b": [1]}') == {"a": Decimal("1.10"), "b": [1]}
    assert as_text('{"a":  1}') == '{"a":  1}'
    assert as_text({"a": float("nan")}) == '{"a":null}'
