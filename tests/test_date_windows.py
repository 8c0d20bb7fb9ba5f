"""Date windows: the range split, fetched several windows at once, written in date order."""

from __future__ import annotations

import datetime
import io
import json
import threading
import time
import urllib.parse
from contextlib import redirect_stdout

import pytest
from pytest_httpserver import HTTPServer
from singer_sdk.exceptions import FatalAPIError
from werkzeug import Response

from tap_generic_api.concurrency import in_order
from tap_generic_api.errors import ConfigError
from tap_generic_api.tap import TapGenericAPI
from tap_generic_api.windows import date_windows

UTC = datetime.UTC
FIRST_DAY = datetime.datetime(2024, 3, 1, tzinfo=UTC)
DAYS = 10
PER_DAY = 3
#: The run starts here: the last window ends at it.
RUN_START = FIRST_DAY + datetime.timedelta(days=DAYS)


def _iso(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the split -------------------------------------------------------------------


def test_the_range_is_split_into_windows_the_last_ending_at_the_run_start():
    end = datetime.datetime(2024, 1, 3, 12, tzinfo=UTC)
    windows = list(date_windows("2024-01-01T00:00:00+00:00", end, 1))
    assert [w.variables() for w in windows] == [
        {
            "start_date": "2024-01-01T00:00:00+00:00",  # the first start exactly as given
            "bookmark": "2024-01-01T00:00:00+00:00",
            "start_date_unix": 1704067200,
            "end_date": "2024-01-02T00:00:00Z",
            "end_date_unix": 1704153600,
        },
        {
            "start_date": "2024-01-02T00:00:00Z",
            "bookmark": "2024-01-02T00:00:00Z",
            "start_date_unix": 1704153600,
            "end_date": "2024-01-03T00:00:00Z",
            "end_date_unix": 1704240000,
        },
        {
            "start_date": "2024-01-03T00:00:00Z",
            "bookmark": "2024-01-03T00:00:00Z",
            "start_date_unix": 1704240000,
            "end_date": "2024-01-03T12:00:00Z",
            "end_date_unix": 1704283200,
        },
    ]


def test_a_numeric_start_gives_numeric_window_starts_and_fractions_of_days_work():
    end = datetime.datetime.fromtimestamp(1704067200 + 86400, UTC)
    windows = list(date_windows(1704067200, end, 0.25))
    assert [w.start for w in windows] == [1704067200, 1704088800, 1704110400, 1704132000]
    assert windows[-1].variables()["end_date_unix"] == 1704153600


def test_a_start_at_or_after_the_run_start_gives_one_window():
    end = datetime.datetime(2024, 1, 1, tzinfo=UTC)
    (window,) = date_windows("2024-02-01", end, 7)
    assert window.variables()["start_date"] == "2024-02-01"
    assert window.variables()["end_date"] == "2024-01-01T00:00:00Z"


# --- in_order ---------------------------------------------------------------------


def test_in_order_gives_every_item_in_producer_order_whatever_finishes_first():
    def producer(number, delay):
        def produce():
            for item in range(3):
                time.sleep(delay)
                yield (number, item)

        return produce

    delays = [0.06, 0.0, 0.03, 0.0, 0.05, 0.01]
    items = list(in_order([producer(n, d) for n, d in enumerate(delays)], 3))
    assert items == [(n, i) for n in range(len(delays)) for i in range(3)]


def test_in_order_holds_at_most_buffer_items_ahead_of_the_reader():
    produced = []

    def produce():
        for item in range(50):
            produced.append(item)
            yield item

    seen = []
    for item in in_order([produce], 2, buffer=2):
        time.sleep(0.005)  # a slow reader
        seen.append(item)
        # the item being read, at most 2 in the buffer, and 1 waiting to be put
        assert len(produced) - len(seen) <= 3
    assert seen == list(range(50))


def test_in_order_raises_a_producers_error_after_its_earlier_items_and_stops_the_others():
    started = []
    stopped = threading.Event()

    def failing():
        yield "a1"
        raise ValueError("window 2 failed")

    def endless(name):
        def produce():
            started.append(name)
            try:
                count = 0
                while True:
                    count += 1
                    yield (name, count)
            finally:
                stopped.set()

        return produce

    def first():
        yield "f1"

    items = []
    ordered = in_order([first, failing, endless("e1"), *(endless(f"x{i}") for i in range(20))], 2)
    with pytest.raises(ValueError, match="window 2 failed"):
        items.extend(ordered)
    assert items == ["f1", "a1"]
    assert stopped.wait(5)  # the running producer stopped at its next item
    assert len(started) <= 4  # at most 2 * workers producers were ever taken


# --- the tap on a real server -------------------------------------------------------


def _day_records(day: int) -> list[dict]:
    start = FIRST_DAY + datetime.timedelta(days=day)
    return [
        {"id": day * PER_DAY + i, "updated_at": _iso(start + datetime.timedelta(hours=6 * i + 1))}
        for i in range(PER_DAY)
    ]


ALL_RECORDS = [r for day in range(DAYS) for r in _day_records(day)]


class WindowedAPI:
    """A threaded loopback API filtering records by ``since`` <= updated_at < ``until``, paged by 2.

    The first window's pages answer late, so later windows finish before it.
    """

    def __init__(self, fail_since: str | None = None) -> None:
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str, int]] = []
        self.in_flight = self.peak = 0
        self.fail_since = fail_since
        self.server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        self.server.expect_request("/v1/events").respond_with_handler(self.handle)

    def handle(self, request):
        since, until, page = request.args["since"], request.args["until"], int(request.args["page"])
        with self.lock:
            self.requests.append((since, until, page))
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            time.sleep(0.3 if since.startswith("2024-03-01") else 0.1)
            if since == self.fail_since:
                return Response('{"error": "window broken"}', status=404, content_type="application/json")
            matching = [r for r in ALL_RECORDS if since <= r["updated_at"] < until]
            body = matching[(page - 1) * 2 : page * 2]
            return Response(json.dumps(body), content_type="application/json")
        finally:
            with self.lock:
                self.in_flight -= 1

    def __enter__(self):
        self.server.start()
        return self

    def __exit__(self, *exc):
        self.server.clear()
        self.server.stop()

    def tap(self, state=None, **config):
        base = {
            "url": self.server.url_for("/v1/events"),
            "destination": {"table": "events", "key_fields": ["id"]},
            "params": {"since": "{start_date}", "until": "{end_date}"},
            "pagination": {"type": "page", "limit": 2, "max_concurrency": 3},
            "replication_key": "updated_at",
            "start_date": _iso(FIRST_DAY),
            "date_window_size": 1,
            "rate_limit": {"requests_per_second": 1000},
        }
        base.update(config)
        tap = TapGenericAPI(config=base, parse_env_config=False, state=state)
        for stream in tap.streams.values():
            stream._run_started = RUN_START
        return tap


