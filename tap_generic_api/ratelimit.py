"""Requests-per-second limits shared by every stream of a run (pyrate-limiter)."""

from __future__ import annotations

import threading

from pyrate_limiter import Limiter, Rate

#: Limiter wait precision in milliseconds (pyrate-limiter's default of 50 ms would add
#: 50 ms to every throttled request).
_BUFFER_MS = 1


class RateLimiters:
    """One limiter per distinct ``requests_per_second`` value, shared across streams.

    Requests are spaced evenly, one per ``1 / requests_per_second`` seconds, so an API never
    sees a burst: 50 requests at 10 per second take at least 4.9 s.
    """

    def __init__(self) -> None:
        self._limiters: dict[float, Limiter] = {}
        self._lock = threading.Lock()

    def get(self, requests_per_second: float) -> Limiter:
        """Return the shared limiter for ``requests_per_second`` (> 0)."""
        with self._lock:
            limiter = self._limiters.get(requests_per_second)
            if limiter is None:
                interval_ms = max(1, round(1000 / requests_per_second))
                limiter = Limiter(Rate(1, interval_ms), buffer_ms=_BUFFER_MS)
                self._limiters[requests_per_second] = limiter
            return limiter

    @staticmethod
    def acquire(limiter: Limiter) -> None:
        """Block until ``limiter`` allows one more request."""
        limiter.try_acquire("requests", blocking=True)
