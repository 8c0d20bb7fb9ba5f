"""The tuner that decides how many page requests go ahead, driven by a simulated API.

The tap's own page loop with this tuner is tested in tests/integration/test_tap_pages_ahead.py.
Here the simulation replays the stream's loop (wait for page N, ask for the pages ahead, write
page N) on a virtual clock: every request takes ``latency`` seconds, writing a page takes
``work`` seconds, and a rate limit spaces requests. Exact and instant, no sleeping.
"""

from __future__ import annotations

from plugin_kit.concurrency import AheadTuner


def simulate(pages: int, latency: float, work: float, most: int, rps: float | None = None) -> tuple[float, list[int]]:
    """Return (virtual seconds for all pages, requests ahead while each page was written)."""
    tuner = AheadTuner(most)
    now = next_slot = 0.0
    arrives: list[float] = []

    def ask() -> None:
        nonlocal next_slot
        start = max(now, next_slot)
        if rps:
            next_slot = start + 1 / rps
        arrives.append(start + latency)

    ask()
    ahead = []
    for page in range(pages):
        asked, now = now, max(now, arrives[page])
        tuner.page_arrived(asked, now)
        while len(arrives) - page - 1 < tuner.ahead and len(arrives) < pages:
            ask()
        ahead.append(len(arrives) - page - 1)
        now += work
        if len(arrives) == page + 1 and len(arrives) < pages:
            ask()
    return now, ahead


def test_a_slow_api_gets_max_concurrency_requests_in_flight():
    seconds, ahead = simulate(pages=200, latency=0.1, work=0.001, most=4)
    assert ahead[:3] == [0, 0, 0]
    assert max(ahead) == 4
    assert ahead[-20] == 4
    # One page at a time would take 200 x 0.101 s = 20.2 s; four at a time about 5 s.
    assert seconds < 6.0


def test_under_a_rate_limit_the_rate_limit_is_what_binds():
    seconds, ahead = simulate(pages=200, latency=0.1, work=0.001, most=8, rps=50)
    assert max(ahead) == 8
    assert 4.0 <= seconds < 5.0  # 200 requests at 50 per second: 4 s at the least


def test_a_step_that_does_not_raise_the_page_rate_is_undone():
    # Requests ahead cannot help when every request waits for the one before (rate limit of
    # one request per page time): the tuner tries two ahead, sees no gain, goes back to none.
    seconds, ahead = simulate(pages=60, latency=0.05, work=0.0001, most=4, rps=1 / 0.05)
    assert 2 in ahead
    assert ahead[-1] == 0
