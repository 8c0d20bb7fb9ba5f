"""Response formats over loopback: JSON Lines, CSV, bodies compressed without saying so, zips.

Each body is served as given and the records the tap yields are compared with the records served.
"""

from __future__ import annotations

import codecs
import gzip
import io
import json
import threading
import zipfile
import zlib
from contextlib import redirect_stdout

import pytest
import requests
from helpers import plain_tap, sync_error, sync_messages
from werkzeug import Request, Response

from plugin_kit.errors import ConfigError
from tap_generic_api.errors import APIRequestError, ResponseShapeError
from tap_generic_api.tap import TapGenericAPI

#: Fields holding the delimiter, quotes, line breaks (LF and CRLF) and non-ASCII text (RFC 4180 section 2).
CSV_BODY = (
    'id,name,comment\r\n1,"Smith, Jane","said ""hi"""\r\n2,Zoë,"two\nlines"\r\n3,"","crlf\r\ninside"\r\n4,plain,\r\n'
)
CSV_RECORDS = [
    {"id": "1", "name": "Smith, Jane", "comment": 'said "hi"'},
    {"id": "2", "name": "Zoë", "comment": "two\nlines"},
    {"id": "3", "name": "", "comment": "crlf\r\ninside"},
    {"id": "4", "name": "plain", "comment": ""},
]
JSONL_RECORDS = [{"id": 1, "tags": ["a", "b"]}, {"id": 2, "nested": {"x": 1.5}}, {"id": 3, "text": "comma, and \\n"}]
JSONL_BODY = "\n".join(json.dumps(r) for r in JSONL_RECORDS).encode() + b"\n"


def _tap(httpserver, path="/export", **config) -> TapGenericAPI:
    return plain_tap(url=httpserver.url_for(path), **config)


def _records(tap: TapGenericAPI) -> list[dict]:
    return [m["record"] for m in sync_messages(tap) if m["type"] == "RECORD"]


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content_type", "config"),
    [("text/csv; charset=utf-8", {}), ("text/plain", {"response_format": "csv"})],
    ids=["by-content-type", "by-config"],
)
def test_csv_with_quoted_delimiters_and_line_breaks_gives_exactly_the_rows(httpserver, content_type, config):
    httpserver.expect_request("/export").respond_with_data(CSV_BODY.encode(), content_type=content_type)
    assert _records(_tap(httpserver, **config)) == CSV_RECORDS


@pytest.mark.parametrize(
    ("content_type", "config"),
    [("application/x-ndjson", {}), ("application/json", {"response_format": "jsonl"})],
    ids=["by-content-type", "config-over-content-type"],
)
def test_json_lines_give_exactly_the_records(httpserver, content_type, config):
    httpserver.expect_request("/export").respond_with_data(JSONL_BODY, content_type=content_type)
    assert _records(_tap(httpserver, **config)) == JSONL_RECORDS


@pytest.mark.parametrize("compress", [gzip.compress, zlib.compress, lambda b: gzip.compress(gzip.compress(b))])
@pytest.mark.parametrize("fmt", ["csv", "jsonl", "json"])
def test_compressed_bodies_without_content_encoding_give_exactly_the_records(httpserver, compress, fmt):
    body, expected = {
        "csv": (CSV_BODY.encode(), CSV_RECORDS),
        "jsonl": (JSONL_BODY, JSONL_RECORDS),
        "json": (json.dumps(JSONL_RECORDS).encode(), JSONL_RECORDS),
    }[fmt]
    httpserver.expect_request("/export").respond_with_data(compress(body), content_type="application/octet-stream")
    assert _records(_tap(httpserver, response_format=fmt)) == expected


