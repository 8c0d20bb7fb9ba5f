"""Requests-per-second limits shared by every stream of a run (pyrate-limiter)."""

from __future__ import annotations

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

    Up to 10 requests per second, requests are spaced evenly, one per
    ``1 / requests_per_second`` seconds (50 requests at 10 per second take at least 4.9 s);
    above that, at most ``requests_per_second / 10`` go in any tenth of a second.
    """

    def __init__(self) -> None:
        self._limiters: dict[float, Limiter] = {}
        self._lock = threading.Lock()

    def get(self, requests_per_second: float) -> Limiter:
        """Return the shared limiter for ``requests_per_second`` (> 0)."""
        with self._lock:
            limiter = self._limiters.get(requests_per_second)
            if limiter is None:
                limit, window_ms = rate_for(requests_per_second)
                limiter = Limiter(Rate(limit, window_ms), buffer_ms=_BUFFER_MS)
                self._limiters[requests_per_second] = limiter
            return limiter

    @staticmethod
    def acquire(limiter: Limiter) -> None:
        """Block until ``limiter`` allows one more request."""
        limiter.try_acquire("requests", blocking=True)


def rate_for(requests_per_second: float) -> tuple[int, int]:
    """Return ``(requests, window in milliseconds)`` for a limit in requests per second (> 0).

    Example: 10 -> (1, 100); 50 -> (5, 100); 1000 -> (100, 100); 2.5 -> (1, 400).
    """
    limit = max(1, int(requests_per_second * BURST_SECONDS))
    return limit, max(1, round(limit * 1000 / requests_per_second))
