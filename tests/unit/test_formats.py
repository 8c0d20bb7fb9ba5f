"""The response-format pieces called directly: format choice, body decoding, CSV typing, config parsing."""

from __future__ import annotations

import codecs
import decimal
import gzip
import io
import zipfile
import zlib

import pytest
import requests

from plugin_kit.errors import ConfigError
from tap_generic_api.config import parse_streams
from tap_generic_api.errors import ResponseShapeError
from tap_generic_api.formats import choice
from tap_generic_api.formats.body import Body
from tap_generic_api.formats.csv_values import CsvTypes
from tap_generic_api.formats.rows import chunked, csv_records, jsonl_records


def _response(body: bytes, content_type: str = "") -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response.headers["Content-Type"] = content_type
    response._content = body
    response._content_consumed = True
    response.raw = io.BytesIO(body)
    return response


@pytest.mark.parametrize(
    ("configured", "content_type", "expected"),
    [
        (None, "text/csv; charset=utf-8", "csv"),
        (None, "application/x-ndjson", "jsonl"),
        (None, "application/json", "json"),
        (None, "", "json"),
        ("json", "text/csv", "json"),
        ("csv", "application/json", "csv"),
    ],
)
def test_the_configured_format_wins_then_the_content_type_then_json(configured, content_type, expected):
    assert choice.format_of(configured, _response(b"", content_type)) == expected


def test_a_zip_member_name_gives_the_format():
    assert choice.format_of_name("out/report.CSV.gz", "json") == "csv"
    assert choice.format_of_name("x.ndjson", "json") == "jsonl"
    assert choice.format_of_name("data.bin", "json") == "json"


@pytest.mark.parametrize(
    "wrap",
    [
        lambda b: b,
        gzip.compress,
        zlib.compress,
        lambda b: gzip.compress(zlib.compress(b)),
    ],
    ids=["plain", "gzip", "zlib", "zlib-in-gzip"],
)
def test_a_body_is_decoded_whatever_its_compression(wrap):
    data = b"id,name\n" + b"".join(b"%d,n%d\n" % (i, i) for i in range(20_000))
    body = Body(_response(wrap(data)), "Stream 's'")
    assert b"".join(body.chunks()) == data


def test_a_zip_holding_one_file_gives_that_file_and_its_name():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("export/part.csv", "id\n1\n")
    body = Body(_response(gzip.compress(buffer.getvalue())), "Stream 's'")
    assert body.member == "export/part.csv"
    assert body.stream.read() == b"id\n1\n"
    body.close()


def test_an_empty_zip_is_an_error():
    buffer = io.BytesIO()
    zipfile.ZipFile(buffer, "w").close()
    with pytest.raises(ResponseShapeError, match="the zip holds 0 files"):
        Body(_response(buffer.getvalue()), "Stream 's'")


def test_a_zip_from_macos_is_read_without_its_metadata_copies():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("export.csv", b"id\n1\n")
        archive.writestr("__MACOSX/._export.csv", b"\x00\x05\x16\x07 AppleDouble")
    body = Body(_response(buffer.getvalue()), "Stream 's'")
    assert (body.member, body.stream.read()) == ("export.csv", b"id\n1\n")


def test_an_encrypted_zip_is_an_error_naming_its_file():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("export.csv", b"id\n1\n")
    data = bytearray(buffer.getvalue())
    # zipfile writes no encrypted entries: set bit 0 (encrypted, APPNOTE 4.4.4) of the general purpose
    # flags in the local header (offset 6) and the central directory entry (offset 8).
    data[6] |= 1
    data[data.index(b"PK\x01\x02") + 8] |= 1
    with pytest.raises(ResponseShapeError, match=r"Stream 's': the zip's file 'export.csv' cannot be read \(File"):
        Body(_response(bytes(data)), "Stream 's'")


def _csv(text: str, types: CsvTypes | None = None, delimiter: str = ",") -> list[dict]:
    convert = types or (lambda record, _row: record)
    return list(
        csv_records(
            io.BytesIO(text.encode("utf-8")), delimiter=delimiter, charset="", convert=convert, describe="Stream 's'"
        )
    )