def test_a_declared_gzip_encoding_is_undone_too(httpserver):
    httpserver.expect_request("/export").respond_with_data(
        gzip.compress(CSV_BODY.encode()), headers={"Content-Encoding": "gzip"}, content_type="text/csv"
    )
    assert _records(_tap(httpserver)) == CSV_RECORDS


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("report.csv", CSV_BODY.encode(), CSV_RECORDS),
        ("report.jsonl", JSONL_BODY, JSONL_RECORDS),
        ("report.json", json.dumps({"rows": JSONL_RECORDS}).encode(), JSONL_RECORDS),
    ],
)
def test_a_zip_holding_one_file_is_read_as_that_file(httpserver, name, data, expected):
    httpserver.expect_request("/export").respond_with_data(_zip({name: data}), content_type="application/zip")
    config = {"data_path": "rows"} if name.endswith(".json") else {}
    assert _records(_tap(httpserver, **config)) == expected


def test_a_zip_holding_several_files_is_an_error_naming_them(httpserver):
    body = _zip({"a.csv": b"id\n1\n", "b.csv": b"id\n2\n"})
    httpserver.expect_request("/export").respond_with_data(body, content_type="application/zip")
    error = sync_error(_tap(httpserver, response_format="csv"), ResponseShapeError)
    assert "the zip holds 2 files ['a.csv', 'b.csv']" in error
    assert "Stream 'items'" in error


def test_csv_values_are_typed_by_the_schema_and_stay_strings_elsewhere(httpserver):
    body = 'id,amount,active,when,note,meta\n1,10.50,true,2026-01-01,x,"{""a"": 1}"\n2,,0,2026-01-02,,null\n'
    httpserver.expect_request("/export").respond_with_data(body.encode(), content_type="text/csv")
    schema = {
        "properties": {
            "id": {"type": "integer"},
            "amount": {"type": ["number", "null"]},
            "active": {"type": "boolean"},
            "when": {"type": "string", "format": "date"},
            "note": {"type": ["string", "null"]},
            "meta": {"type": ["object", "null"]},
        }
    }
    lines = [line for line in _sync_lines(_tap(httpserver, schema=schema)) if '"RECORD"' in line]
    assert [json.loads(line)["record"] for line in lines] == [
        {"id": 1, "amount": 10.5, "active": True, "when": "2026-01-01", "note": "x", "meta": {"a": 1}},
        {"id": 2, "amount": None, "active": False, "when": "2026-01-02", "note": "", "meta": None},
    ]
    assert '"amount":10.50' in lines[0]  # every digit as sent


def _sync_lines(tap: TapGenericAPI) -> list[str]:
    out = io.StringIO()
    with redirect_stdout(out):
        tap.sync_all()
    return out.getvalue().splitlines()


def test_a_csv_value_that_does_not_convert_is_an_error_naming_row_and_column(httpserver):
    body = "id,amount\n1,2.5\n2,n/a\n"
    httpserver.expect_request("/export").respond_with_data(body.encode(), content_type="text/csv")
    schema = {"properties": {"id": {"type": "integer"}, "amount": {"type": ["number", "null"]}}}
    error = sync_error(_tap(httpserver, schema=schema), ResponseShapeError)
    assert "Stream 'items': row 2, column 'amount': 'n/a' is not number" in error


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"id,name\n1,a\n2,b,extra\n", "text/csv", "row 2 (line 3) has 3 fields, the header 2"),
        (b"id,id\n1,2\n", "text/csv", "names column 'id' twice"),
        (b'{"id": 1}\n{"id": \n', "application/x-ndjson", "line 2 is not JSON"),
        (b'{"id": 1}\n[1, 2]\n', "application/x-ndjson", "line 2 holds a list, not an object"),
        (gzip.compress(b"id\n1\n2\n")[:-12], "text/csv", "compressed data is damaged or cut short"),
        (
            b'id,name\n1,a\n2,"unclosed\n3,c\n4,d\n',
            "text/csv",
            "row 2 (starting on line 3) is not CSV as read (unexpected end of data); a field that opens a quote must",
        ),
        (b'id,name\n1,"a"b\n', "text/csv", "row 1 (starting on line 2) is not CSV as read (',' expected after '\"')"),
    ],
    ids=["ragged-row", "duplicate-column", "bad-line", "not-an-object", "cut-gzip", "unclosed-quote", "after-quote"],
)
def test_a_body_that_is_not_its_format_is_an_error_naming_where(httpserver, body, content_type, message):
    httpserver.expect_request("/export").respond_with_data(body, content_type=content_type)
    error = sync_error(_tap(httpserver), ResponseShapeError)
    assert message in error
    assert "Stream 'items'" in error


