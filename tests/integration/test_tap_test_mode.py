"""``--test``: each stream's first-page record count and first record's keys, before anything is loaded (CLI)."""

from __future__ import annotations

import json
import subprocess

from helpers import BIN


def _test_mode(tmp_path, config):
    path = tmp_path / "tap.json"
    path.write_text(json.dumps(config))
    command = [str(BIN / "tap-generic-api"), "--config", str(path), "--test"]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)


def test_each_stream_shows_its_first_page_count_and_first_record_keys(tmp_path, httpserver):
    httpserver.expect_request("/users", query_string="page=1").respond_with_json(
        {"users": [{"id": 1, "email": "a@x", "name": "A"}, {"id": 2, "email": "b@x", "name": "B"}]}
    )
    httpserver.expect_request("/orders").respond_with_json({"data": []})
    config = {
        "streams": [
            {
                "name": "users",
                "url": httpserver.url_for("/users"),
                "data_path": "users",
                "pagination": {"type": "page", "param": "page"},
                "destination": {"table": "users", "key_fields": ["id"]},
            },
            {
                "name": "orders",
                "url": httpserver.url_for("/orders"),
                "data_path": "data",
                "destination": {"table": "o"},
            },
        ]
    }
    result = _test_mode(tmp_path, config)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() == [
        "Stream 'orders': 0 records on the first page (check data_path, params and the date range).",
        "Stream 'users': 2 records on the first page; first record's keys: id, email, name",
    ]
    # One request per stream: the first page only, not the next.
    assert [request.path for request, _ in httpserver.log] == ["/orders", "/users"]


def test_a_stream_whose_first_page_fails_is_reported_and_the_others_still_are(tmp_path, httpserver):
    httpserver.expect_request("/whole").respond_with_json({"users": [{"id": 1}]})
    httpserver.expect_request("/list").respond_with_json([{"id": 1, "kind": "x"}])
    config = {
        "streams": [
            {"name": "a_whole", "url": httpserver.url_for("/whole"), "destination": {"table": "a"}},
            {"name": "b_list", "url": httpserver.url_for("/list"), "destination": {"table": "b"}},
        ]
    }
    result = _test_mode(tmp_path, config)
    assert result.returncode == 1
    first, second = result.stdout.splitlines()
    assert first.startswith("Stream 'a_whole': data_path '' gives one object in the response from ")
    assert "its key 'users' holds a list of 1 object: set data_path to 'users'." in first
    assert second == "Stream 'b_list': 1 record on the first page; first record's keys: id, kind"


def _users_and_orders(httpserver, orders_status: int = 200):
    httpserver.expect_request("/users").respond_with_json({"data": [{"id": 7, "name": "A"}, {"id": 8, "name": "B"}]})
    orders = {"orders": [{"order_id": 1, "total": 5}, {"order_id": 2, "total": 9}]}
    httpserver.expect_request("/users/7/orders").respond_with_json(orders, status=orders_status)
    return {
        "streams": [
            {
                "name": "orders",
                "parent": "users",
                "url": httpserver.url_for("/users/{parent.id}/orders"),
                "data_path": "orders",
                "destination": {"table": "orders", "key_fields": ["order_id"]},
            },
            {
                "name": "users",
                "url": httpserver.url_for("/users"),
                "data_path": "data",
                "destination": {"table": "users", "key_fields": ["id"]},
            },
        ]
    }


def test_a_child_stream_is_asked_for_its_parents_first_record_and_names_it(tmp_path, httpserver):
    result = _test_mode(tmp_path, _users_and_orders(httpserver))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() == [
        "Stream 'users': 2 records on the first page; first record's keys: id, name",
        "Stream 'orders' (for record 1 of parent stream 'users': {parent.id} = 7): 2 records on the first page; "
        "first record's keys: order_id, total",
    ]
    assert [request.path for request, _ in httpserver.log] == ["/users", "/users/7/orders"]


def test_a_failing_child_first_page_is_reported_with_exit_1(tmp_path, httpserver):
    result = _test_mode(tmp_path, _users_and_orders(httpserver, orders_status=403))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "Stream 'users': 2 records on the first page; first record's keys: id, name"
    assert "/users/7/orders" in lines[1]
    assert "403" in lines[1]
    assert "%7B" not in result.stdout + result.stderr


def test_a_child_of_a_parent_without_records_is_not_tested_and_says_why(tmp_path, httpserver):
    config = _users_and_orders(httpserver)
    httpserver.clear()
    httpserver.expect_request("/users").respond_with_json({"data": []})
    result = _test_mode(tmp_path, config)
    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        "Stream 'users': 0 records on the first page (check data_path, params and the date range).",
        "Stream 'orders': not tested: its parent stream 'users' has no records on its first page.",
    ]