def _sync(tap) -> list[dict]:
    out = io.StringIO()
    with redirect_stdout(out):
        tap.sync_all()
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_windows_are_fetched_three_at_once_and_written_in_date_order_with_state():
    with WindowedAPI() as api:
        messages = _sync(api.tap())
    records = [m["record"] for m in messages if m["type"] == "RECORD"]
    assert records == ALL_RECORDS
    # Each day: page 1 (2 records), page 2 (1 record, short: the last).
    expected = {
        (_iso(FIRST_DAY + datetime.timedelta(days=d)), _iso(FIRST_DAY + datetime.timedelta(days=d + 1)), page)
        for d in range(DAYS)
        for page in (1, 2)
    }
    assert len(api.requests) == len(expected) == 2 * DAYS
    assert set(api.requests) == expected
    assert api.peak == 3
    state = [m for m in messages if m["type"] == "STATE"][-1]["value"]
    assert state["bookmarks"]["events"]["replication_key_value"] == ALL_RECORDS[-1]["updated_at"]


def test_the_next_run_starts_its_first_window_at_the_bookmark():
    bookmark = ALL_RECORDS[-5]["updated_at"]
    assert bookmark == "2024-03-09T07:00:00Z"
    state = {"bookmarks": {"events": {"replication_key": "updated_at", "replication_key_value": bookmark}}}
    with WindowedAPI() as api:
        messages = _sync(api.tap(state=state))
    records = [m["record"] for m in messages if m["type"] == "RECORD"]
    assert records == ALL_RECORDS[-5:]
    # Window 1 holds 3 records (pages of 2 and 1), window 2 holds 2 (a full page, then an empty one).
    assert sorted(api.requests) == [
        (bookmark, "2024-03-10T07:00:00Z", 1),
        (bookmark, "2024-03-10T07:00:00Z", 2),
        ("2024-03-10T07:00:00Z", "2024-03-11T00:00:00Z", 1),
        ("2024-03-10T07:00:00Z", "2024-03-11T00:00:00Z", 2),
    ]