def test_csv_reads_a_byte_order_mark_blank_lines_and_another_delimiter():
    assert _csv("\ufeffid;name\n\n1;a;b\n".replace("a;b", '"a;b"'), delimiter=";") == [{"id": "1", "name": "a;b"}]


def test_a_csv_field_larger_than_the_csv_modules_default_limit_is_read():
    long_text = "x" * 300_000
    assert _csv(f'id,text\n1,"{long_text}"\n') == [{"id": "1", "text": long_text}]


def test_csv_without_a_header_has_no_records():
    assert _csv("") == []


def test_csv_in_another_charset():
    text = "id,name\n1,Zoë\n".encode("latin-1")
    records = csv_records(
        io.BytesIO(text), delimiter=",", charset="iso-8859-1", convert=lambda r, _n: r, describe="Stream 's'"
    )
    assert list(records) == [{"id": "1", "name": "Zoë"}]


@pytest.mark.parametrize(
    ("data", "charset"),
    [
        ("id\tname\r\n1\tZoë\r\n".encode("utf-16"), ""),  # a spreadsheet's "Unicode text": UTF-16 with a mark
        (codecs.BOM_UTF8 + "id\tname\r\n1\tZoë\r\n".encode(), "iso-8859-1"),  # the mark wins over the label
    ],
    ids=["utf-16-le-mark", "utf-8-mark-labelled-latin-1"],
)
def test_a_byte_order_mark_decides_the_csv_encoding(data, charset):
    records = csv_records(io.BytesIO(data), delimiter="\t", charset=charset, convert=lambda r, _n: r, describe="s")
    assert list(records) == [{"id": "1", "name": "Zoë"}]


def test_a_header_without_a_name_is_an_error():
    with pytest.raises(ResponseShapeError, match="column 2 has no name"):
        _csv("id,,x\n1,2,3\n")


@pytest.mark.parametrize(
    ("spec", "text", "value"),
    [
        ({"type": "integer"}, "-42", -42),
        ({"type": "number"}, "1e3", decimal.Decimal("1E+3")),
        ({"type": "number"}, "7", 7),
        ({"type": "number"}, " -.5 ", decimal.Decimal("-0.5")),
        ({"type": "integer"}, " +7", 7),
        ({"type": ["number", "null"]}, "", None),
        ({"type": "boolean"}, "FALSE", False),
        ({"type": "boolean"}, "1", True),
        ({"type": ["integer", "string"]}, "abc", "abc"),
        ({"type": ["string", "null"]}, "", ""),
        ({"anyOf": [{"type": "integer"}, {"type": "null"}]}, "", None),
        ({"type": "array"}, "[1, 2]", [1, 2]),
        ({"type": "string", "format": "date-time"}, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),
    ],
)
def test_csv_values_convert_to_their_schema_type(spec, text, value):
    types = CsvTypes({"properties": {"v": spec}}, "Stream 's'")
    assert types({"v": text}, 1) == {"v": value}


@pytest.mark.parametrize(
    ("spec", "text"),
    [
        ({"type": "integer"}, "1.5"),
        ({"type": "integer"}, ""),
        ({"type": "number"}, "NaN"),
        ({"type": "number"}, "12,5"),
        ({"type": "number"}, "1,234.5"),
        ({"type": "number"}, "1_000"),  # Python's Decimal and int read underscores; CSV exports do not mean them
        ({"type": "integer"}, "1_000"),
        ({"type": "integer"}, "\u0663"),  # ARABIC-INDIC DIGIT THREE: int() reads any Unicode digit
        ({"type": "number"}, "\u0663.5"),
        ({"type": "number"}, "Infinity"),
        ({"type": "boolean"}, "maybe"),
        ({"type": "object"}, "[1]"),
        ({"type": "object"}, "null"),
    ],
)
def test_a_csv_value_that_does_not_convert_is_never_nulled(spec, text):
    types = CsvTypes({"properties": {"v": spec}}, "Stream 's'")
    with pytest.raises(ResponseShapeError, match=r"Stream 's': row 3, column 'v'"):
        types({"v": text}, 3)


