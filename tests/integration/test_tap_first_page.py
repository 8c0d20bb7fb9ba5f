"""The first page with records is checked before any record is written (issue 14, item 3)."""

from __future__ import annotations

import io
import json
import subprocess
from contextlib import redirect_stdout

import pytest
from helpers import API, BIN, plain_tap

from tap_generic_api.errors import ResponseShapeError
from tap_generic_api.paging.first_page import FirstPageCheck
from tap_generic_api.paths import DottedPath

USERS = [{"id": i, "name": f"u{i}"} for i in range(100)]


def _sync_error(tap):
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(ResponseShapeError) as info:
        tap.sync_all()
    assert '"RECORD"' not in out.getvalue()
    return str(info.value)


def test_a_data_path_one_level_short_names_the_path_through_the_cli(tmp_path, httpserver):
    httpserver.expect_request("/v1/items").respond_with_json({"data": {"users": USERS, "total": 100}})
    config = {
        "url": httpserver.url_for("/v1/items"),
        "data_path": "data",
        "destination": {"table": "users", "key_fields": ["id"]},
    }
    path = tmp_path / "tap.json"
    path.write_text(json.dumps(config))
    result = subprocess.run(
        [str(BIN / "tap-generic-api"), "--config", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1
    assert '"RECORD"' not in result.stdout
    assert (
        f"Stream 'users': data_path 'data' gives one object in the response from {config['url']}; its key 'users' "
        "holds a list of 100 objects: set data_path to 'data.users'." in result.stderr
    )


@pytest.mark.parametrize("key_fields", [[], ["id"]])
def test_one_object_holding_a_list_of_objects_is_refused_with_the_likely_path(requests_mock, key_fields):
    requests_mock.get(API, json={"meta": {"total": 100}, "result": {"page": {"items": USERS}, "tags": [{"t": 1}]}})
    message = _sync_error(plain_tap(data_path="result", destination={"table": "items", "key_fields": key_fields}))
    expected = (
        f"Stream 'items': data_path 'result' gives one object in the response from {API}; its key 'page.items' "
        "holds a list of 100 objects: set data_path to 'result.page.items'."
    )
    if not key_fields:
        expected += " If the object itself is the one record, set destination.key_fields to its key field(s)."
    assert message == expected


def test_the_list_holding_the_key_fields_is_named_before_a_longer_one(requests_mock):
    document = {"links": [{"href": str(i)} for i in range(10)], "users": USERS[:3]}
    requests_mock.get(API, json=document)
    message = _sync_error(plain_tap(destination={"table": "items", "key_fields": ["id"]}))
    assert "its key 'users' holds a list of 3 objects: set data_path to 'users'." in message


def test_one_object_with_its_key_fields_is_one_record(requests_mock):
    requests_mock.get(API, json={"id": 7, "orgs": [{"id": 1}, {"id": 2}]})
    tap = plain_tap(destination={"table": "items", "key_fields": ["id"]})
    assert list(tap.streams["items"].get_records(None)) == [{"id": 7, "orgs": [{"id": 1}, {"id": 2}]}]


def test_one_object_without_a_list_of_objects_is_one_record(requests_mock):
    requests_mock.get(API, json={"id": 7, "tags": ["a", "b"], "owner": {"name": "x"}})
    assert len(list(plain_tap().streams["items"].get_records(None))) == 1


def test_records_without_a_key_field_are_refused_before_any_is_written(requests_mock):
    requests_mock.get(API, json=[{"id": 1}, {"ID": 2, "name": "b"}])
    message = _sync_error(plain_tap(destination={"table": "items", "key_fields": ["id"]}))
    assert message == (
        f"Stream 'items': record 2 of the first page ({API}) has no 'id' field (destination.key_fields); "
        "fields present: ['ID', 'name']. Check destination.key_fields, and data_path ('')."
    )


def test_records_wrapping_the_real_records_name_the_inner_list(requests_mock):
    requests_mock.get(API, json={"data": [{"page": 1, "entries": [{"id": 1, "updated": "2024-01-01"}]}]})
    message = _sync_error(plain_tap(data_path="data", replication_key="updated", start_date="2024-01-01"))
    assert message == (
        f"Stream 'items': record 1 of the first page ({API}) has no 'updated' field (replication_key); fields "
        "present: ['entries', 'page']. The records may be the list at 'data.0.entries': check data_path ('data')."
    )


def test_an_empty_first_page_is_not_judged_and_the_first_page_with_records_is(requests_mock):
    requests_mock.get(
        API,
        [
            {"json": {"data": [], "next": "B"}},
            {"json": {"data": [{"name": "no id"}], "next": None}},
        ],
    )
    tap = plain_tap(
        data_path="data",
        destination={"table": "items", "key_fields": ["id"]},
        pagination={"type": "cursor", "param": "after", "response_path": "next"},
    )
    assert "record 1 of the first page" in _sync_error(tap)


def test_only_the_first_page_with_records_is_checked():
    check = FirstPageCheck(DottedPath("data"), ["id"], None)
    check.check({"data": [{"id": 1}]}, "u")
    check.check({"data": [{"name": "later"}]}, "u")  # later pages: the target's rules apply
    check.start()
    with pytest.raises(ResponseShapeError, match="record 1 of the first page"):
        check.check({"data": [{"name": "next run"}]}, "u")


def test_records_copied_undecoded_are_checked_and_named_as_decoded_ones(requests_mock):
    """Records copied through undecoded are checked one by one (their field names only) with the same message."""
    requests_mock.get(API, json={"data": [{"id": 1}, {"page": 1, "entries": [{"id": 2}]}]})
    message = _sync_error(plain_tap(data_path="data", destination={"table": "items", "key_fields": ["id"]}))
    assert message == (
        f"Stream 'items': record 2 of the first page ({API}) has no 'id' field (destination.key_fields); fields "
        "present: ['entries', 'page']. The records may be the list at 'data.1.entries': check data_path ('data')."
    )


def _paged_users(httpserver, next_key: str) -> None:
    """Serve 120 users, 50 a page, the next cursor at ``next_key`` (null on the last page)."""
    pages = [USERS[:50], USERS[50:100], [dict(user, id=100 + user["id"]) for user in USERS[:20]]]
    for number, page in reversed(list(enumerate(pages))):  # the first page (any query) is matched last
        query = {"after": str(number)} if number else None
        nxt = str(number + 1) if number < len(pages) - 1 else None
        httpserver.expect_request("/v1/users", query_string=query).respond_with_json({"data": page, next_key: nxt})


def test_a_cursor_path_absent_from_the_first_page_is_an_error_naming_the_keys_through_the_cli(tmp_path, httpserver):
    _paged_users(httpserver, "next_cursor")
    url = httpserver.url_for("/v1/users")
    config = {
        "streams": [
            {
                "name": "users",
                "url": url,
                "data_path": "data",
                "pagination": {"type": "cursor", "param": "after", "response_path": "next"},
                "destination": {"table": "users", "key_fields": ["id"]},
            }
        ]
    }
    path = tmp_path / "tap.json"
    path.write_text(json.dumps(config))
    expected = (
        f"Stream 'users': pagination.response_path 'next' is not in the first page's response ({url}); top-level "
        "keys present: 'data', 'next_cursor'. Did you mean 'next_cursor'? An absent key is not the end of the pages "
        "(the last page has null or an empty value there), so following it would read only the first page: set "
        "pagination.response_path to the key holding the next cursor."
    )
    for extra in ([], ["--test"]):
        result = subprocess.run(
            [str(BIN / "tap-generic-api"), "--config", str(path), *extra],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 1, extra
        assert '"RECORD"' not in result.stdout
        assert expected in result.stderr + result.stdout, result.stderr


def test_the_right_cursor_path_reads_every_page(httpserver):
    _paged_users(httpserver, "next_cursor")
    tap = plain_tap(
        url=httpserver.url_for("/v1/users"),
        data_path="data",
        pagination={"type": "cursor", "param": "after", "response_path": "next_cursor"},
    )
    assert len(list(tap.streams["items"].get_records(None))) == 120


def test_a_next_url_path_absent_from_the_first_page_is_an_error(requests_mock):
    requests_mock.get(API, json={"items": USERS[:10], "links": {"next_page": f"{API}?page=2"}})
    message = _sync_error(plain_tap(data_path="items", pagination={"type": "link", "response_path": "links.next"}))
    assert message.startswith(
        f"Stream 'items': pagination.response_path 'links.next' is not in the first page's response ({API}); "
        "top-level keys present: 'items', 'links'. Did you mean 'links.next_page'?"
    )
    assert message.endswith("set pagination.response_path to the key holding the next URL.")


@pytest.mark.parametrize(
    ("document", "limit"), [({"data": []}, None), ({"data": USERS[:3], "next": None}, None), ({"data": USERS[:3]}, 4)]
)
def test_an_empty_or_short_first_page_or_a_null_cursor_ends_without_error(requests_mock, document, limit):
    requests_mock.get(API, json=document)
    pagination = {"type": "cursor", "param": "after", "response_path": "next", "limit": limit}
    tap = plain_tap(data_path="data", pagination={k: v for k, v in pagination.items() if v is not None})
    assert len(list(tap.streams["items"].get_records(None))) == len(document["data"])


def test_a_full_first_page_of_limit_records_without_the_cursor_key_is_an_error(requests_mock):
    requests_mock.get(API, json={"data": USERS[:3], "paging": {}})
    pagination = {"type": "cursor", "param": "after", "response_path": "paging.next.after", "limit": 3}
    message = _sync_error(plain_tap(data_path="data", pagination=pagination))
    assert "pagination.response_path 'paging.next.after' is not in the first page's response" in message


def test_the_cursor_key_may_be_absent_from_the_last_page_after_the_first(requests_mock):
    requests_mock.get(API, [{"json": {"data": USERS[:2], "next": "b"}}, {"json": {"data": USERS[2:3]}}])
    tap = plain_tap(data_path="data", pagination={"type": "cursor", "param": "after", "response_path": "next"})
    assert [record["id"] for record in tap.streams["items"].get_records(None)] == [0, 1, 2]
