"""Date windows: the range split, fetched several windows at once, written in date order."""

from __future__ import annotations

import datetime
import io
import json
import subprocess
import threading
import time
import urllib.parse
from contextlib import redirect_stdout

import pytest
from helpers import BIN, sync_messages
from pytest_httpserver import HTTPServer
from singer_sdk.exceptions import FatalAPIError
from werkzeug import Response

from plugin_kit.concurrency import in_order
from plugin_kit.errors import ConfigError
from tap_generic_api.errors import WindowTruncatedError
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


def test_in_order_holds_at_most_its_budget_ahead_of_the_reader():
    produced = []

    def produce():
        for item in range(50):
            produced.append(item)
            yield item

    seen = []
    for item in in_order([produce], 2, held=4):
        time.sleep(0.005)  # a slow reader
        seen.append(item)
        # the item being read, the budget of 4, and 1 waiting for room
        assert len(produced) - len(seen) <= 4 + 1
    assert seen == list(range(50))


def test_a_producer_far_ahead_uses_the_budget_the_others_leave():
    second_done = threading.Event()

    def slow_first():
        for item in range(3):
            time.sleep(0.1)
            yield ("first", item)

    def fast_second():
        for item in range(10):
            yield ("second", item)
        second_done.set()

    items = []
    for item in in_order([slow_first, fast_second], 2, held=12):
        if item == ("first", 2):
            # all ten of the second producer's items were fetched while the first was read
            assert second_done.is_set()
        items.append(item)
    assert items == [("first", i) for i in range(3)] + [("second", i) for i in range(10)]


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

    def __init__(
        self,
        fail_since: str | None = None,
        hang_since: str | None = None,
        release: threading.Event | None = None,
        throttle_since: str | None = None,
    ) -> None:
        self.hang_since, self.release = hang_since, release
        self.throttle_since = throttle_since
        self.throttled: list[float] = []  # monotonic times of the 429 answers
        self.started: list[float] = []  # monotonic times requests arrived
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str, int]] = []
        self.in_flight = self.peak = 0
        self.fail_since = fail_since
        self.server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        self.server.expect_request("/v1/events").respond_with_handler(self.handle)

    def handle(self, request):
        since, until, page = request.args["since"], request.args["until"], int(request.args["page"])
        with self.lock:
            self.started.append(time.monotonic())
            if since == self.throttle_since and page == 1 and not self.throttled:
                self.throttled.append(time.monotonic())
                return Response("slow down", status=429, headers={"Retry-After": "1"})
            self.requests.append((since, until, page))
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            time.sleep(0.3 if since.startswith("2024-03-01") else 0.1)
            if since == self.hang_since and self.release is not None:
                self.release.wait(60)
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
            stream.templates.run_started = RUN_START
        return tap


def test_windows_are_fetched_three_at_once_and_written_in_date_order_with_state():
    with WindowedAPI() as api:
        messages = sync_messages(api.tap())
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
        messages = sync_messages(api.tap(state=state))
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
        messages = sync_messages(api.tap(pagination={"type": "page", "limit": 2, "max_concurrency": 1}))
    assert [m["record"] for m in messages if m["type"] == "RECORD"] == ALL_RECORDS
    assert api.peak == 1
    assert api.requests == sorted(api.requests)  # day by day, page by page


def test_max_pages_without_a_replication_key_applies_to_each_window(caplog):
    with WindowedAPI() as api:
        tap = api.tap(replication_key=None, pagination={"type": "page", "limit": 2, "max_pages": 1})
        messages = sync_messages(tap)
    records = [m["record"] for m in messages if m["type"] == "RECORD"]
    assert records == [r for day in range(DAYS) for r in _day_records(day)[:2]]
    assert len(api.requests) == DAYS
    assert caplog.text.count("stopped after 1 pages (pagination.max_pages)") == DAYS


def test_a_window_cut_at_max_pages_stops_the_run_before_the_bookmark_moves():
    with WindowedAPI() as api:
        tap = api.tap(pagination={"type": "page", "limit": 2, "max_pages": 1, "max_concurrency": 3})
        out = io.StringIO()
        with redirect_stdout(out):
            with pytest.raises(WindowTruncatedError) as info:
                tap.sync_all()
            tap.message_writer.flush()  # the CLI flushes at exit
    messages = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [m["record"] for m in messages if m["type"] == "RECORD"] == _day_records(0)[:2]
    # no bookmark was written: the next run starts where this one did
    assert not any(
        m["value"].get("bookmarks", {}).get("events", {}).get("replication_key_value")
        for m in messages
        if m["type"] == "STATE"
    )
    assert str(info.value) == (
        "Stream 'events': the date window 2024-03-01T00:00:00Z to 2024-03-02T00:00:00Z reached "
        "pagination.max_pages (1 pages) and was cut short. The run stops here so that the bookmark does "
        "not move past the records left out; lower date_window_size or raise max_pages."
    )


def test_a_sorted_stream_ends_the_run_at_a_window_cut_at_max_pages(caplog):
    with WindowedAPI() as api:
        tap = api.tap(is_sorted=True, pagination={"type": "page", "limit": 2, "max_pages": 1, "max_concurrency": 3})
        messages = sync_messages(tap)
    assert [m["record"] for m in messages if m["type"] == "RECORD"] == _day_records(0)[:2]
    state = [m for m in messages if m["type"] == "STATE"][-1]["value"]
    assert state["bookmarks"]["events"]["replication_key_value"] == _day_records(0)[1]["updated_at"]
    assert "reached pagination.max_pages; the run ends here and the next one goes on from the bookmark" in caplog.text