def test_json_lines_skip_blank_lines_and_a_byte_order_mark():
    body = b'\xef\xbb\xbf{"a": 1}\r\n\n  \n{"a": 2.50}\n{"a": NaN}'
    records = list(jsonl_records(io.BytesIO(body), "Stream 's'"))
    assert records == [{"a": 1}, {"a": decimal.Decimal("2.50")}, {"a": None}]


def test_chunks_keep_the_order_and_size():
    assert list(chunked(iter(range(5)), 2)) == [[0, 1], [2, 3], [4]]


def _parse(**block):
    return parse_streams({"url": "https://api.example.com/r", "destination": {"table": "r"}, **block})[0]


JOB = {"status_path": "s", "done": ["ok"], "result_path": "u"}


def test_a_job_block_is_parsed_with_its_defaults():
    job = _parse(job={**JOB, "id_path": "id", "poll_url": "https://api.example.com/r/{job_id}"}).job
    assert (job.poll_interval, job.timeout, job.failed, job.status_url_path) == (10.0, 3600.0, (), None)


@pytest.mark.parametrize(
    ("job", "message"),
    [
        ({**JOB}, "set one of id_path and poll_url"),
        ({**JOB, "id_path": "id"}, "set one of id_path and poll_url"),
        ({**JOB, "id_path": "id", "poll_url": "u", "status_url_path": "s"}, "set one of id_path and poll_url"),
        ({**JOB, "status_url_path": "s", "status_url_header": "Location"}, "set one of id_path and poll_url"),
        ({**JOB, "status_url_header": " "}, "job.status_url_header must be a non-empty string"),
        ({"done": ["ok"], "result_path": "u", "status_url_path": "s"}, "job.status_path is required"),
        ({**JOB, "done": [], "status_url_path": "s"}, "job.done is required"),
        ({**JOB, "failed": ["ok"], "status_url_path": "s"}, "['ok'] listed in both done and failed"),
        ({**JOB, "poll_interval": -1, "status_url_path": "s"}, "job.poll_interval must be a number"),
        ({**JOB, "timeout": 0, "status_url_path": "s"}, "job.timeout must be a positive number"),
        ({**JOB, "status_url_path": "s", "polls": 3}, "polls"),
    ],
)
def test_a_wrong_job_block_is_a_config_error_naming_the_key(job, message):
    with pytest.raises(ConfigError) as info:
        _parse(job=job)
    assert message in str(info.value)


def test_a_child_stream_cannot_run_a_job():
    streams = {
        "streams": [
            {"name": "accounts", "url": "https://api.example.com/a", "destination": {"table": "accounts"}},
            {
                "name": "reports",
                "parent": "accounts",
                "url": "https://api.example.com/a/{parent.id}/reports",
                "job": {**JOB, "status_url_path": "s"},
                "destination": {"table": "reports"},
            },
        ]
    }
    with pytest.raises(ConfigError) as info:
        parse_streams(streams)
    assert "streams[1].job: a child stream (parent 'accounts') cannot run a report job" in str(info.value)


def test_a_job_stream_cannot_page():
    with pytest.raises(ConfigError, match="remove pagination"):
        _parse(job={**JOB, "status_url_path": "s"}, pagination={"type": "page"})


@pytest.mark.parametrize("block", [{"date_window_size": 1, "start_date": "2026-01-01"}, {"infer_schema": True}])
def test_a_job_stream_refuses_what_it_would_not_use(block):
    with pytest.raises(ConfigError, match="does not apply to a report job"):
        _parse(job={**JOB, "status_url_path": "s"}, **block)


def test_a_poll_url_with_an_unknown_variable_fails_at_start_up():
    from tap_generic_api.tap import TapGenericAPI

    config = {
        "url": "https://api.example.com/r",
        "destination": {"table": "r"},
        "job": {**JOB, "id_path": "id", "poll_url": "https://api.example.com/r/{jobid}"},
    }
    with pytest.raises(ConfigError, match=r"job\.poll_url"):
        TapGenericAPI(config=config, parse_env_config=False)
