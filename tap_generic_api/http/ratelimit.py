"""Requests-per-second limits shared by every stream of a run (pyrate-limiter)."""

from __future__ import annotations

import math
import threading

from pyrate_limiter import Limiter, Rate

#: Limiter wait precision in milliseconds (pyrate-limiter's default of 50 ms would add
#: 50 ms to every throttled request).
_BUFFER_MS = 1


#: Seconds over which requests may bunch: at most ``requests_per_second * BURST_SECONDS`` in
#: any window this long (at least one). pyrate-limiter sleeps in whole milliseconds plus its
#: buffer, so one request per ``1 / requests_per_second`` gave 450 requests/s at a limit of
#: 1,000 and 44 at 50; counting over a tenth of a second keeps the rate without bursts an API
#: would notice.
BURST_SECONDS = 0.1


class RateLimiters:
    """One limiter per distinct ``requests_per_second`` value, shared across streams.

    Never more than ``requests_per_second`` requests in any second; up to 10 per second they
    are spaced evenly, one per ``1 / requests_per_second`` seconds (50 requests at 10 per
    second take at least 4.9 s), and above that about a tenth of the limit goes in each tenth
    of a second (:func:`rates_for`).
    """

    def __init__(self) -> None:
        self._limiters: dict[float, Limiter] = {}
        self._lock = threading.Lock()

    def get(self, requests_per_second: float) -> Limiter:
        """Return the shared limiter for ``requests_per_second`` (> 0)."""
        with self._lock:
            limiter = self._limiters.get(requests_per_second)
            if limiter is None:
                limiter = Limiter(rates_for(requests_per_second), buffer_ms=_BUFFER_MS)
                self._limiters[requests_per_second] = limiter
            return limiter

    @staticmethod
    def acquire(limiter: Limiter) -> None:
        """Block until ``limiter`` allows one more request."""
        limiter.try_acquire("requests", blocking=True)


def rates_for(requests_per_second: float) -> list[Rate]:
    """Return the pyrate-limiter rates for a limit in requests per second (> 0).

    A whole-number limit ``R`` gets at most ``R // 10`` (at least 1) requests in any
    ``1000 * n // R`` ms and, since sliding windows that do not divide a second let a little
    more through, at most ``R`` in any second too: 25 -> 2 per 80 ms and 25 per second. Other
    limits get one request per ``1 / requests_per_second`` seconds and, when a span of 2 to 10
    seconds holds a whole number of requests, at most that many in it (2.5 -> 1 per 400 ms and
    5 per 2 s).

    Example: 10 -> [1/100 ms, 10/1000 ms]; 50 -> [5/100 ms, 50/1000 ms]; 1 -> [1/1000 ms].
    """
    whole = int(requests_per_second)
    if whole != requests_per_second or whole < 2:  # noqa: PLR2004
        # 2.5 per second is 5 per 2 s: that cap keeps any such span within the limit, so the
        # spacing may round down; without one, it rounds up.
        for seconds in range(2, 11):
            count = requests_per_second * seconds
            if count >= 2 and abs(count - round(count)) < 1e-9:  # noqa: PLR2004
                return [Rate(1, max(1, math.floor(1000 / requests_per_second))), Rate(round(count), 1000 * seconds)]
        return [Rate(1, max(1, math.ceil(1000 / requests_per_second)))]
    burst = max(1, int(whole * BURST_SECONDS))
    return [Rate(burst, 1000 * burst // whole), Rate(whole, 1000)]
