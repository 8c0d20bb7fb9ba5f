"""How many page requests go ahead of the page being written, tuned while a stream runs.

A fixed number is wrong one way or the other. On an API that answers in 100 ms, one request at
a time gives at most 10 pages a second whatever the rate limit allows; on one that answers
about as fast as the tap writes a page, requests ahead only contend with the writer for the
interpreter lock (measured on a local server answering 1,000-record pages in about a
millisecond: 200,000 records took 0.83 s one page at a time, 1.01 s with four in flight). So
the tuner tries more only while the writer waits for pages, and keeps a step only if it raised
the page rate.
"""

from __future__ import annotations

#: Pages per measurement window (at least; and at least two rounds of the requests ahead,
#: since pages asked for together arrive together).
WINDOW_PAGES = 3
#: Seconds a measurement window lasts at least (a few pages of a fast API are too noisy).
WINDOW_SECONDS = 0.05
#: A step up is kept only if the page rate rose by at least this factor.
MIN_GAIN = 1.1
#: Windows to wait before trying again after a step that did not pay (doubles each time).
FIRST_HOLD = 8


class AheadTuner:
    """Chooses how many requests are in flight while a page is written (0 to ``most``).

    Feed it each page's timing with :meth:`page_arrived`; read :attr:`ahead`. Every
    :data:`WINDOW_PAGES` pages it compares the page rate with the window before a step: when
    the writer spent more time waiting for pages than working on them, it doubles ``ahead``
    (0, 2, 4, 8, ... up to ``most``; one request ahead of a page asked for as soon as the
    previous one arrives gains next to nothing); a step that did not raise the rate by
    :data:`MIN_GAIN` is undone and not tried again for a while.

    Args:
        most: The most requests in flight (config ``pagination.max_concurrency``).
    """

    def __init__(self, most: int) -> None:
        self.most = most
        self.ahead = 0
        self.most_ahead = 0
        self._previous: int | None = None  # ``ahead`` before the step being judged
        self._rate_before = 0.0
        self._hold = 0
        self._next_hold = FIRST_HOLD
        self._last_arrival: float | None = None
        self._window_start: float | None = None
        self._pages = 0
        self._waited = self._worked = 0.0
        self._settle = 0  # pages to let by after a step (asked for before it) before measuring

    def page_arrived(self, asked: float, arrived: float) -> None:
        """Record one page: asked for its response at ``asked``, had it at ``arrived`` (monotonic seconds)."""
        if self._last_arrival is None:  # the first page's wait includes connecting
            self._last_arrival = self._window_start = arrived
            return
        waited, worked = arrived - asked, asked - self._last_arrival
        self._last_arrival = arrived
        if self._settle:
            self._settle -= 1
            self._window_start = arrived
            return
        self._waited += waited
        self._worked += worked
        self._pages += 1
        elapsed = arrived - (self._window_start or arrived)
        if self._pages < max(WINDOW_PAGES, 2 * self.ahead) or elapsed < WINDOW_SECONDS:
            return
        rate = self._pages / elapsed if elapsed > 0 else float("inf")
        self._decide(rate)
        self._window_start, self._pages, self._waited, self._worked = arrived, 0, 0.0, 0.0

    def _decide(self, rate: float) -> None:
        if self._previous is not None:
            if rate < self._rate_before * MIN_GAIN:
                self.ahead = self._previous
                self._hold, self._next_hold = self._next_hold, self._next_hold * 2
                self._settle = WINDOW_PAGES
            self._previous = None
        elif self._hold:
            self._hold -= 1
        elif self.ahead < self.most and self._waited > self._worked:
            self._previous, self._rate_before = self.ahead, rate
            self.ahead = min(self.most, max(2, self.ahead * 2))
            self.most_ahead = max(self.most_ahead, self.ahead)
            self._settle = self.ahead