def test_csv_pages_follow_the_link_header(httpserver):
    second = httpserver.url_for("/export") + "?page=2"
    httpserver.expect_request("/export", query_string="page=2").respond_with_data(
        b"id\n3\n4\n", content_type="text/csv"
    )
    httpserver.expect_request("/export", query_string="").respond_with_data(
        b"id\n1\n2\n", content_type="text/csv", headers={"Link": f'<{second}>; rel="next"'}
    )
    assert _records(_tap(httpserver, pagination={"type": "link"})) == [{"id": str(i)} for i in (1, 2, 3, 4)]


@pytest.mark.parametrize("max_concurrency", [1, 3])
def test_json_lines_pages_by_offset_until_a_short_page(httpserver, max_concurrency):
    def handler(request: Request) -> Response:
        offset = int(request.args["offset"])
        ids = range(offset, min(offset + 2, 5))
        return Response("".join(json.dumps({"id": i}) + "\n" for i in ids), content_type="application/x-ndjson")

    httpserver.expect_request("/export").respond_with_handler(handler)
    pagination = {"type": "offset", "param": "offset", "limit": 2, "max_concurrency": max_concurrency}
    assert _records(_tap(httpserver, pagination=pagination)) == [{"id": i} for i in range(5)]


def test_records_go_out_before_a_large_body_has_arrived(httpserver):
    """The first chunk of records is yielded while the server still holds back the rest of the body."""
    first_chunk_read = threading.Event()
    held_back = []

    def handler(request: Request) -> Response:
        def body():
            yield b"id,name\n" + b"".join(b"%d,row %d\n" % (i, i) for i in range(3000))
            held_back.append(not first_chunk_read.wait(timeout=30))  # True: the tap waited for the whole body
            yield b"".join(b"%d,row %d\n" % (i, i) for i in range(3000, 5000))

        return Response(body(), content_type="text/csv")

    httpserver.expect_request("/export").respond_with_handler(handler)
    records = _tap(httpserver).streams["items"].get_records(None)
    assert next(records) == {"id": "0", "name": "row 0"}
    first_chunk_read.set()
    rest = list(records)
    assert held_back == [False]
    assert [r["id"] for r in rest] == [str(i) for i in range(1, 5000)]


def test_a_connection_lost_mid_body_is_an_error_after_the_records_read(httpserver):
    def handler(request: Request) -> Response:
        def body():
            yield b"id\n" + b"".join(b"%d\n" % i for i in range(2500))
            raise ConnectionAbortedError  # werkzeug drops the connection mid-body

        return Response(body(), content_type="text/csv", headers={"Content-Length": "999999"})

    httpserver.expect_request("/export").respond_with_handler(handler)
    records = _tap(httpserver).streams["items"].get_records(None)
    messages = [next(records) for _ in range(2000)]
    with pytest.raises(APIRequestError) as info:
        next(records)
    assert "the connection failed while the body was read, after 2000 records" in str(info.value)
    assert len(messages) == 2000


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"response_format": "csv", "data_path": "rows"}, "data_path applies to JSON bodies"),
        ({"response_format": "json", "csv_delimiter": ";"}, "csv_delimiter is read only for csv bodies"),
        ({"response_format": "csv", "csv_delimiter": ";;"}, "csv_delimiter must be one character"),
        (
            {"response_format": "jsonl", "pagination": {"type": "cursor", "param": "c", "response_path": "next"}},
            "reads its next token from a JSON body",
        ),
    ],
)
def test_settings_a_format_cannot_use_are_config_errors(config, message):
    with pytest.raises(ConfigError) as info:
        plain_tap(**config)
    assert message in str(info.value)