def test_a_failing_window_stops_the_run_after_the_records_of_the_windows_before_it():
    with WindowedAPI(fail_since="2024-03-05T00:00:00Z") as api:
        tap = api.tap()
        got = []
        records = tap.streams["events"].get_records(None)
        with pytest.raises(FatalAPIError, match=r"404 NOT FOUND for http://127\.0\.0\.1:\d+/v1/events\?since="):
            got.extend(records)
        assert got == ALL_RECORDS[: 4 * PER_DAY]
        # The same stream runs again once the API is fixed (the stop of the failed run is over).
        api.fail_since = None
        assert list(tap.streams["events"].get_records(None)) == ALL_RECORDS


def test_one_window_at_a_time_with_max_concurrency_1():
    with WindowedAPI() as api:
        messages = _sync(api.tap(pagination={"type": "page", "limit": 2, "max_concurrency": 1}))
    assert [m["record"] for m in messages if m["type"] == "RECORD"] == ALL_RECORDS
    assert api.peak == 1
    assert api.requests == sorted(api.requests)  # day by day, page by page


def test_max_pages_applies_to_each_window(caplog):
    with WindowedAPI() as api:
        messages = _sync(api.tap(pagination={"type": "page", "limit": 2, "max_pages": 1, "max_concurrency": 3}))
    records = [m["record"] for m in messages if m["type"] == "RECORD"]
    assert records == [r for day in range(DAYS) for r in _day_records(day)[:2]]
    assert len(api.requests) == DAYS
    assert caplog.text.count("stopped after 1 pages (pagination.max_pages)") == DAYS


# --- config --------------------------------------------------------------------------


def _config(**changes):
    config = {
        "url": "https://api.example.com/v1/events",
        "destination": {"table": "events"},
        "params": {"since": "{start_date}", "until": "{end_date}"},
        "start_date": "2024-01-01",
        "date_window_size": 7,
    }
    config.update(changes)
    return config


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"start_date": None}, r"config\.date_window_size needs config\.start_date"),
        ({"date_window_size": 0}, r"config\.date_window_size must be a positive number, got 0"),
        ({"date_window_size": -1.5}, r"config\.date_window_size must be a positive number, got -1\.5"),
        ({"params": {"since": "{start_date}"}}, r"config\.date_window_size needs the request .* an end variable"),
        ({"params": {}}, r"config\.date_window_size needs the request .* a start variable"),
    ],
)
def test_bad_date_window_config_fails_before_any_request(requests_mock, changes, message):
    config = {k: v for k, v in _config(**changes).items() if v is not None}
    with pytest.raises(ConfigError, match=message):
        TapGenericAPI(config=config, parse_env_config=False)
    assert requests_mock.call_count == 0


def test_a_bookmark_that_is_not_a_date_is_named(requests_mock):
    state = {"bookmarks": {"events": {"replication_key": "seq", "replication_key_value": "abc"}}}
    tap = TapGenericAPI(config=_config(replication_key="seq"), parse_env_config=False, state=state)
    with pytest.raises(ConfigError, match=r"Stream 'events': date_window_size .* the bookmark in STATE is 'abc'"):
        _sync(tap)
    assert requests_mock.call_count == 0


def test_schema_inference_samples_the_first_window(requests_mock):
    requests_mock.get("https://api.example.com/v1/events", json=[{"id": 1, "name": "a"}])
    TapGenericAPI(config=_config(infer_schema=True, start_date="2024-01-01T00:00:00Z"), parse_env_config=False)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(requests_mock.request_history[0].url).query)
    assert query == {"since": ["2024-01-01T00:00:00Z"], "until": ["2024-01-08T00:00:00Z"]}
