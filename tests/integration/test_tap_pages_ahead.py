"""Pages fetched ahead (pagination.max_concurrency): written in order, stopped at the short page, nothing
sent after the end."""

from __future__ import annotations

import json
import time

import pytest
from helpers import API, bearer_tap, extract, virtual_clock_tuner

from tap_generic_api import streams as tap_streams
from tap_generic_api.http.ratelimit import RateLimiters
from tap_generic_api.paging import loops as tap_loops
from tap_generic_api.tap import TapGenericAPI


def test_offset_pages_fetched_concurrently_come_out_in_order_and_stop_at_the_short_page(monkeypatch):
    """A real threaded server on loopback: responses arrive in any order, records go out in page order."""
    import threading

    from pytest_httpserver import HTTPServer
    from werkzeug import Response

    # The real tuner on a virtual clock of a slow API: it goes ahead by 2 after page 4 and by 4
    # after page 14, however busy the machine.
    monkeypatch.setattr(tap_loops, "AheadTuner", virtual_clock_tuner(latency=0.1, work=0.001))
    in_flight, peak, lock, offsets = [0], [0], threading.Lock(), []
    # Offsets 200 to 230 are answered only once all four are in flight (the tuner went ahead by
    # 4 after page 14), and 200 only after 230: four in flight at once, answers out of order.
    together, last_answered = threading.Barrier(4, timeout=30), threading.Event()

    def page(request):
        offset = int(request.args["offset"])
        with lock:
            offsets.append(offset)
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        if 200 <= offset <= 230:
            together.wait()
            if offset == 200:
                assert last_answered.wait(30)
        with lock:
            in_flight[0] -= 1
        body = [{"id": i} for i in range(offset, min(offset + 10, 395))]
        if offset == 230:
            last_answered.set()
        return Response(json.dumps(body), content_type="application/json")

    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.expect_request("/v1/items").respond_with_handler(page)
    server.start()
    try:
        tap = bearer_tap(
            url=server.url_for("/v1/items"), pagination={"type": "offset", "limit": 10, "max_concurrency": 4}
        )
        ids = [r["id"] for r in extract(tap)]
    finally:
        server.clear()
        server.stop()
    assert ids == list(range(395))
    assert sorted(offsets)[:40] == list(range(0, 400, 10))  # 390 is the short last page
    assert len(offsets) <= 43  # at most max_concurrency - 1 requests past the end
    assert peak[0] == 4  # a slow API: the requests ahead grew to max_concurrency


class _AlwaysAhead:
    """An AheadTuner that keeps every request ahead that max_concurrency allows."""

    def __init__(self, most):
        self.ahead = self.most_ahead = most

    def page_arrived(self, asked, arrived):
        pass


def test_requests_ahead_still_waiting_when_the_pages_end_are_never_sent(requests_mock, monkeypatch):
    """Requests past the last page that still wait for the rate limiter are dropped, not sent."""
    import threading

    monkeypatch.setattr(tap_loops, "AheadTuner", _AlwaysAhead)
    asking, waiting, released = threading.local(), threading.Event(), threading.Event()
    prepare = tap_streams.GenericAPIStream._prepare

    def prepare_page(self, rendered, paginator, token):
        asking.page = token  # this thread's page number, for the limiter below
        return prepare(self, rendered, paginator, token)

    def acquire(limiter):  # the limiter lets pages 1 to 11 through and holds the ones after
        if getattr(asking, "page", 0) > 11:
            waiting.set()
            assert released.wait(10)

    monkeypatch.setattr(tap_streams.GenericAPIStream, "_prepare", prepare_page)

    monkeypatch.setattr(RateLimiters, "acquire", staticmethod(acquire))

    def page(request, context):
        number = int(request.qs["page"][0])
        if number == 11:  # the end: answered once a request past it waits for the limiter (or after 1 s)
            waiting.wait(1)
        return [{"id": number * 10 + i} for i in range(5)] if number <= 10 else []

    requests_mock.get(API, json=page)
    tap = bearer_tap(pagination={"type": "page", "limit": 5, "max_concurrency": 8})
    assert len(extract(tap)) == 50
    released.set()
    time.sleep(0.3)
    assert sorted(int(r.qs["page"][0]) for r in requests_mock.request_history) == list(range(1, 12))


def test_concurrent_offsets_when_the_api_ignores_limit_give_each_record_once(requests_mock):
    def page(request, context):
        offset = int(request.qs["offset"][0])
        return [{"id": i} for i in range(offset, min(offset + 15, 100))]  # ignores limit=10

    requests_mock.get(API, json=page)
    tap = bearer_tap(pagination={"type": "offset", "limit": 10, "max_concurrency": 4})
    assert [r["id"] for r in extract(tap)] == list(range(100))


def test_the_connection_pool_holds_max_concurrency_connections():
    tap = bearer_tap(pagination={"type": "page", "limit": 5, "max_concurrency": 16})
    assert tap.streams["items"].requests_session.get_adapter(API)._pool_maxsize == 16
    assert bearer_tap().streams["items"].requests_session.get_adapter(API)._pool_maxsize == 10


def test_a_fast_api_gets_its_pages_one_after_another(requests_mock, monkeypatch):
    """The tap's page loop, on an API that answers as fast as a page is written: none goes ahead."""
    tuner = virtual_clock_tuner(latency=0.001, work=0.0012)
    monkeypatch.setattr(tap_loops, "AheadTuner", tuner)

    def page(request, context):  # 200 pages of 10 records, the last one short
        offset = int(request.qs["offset"][0])
        return [{"id": i} for i in range(offset, min(offset + 10, 1995))]

    requests_mock.get(API, json=page)
    config = {
        "url": API,
        "destination": {"table": "items"},
        "pagination": {"type": "offset", "limit": 10, "max_concurrency": 4},
        "rate_limit": {"requests_per_second": 1000},
    }
    tap = TapGenericAPI(config=config, parse_env_config=False)
    ahead = []  # requests sent past the page being written, when its first record comes out
    for record in tap.streams["items"].get_records(None):
        if record["id"] % 10 == 0:
            ahead.append(requests_mock.call_count - (record["id"] // 10 + 1))
    assert len(ahead) == 200
    assert max(ahead) == 0
    assert max(tuner.made[0].ahead_by_page) == 0
    seconds = tuner.made[0].now
    assert seconds == pytest.approx(200 * 0.0022, rel=0.01)