def test_a_csv_answer_to_a_cursor_stream_is_an_error_not_a_silent_stop(httpserver):
    httpserver.expect_request("/export").respond_with_data(b"id\n1\n", content_type="text/csv")
    tap = _tap(httpserver, pagination={"type": "cursor", "param": "c", "response_path": "next"})
    error = sync_error(tap, ResponseShapeError)
    assert "the response is csv (by its Content-Type), but pagination type 'cursor'" in error


def test_a_zipped_json_document_read_whole_is_unzipped(httpserver):
    body = _zip({"export.json": json.dumps({"rows": JSONL_RECORDS}).encode()})
    httpserver.expect_request("/export").respond_with_data(body, content_type="application/octet-stream")
    assert _records(_tap(httpserver, response_format="json", data_path="rows")) == JSONL_RECORDS


def test_a_body_that_stops_arriving_is_an_error_after_timeout_not_a_hang(httpserver):
    release = threading.Event()

    def handler(request: Request) -> Response:
        def body():
            yield b"id\n" + b"".join(b"%d\n" % i for i in range(1500))
            release.wait(timeout=60)  # stalls until the test ends

        return Response(body(), content_type="text/csv")

    httpserver.expect_request("/export").respond_with_handler(handler)
    records = _tap(httpserver, timeout=1).streams["items"].get_records(None)
    try:
        assert len([next(records) for _ in range(1000)]) == 1000
        with pytest.raises(APIRequestError, match="the connection failed while the body was read, after 1000 records"):
            next(records)
    finally:
        release.set()


def test_parse_response_yields_records_of_a_body_read_as_it_arrives(httpserver):
    httpserver.expect_request("/export").respond_with_data(CSV_BODY.encode(), content_type="text/csv")
    stream = _tap(httpserver).streams["items"]
    response = requests.get(httpserver.url_for("/export"), stream=True, timeout=10)
    assert list(stream.parse_response(response)) == CSV_RECORDS


@pytest.mark.parametrize("count", [3, 2000], ids=["cut-in-first-block", "cut-later"])
@pytest.mark.parametrize("compress", [gzip.compress, zlib.compress], ids=["gzip", "zlib"])
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_compressed_body_cut_short_is_an_error_not_fewer_records(httpserver, compress, fmt, count):
    rows = [{"id": str(n), "name": f"row {n}"} for n in range(count)]
    body = (
        "id,name\n" + "".join(f"{r['id']},{r['name']}\n" for r in rows)
        if fmt == "csv"
        else "".join(json.dumps(r) + "\n" for r in rows)
    ).encode()
    data = compress(body)
    httpserver.expect_request("/export").respond_with_data(data[: len(data) // 2], content_type="text/plain")
    error = sync_error(_tap(httpserver, response_format=fmt), ResponseShapeError)
    where = f"Stream 'items': {httpserver.url_for('/export')}"
    assert f"{where}: the body's compressed data is damaged or cut short" in error


def test_concatenated_gzip_members_are_all_read(httpserver):
    # RFC 1952 section 2.2: a gzip file is a series of members; exports appended part by part are so.
    body = gzip.compress(b"id,name\n1,a\n") + gzip.compress(b"2,b\n") + gzip.compress(b"3,c\n")
    httpserver.expect_request("/export").respond_with_data(body, headers={"Content-Encoding": "gzip"})
    assert _records(_tap(httpserver, response_format="csv")) == [
        {"id": "1", "name": "a"},
        {"id": "2", "name": "b"},
        {"id": "3", "name": "c"},
    ]


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("report.csv.gz", CSV_BODY.encode(), CSV_RECORDS),
        ("report.jsonl.gz", JSONL_BODY, JSONL_RECORDS),
        ("report.json.gz", json.dumps(JSONL_RECORDS).encode(), JSONL_RECORDS),
    ],
    ids=["csv", "jsonl", "json"],
)
def test_a_zip_holding_one_gzip_file_is_read_as_that_file_decompressed(httpserver, name, data, expected):
    body = _zip({name: gzip.compress(data)})
    httpserver.expect_request("/export").respond_with_data(body, content_type="application/zip")
    assert _records(_tap(httpserver)) == expected


