"""Incremental streams: bookmarks sent and advanced, start_date variables, bookmarks kept when a run is cut."""

from __future__ import annotations

import io
import json
import time
from contextlib import redirect_stdout

import pytest
from helpers import API, bearer_tap, extract, sync_error, sync_messages

from plugin_kit.errors import ConfigError
from tap_generic_api.errors import BookmarkTypeError, PaginationTruncatedError


def test_second_incremental_run_sends_bookmark_and_emits_only_new_records(requests_mock):
    def api(request, context):
        since = request.qs["updated_since"][0].upper()
        records = [
            {"id": 1, "updated_at": "2026-01-02T00:00:00Z"},
            {"id": 2, "updated_at": "2026-01-03T00:00:00Z"},
        ]
        if since >= "2026-01-03":
            # A sloppy API: it also returns one old record the filter should have dropped.
            records = [records[0], {"id": 3, "updated_at": "2026-01-04T00:00:00Z"}]
        return records

    requests_mock.get(API, json=api)
    config = {
        "replication_key": "updated_at",
        "start_date": "2026-01-01T00:00:00Z",
        "params": {"updated_since": "{bookmark}", "until": "{end_date_unix}"},
    }
    first = sync_messages(bearer_tap(**config))
    assert [m["record"]["id"] for m in first if m["type"] == "RECORD"] == [1, 2]
    assert requests_mock.request_history[0].qs["updated_since"] == ["2026-01-01t00:00:00z"]
    state = [m for m in first if m["type"] == "STATE"][-1]["value"]
    assert state["bookmarks"]["items"]["replication_key_value"] == "2026-01-03T00:00:00Z"

    second = sync_messages(bearer_tap(state=state, **config))
    assert requests_mock.request_history[-1].qs["updated_since"] == ["2026-01-03t00:00:00z"]
    assert [m["record"]["id"] for m in second if m["type"] == "RECORD"] == [3]
    state2 = [m for m in second if m["type"] == "STATE"][-1]["value"]
    assert state2["bookmarks"]["items"]["replication_key_value"] == "2026-01-04T00:00:00Z"


def test_unix_start_date_variables(requests_mock):
    requests_mock.get(API, json=[])
    tap = bearer_tap(
        start_date="2024-01-01T00:00:00Z",
        replication_key="created",
        params={"created[gte]": "{start_date_unix}", "created[lte]": "{end_date_unix}"},
    )
    extract(tap)
    qs = requests_mock.last_request.qs
    assert qs["created[gte]"] == ["1704067200"]
    assert abs(int(qs["created[lte]"][0]) - time.time()) < 60


def test_a_bookmark_that_is_not_a_date_is_sent_as_it_is(requests_mock):
    requests_mock.get(API, json=[{"id": 9, "seq": "evt_00042"}])
    state = {"bookmarks": {"items": {"replication_key": "seq", "replication_key_value": "evt_00041"}}}
    config = {"replication_key": "seq", "start_date": "0", "params": {"after": "{bookmark}"}}
    messages = sync_messages(bearer_tap(state=state, **config))
    assert requests_mock.last_request.qs["after"] == ["evt_00041"]
    assert [m["record"] for m in messages if m["type"] == "RECORD"] == [{"id": 9, "seq": "evt_00042"}]


def test_start_date_unix_of_a_bookmark_that_is_not_a_date_is_a_clear_error(requests_mock):
    state = {"bookmarks": {"items": {"replication_key": "seq", "replication_key_value": "evt_00041"}}}
    config = {"replication_key": "seq", "start_date": "0", "params": {"after": "{start_date_unix}"}}
    with pytest.raises(ConfigError, match=r"\{start_date_unix\} needs a date, .* is 'evt_00041'"):
        sync_messages(bearer_tap(state=state, **config))
    assert requests_mock.call_count == 0


def _cut_api(requests_mock):
    def page(request, context):
        number = int(request.qs["page"][0])
        return [{"id": number * 10 + i, "seq": number * 10 + i} for i in range(2)]  # endless

    requests_mock.get(API, json=page)


def test_an_unsorted_incremental_stream_cut_at_max_pages_stops_without_moving_the_bookmark(requests_mock):
    _cut_api(requests_mock)
    tap = bearer_tap(replication_key="seq", start_date="0", pagination={"type": "page", "limit": 2, "max_pages": 3})
    out = io.StringIO()
    with redirect_stdout(out):
        with pytest.raises(PaginationTruncatedError, match=r"stopped at pagination\.max_pages \(3 pages\)"):
            tap.sync_all()
        tap.message_writer.flush()
    messages = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [m["record"]["id"] for m in messages if m["type"] == "RECORD"] == [10, 11, 20, 21, 30, 31]
    assert not any(
        m["value"].get("bookmarks", {}).get("items", {}).get("replication_key_value")
        for m in messages
        if m["type"] == "STATE"
    )


def test_a_sorted_stream_cut_at_max_pages_without_progress_is_an_error(requests_mock):
    # More records share one replication key value than max_pages holds: the next run would
    # start from the same bookmark and fetch the same pages, for ever.
    def page(request, context):
        return [{"id": int(request.qs["page"][0]) * 10 + i, "seq": 7} for i in range(2)]  # endless

    requests_mock.get(API, json=page)
    config = {"replication_key": "seq", "is_sorted": True, "pagination": {"type": "page", "limit": 2, "max_pages": 2}}
    first = sync_messages(bearer_tap(start_date="0", **config))  # from start_date to 7: progress
    state = [m for m in first if m["type"] == "STATE"][-1]["value"]
    assert state["bookmarks"]["items"]["replication_key_value"] == 7
    assert sync_error(bearer_tap(state=state, **config), PaginationTruncatedError) == (
        "Stream 'items': stopped at pagination.max_pages (2 pages) without moving its bookmark past 7: more "
        "records than those pages hold share that seq value (or are older), so every run would fetch the "
        "same pages. Raise max_pages."
    )


def test_a_sorted_incremental_stream_cut_at_max_pages_keeps_its_bookmark(requests_mock, caplog):
    _cut_api(requests_mock)
    tap = bearer_tap(
        replication_key="seq",
        is_sorted=True,
        start_date="0",
        pagination={"type": "page", "limit": 2, "max_pages": 3},
    )
    messages = sync_messages(tap)
    state = [m for m in messages if m["type"] == "STATE"][-1]["value"]
    assert state["bookmarks"]["items"]["replication_key_value"] == 31
    assert "stopped after 3 pages" in caplog.text


def test_a_bookmark_of_another_type_than_the_records_values_is_a_clear_error(requests_mock):
    requests_mock.get(API, json=[{"id": 5, "seq": 7}, {"id": 6, "seq": 8}])
    state = {"bookmarks": {"items": {"replication_key": "seq", "replication_key_value": "5"}}}
    tap = bearer_tap(state=state, replication_key="seq", is_sorted=True)
    assert sync_error(tap, BookmarkTypeError) == (
        "Stream 'items': the bookmark '5' (str) cannot be compared with the records' seq values, such as 7 "
        "(int). Fix the bookmark in the state file (or start_date) to the same type, or run without --state."
    )