def test_an_api_ignoring_the_window_end_is_reported(caplog):
    with WindowedAPI() as api:
        tap = api.tap(params={"since": "{start_date}", "until": "2100-01-01T00:00:00Z", "to": "{end_date}"})
        sync_messages(tap)
    assert caplog.text.count("outside it: the API may ignore the window's params") == 1
    assert "returned a record with updated_at = '2024-03-02T01:00:00Z', outside it" in caplog.text


def test_a_start_with_an_offset_gives_utc_windows_that_meet():
    end = datetime.datetime(2024, 1, 3, tzinfo=UTC)
    windows = date_windows("2024-01-01T00:00:00-05:00", end, 1)
    assert [(w.variables()["start_date"], w.variables()["end_date"]) for w in windows] == [
        ("2024-01-01T00:00:00-05:00", "2024-01-02T05:00:00Z"),
        ("2024-01-02T05:00:00Z", "2024-01-03T00:00:00Z"),
    ]


def test_too_many_windows_are_refused_before_any_request(requests_mock):
    config = _config(start_date="2000-01-01T00:00:00Z", date_window_size=0.001)
    with pytest.raises(
        ConfigError,
        match=r"from config\.start_date \(2000-01-01\) to now, .* 100,000 windows\. Raise config\.date_window_size",
    ):
        sync_messages(TapGenericAPI(config=config, parse_env_config=False))
    assert requests_mock.call_count == 0


def test_a_window_size_spanning_the_range_is_one_window():
    end = datetime.datetime(2024, 1, 3, tzinfo=UTC)
    (window,) = date_windows("2024-01-01", end, 1e12)
    assert window.variables()["end_date"] == "2024-01-03T00:00:00Z"


def test_a_429_in_one_window_holds_the_other_windows_for_its_retry_after():
    with WindowedAPI(throttle_since="2024-03-01T00:00:00Z") as api:
        records = [m["record"] for m in sync_messages(api.tap()) if m["type"] == "RECORD"]
    assert records == ALL_RECORDS
    (throttled_at,) = api.throttled
    later = [at for at in api.started if at > throttled_at + 0.05]
    assert later, "no request after the 429"
    # Retry-After: 1 held every window's next request, not just the throttled one's.
    assert min(later) >= throttled_at + 0.95


def _cli(config_path, timeout=60):
    return subprocess.run(
        [str(BIN / "tap-generic-api"), "--config", str(config_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def test_fractional_days_and_seconds_from_a_config_file(tmp_path):
    """singer-sdk reads config files with Decimal floats; the CLI takes them as numbers."""
    start = (datetime.datetime.now(UTC) - datetime.timedelta(days=1, seconds=30)).replace(microsecond=0)
    with WindowedAPI() as api:
        config = {**api.tap().config, "start_date": _iso(start), "date_window_size": 0.25, "timeout": 2.5}
        path = tmp_path / "tap.json"
        path.write_text(json.dumps(config))
        result = _cli(path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(since for since, _, _ in api.requests) == [
        _iso(start + datetime.timedelta(hours=6 * n))
        for n in range(5)  # the last about 30 s long
    ]


def test_a_failing_window_ends_the_process_without_waiting_for_a_hung_window(tmp_path):
    release = threading.Event()
    with WindowedAPI(fail_since="2024-03-01T00:00:00Z", hang_since="2024-12-26T00:00:00Z", release=release) as api:
        config = {**api.tap().config, "date_window_size": 300, "timeout": 120}
        path = tmp_path / "tap.json"
        path.write_text(json.dumps(config))
        result = _cli(path, timeout=60)
        hung_still = not release.is_set()
        release.set()
    assert result.returncode == 1
    assert "404 NOT FOUND" in result.stderr
    assert hung_still  # the process ended while the other window's request was still open
    assert ("2024-12-26T00:00:00Z", "2025-10-22T00:00:00Z", 1) in api.requests


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
        ({"date_window_size": 1e-7}, r"config\.date_window_size is in days and must be at least one second"),
        ({"date_window_size": "a week"}, r"config\.date_window_size must be a positive number, got 'a week'"),
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
        sync_messages(tap)
    assert requests_mock.call_count == 0


def test_schema_inference_reads_windows_from_the_newest_until_it_finds_records(requests_mock, caplog):
    start = datetime.datetime.now(UTC) - datetime.timedelta(days=20)
    answers = iter([[], [{"id": 1, "name": "a"}], [{"id": 2, "note": None}]])
    requests_mock.get("https://api.example.com/v1/events", json=lambda request, context: next(answers))
    config = _config(infer_schema=True, start_date=_iso(start))
    tap = TapGenericAPI(config=config, parse_env_config=False)
    sent = [urllib.parse.parse_qs(urllib.parse.urlsplit(r.url).query) for r in requests_mock.request_history]
    # three windows (7, 7 and 6 days), newest first; one page each (no pagination)
    assert [q["since"][0] for q in sent] == [
        _iso(start + datetime.timedelta(days=14)),
        _iso(start + datetime.timedelta(days=7)),
        _iso(start),
    ]
    assert set(tap.streams["events"].schema["properties"]) == {"id", "name", "note"}
    assert "no records to infer the schema from" not in caplog.text


def test_a_last_window_shorter_than_a_second_joins_the_one_before():
    end = datetime.datetime(2024, 1, 3, 0, 0, 0, 400000, tzinfo=UTC)
    windows = date_windows("2024-01-01T00:00:00Z", end, 1)
    assert [(w.variables()["start_date"], w.variables()["end_date"]) for w in windows] == [
        ("2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"),
        ("2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z"),
    ]
    assert windows[-1].end_at == end


def test_a_window_size_given_as_text_is_a_number_of_days():
    """Meltano and environment variables pass text."""
    tap = TapGenericAPI(config=_config(date_window_size="0.5"), parse_env_config=False)
    assert tap.streams["events"].stream_config.date_window_size == 0.5