def test_a_body_that_is_not_its_declared_content_encoding_is_an_error_naming_the_response(httpserver):
    body = b"id,name\n1,a\n"
    httpserver.expect_request("/export").respond_with_data(body, headers={"Content-Encoding": "gzip"})
    error = sync_error(_tap(httpserver, response_format="csv"), ResponseShapeError)
    assert error.startswith(
        f"Stream 'items': {httpserver.url_for('/export')}: the body is not gzip data, as its Content-Encoding says ("
    )


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (
            '{"id": 1, "name": "Zoë"}\n{"id": 2, "name": "café"}\n'.encode("latin-1"),
            "application/x-ndjson; charset=ISO-8859-1",
        ),
        ('{"id": 1, "name": "Zoë"}\r\n{"id": 2, "name": "café"}\r\n'.encode("utf-16"), "application/x-ndjson"),
        (codecs.BOM_UTF8 + '{"id": 1, "name": "Zoë"}\n{"id": 2, "name": "café"}'.encode(), "application/x-ndjson"),
    ],
    ids=["declared-latin-1", "utf-16-with-mark", "utf-8-with-mark"],
)
def test_json_lines_in_another_charset_keep_their_text(httpserver, body, content_type):
    httpserver.expect_request("/export").respond_with_data(body, content_type=content_type)
    assert _records(_tap(httpserver)) == [{"id": 1, "name": "Zoë"}, {"id": 2, "name": "café"}]


def test_a_csv_replication_key_of_numbers_as_text_is_an_error_until_the_schema_types_it(httpserver):
    # Compared as text, "10" < "9": the bookmark would stop at "9" and the next run drop 10 and 11.
    httpserver.expect_request("/export").respond_with_data(b"seq,v\n8,a\n9,b\n10,c\n11,d\n", content_type="text/csv")
    error = sync_error(_tap(httpserver, replication_key="seq"), ResponseShapeError)
    assert "Stream 'items': row 1: replication_key 'seq' holds '8', a number written as text" in error
    typed = {"properties": {"seq": {"type": "integer"}, "v": {"type": "string"}}}
    messages = sync_messages(_tap(httpserver, replication_key="seq", schema=typed))
    assert [m["record"]["seq"] for m in messages if m["type"] == "RECORD"] == [8, 9, 10, 11]
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    assert states[-1]["bookmarks"]["items"]["replication_key_value"] == 11
    httpserver.clear()
    body = b"seq,v\n8,a\n9,b\n10,c\n11,d\n12,e\n"
    httpserver.expect_request("/export").respond_with_data(body, content_type="text/csv")
    again = TapGenericAPI(
        config={
            "url": httpserver.url_for("/export"),
            "destination": {"table": "items"},
            "replication_key": "seq",
            "schema": typed,
            "rate_limit": {"requests_per_second": 1000},
        },
        parse_env_config=False,
        state=states[-1],
    )
    assert [m["record"]["seq"] for m in sync_messages(again) if m["type"] == "RECORD"] == [11, 12]


def test_a_csv_replication_key_of_iso_dates_needs_no_type(httpserver):
    body = b"updated,v\n2026-01-02T00:00:00Z,a\n2026-01-10T00:00:00Z,b\n"
    httpserver.expect_request("/export").respond_with_data(body, content_type="text/csv")
    messages = sync_messages(_tap(httpserver, replication_key="updated"))
    assert [m["record"]["v"] for m in messages if m["type"] == "RECORD"] == ["a", "b"]
