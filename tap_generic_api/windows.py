"""Date windows: one stream's date range split into equal parts, each requested on its own.

An API filtered by a date range (``created[gte]={start_date_unix}&created[lte]={end_date_unix}``)
can be asked for several ranges at once, whatever its pagination: the windows' requests do not
depend on each other. Windows also keep each request sequence short, under an API's page cap
or ``pagination.max_pages``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tap_generic_api.errors import TooManyWindowsError
from tap_generic_api.templating import is_number, to_datetime

#: How window bounds after the first start are written into ``{start_date}`` / ``{end_date}``.
ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
#: Most windows in one run: more is a misconfigured size (0.0001 days from 2000 is 10 million
#: windows, days of requests), refused before any request.
MAX_WINDOWS = 100_000
#: Shortest window in days: one second (finer bounds cannot be written into the templates).
MIN_WINDOW_DAYS = 1 / 86400


@dataclass(frozen=True)
class DateWindow:
    """One window ``[start, end)`` of a stream's date range.

    Attributes:
        start: The window's start as a template value: the stream's start (bookmark or
            ``start_date``) exactly as given for the first window; later windows an
            ISO-8601 UTC timestamp, or epoch seconds when the stream's start is a number.
        start_at: The start as a UTC datetime.
        end_at: The end as a UTC datetime (the next window's start; the run's start for the last).
            Bounds are converted to UTC before they are written, so that windows meet exactly.
    """

    start: Any
    start_at: datetime
    end_at: datetime

    def variables(self) -> dict[str, Any]:
        """Return the window's template variables.

        Returns:
            ``start_date`` / ``bookmark`` (the window's start), ``start_date_unix``,
            ``end_date`` (ISO-8601 UTC) and ``end_date_unix`` (epoch seconds).
        """
        return {
            "start_date": self.start,
            "bookmark": self.start,
            "start_date_unix": int(self.start_at.timestamp()),
            "end_date": self.end_at.strftime(ISO_FORMAT),
            "end_date_unix": int(self.end_at.timestamp()),
        }


def date_windows(start: Any, end: datetime, days: float) -> list[DateWindow]:
    """Split ``[start, end)`` into windows of ``days`` days; the last one ends at ``end``.

    Args:
        start: Where the range starts: an ISO-8601 date or timestamp (no zone means UTC; an
            offset such as ``-05:00`` is converted to UTC), or epoch seconds (a number, or
            digits as text).
        end: Where it ends (UTC), the run's start.
        days: Window length in days (at least :data:`MIN_WINDOW_DAYS`; fractions allowed:
            0.25 is six hours).

    Returns:
        The windows in date order; one window when ``start`` is not before ``end`` (the
        request is made as it would be without windows) or ``days`` spans the whole range.

    Raises:
        ValueError: ``start`` is neither a date, a timestamp nor a number, or ``days`` is
            shorter than :data:`MIN_WINDOW_DAYS`.
        TooManyWindowsError: More than :data:`MAX_WINDOWS` windows.
    """
    if days < MIN_WINDOW_DAYS:
        msg = f"a date window must be at least one second ({MIN_WINDOW_DAYS:.8f} days), got {days} days"
        raise ValueError(msg)
    start_at = to_datetime(start).astimezone(UTC)
    end = end.astimezone(UTC)
    span = end - start_at
    try:
        step = timedelta(days=days)
    except OverflowError:
        step = timedelta.max
    if span > timedelta(0) and span / step > MAX_WINDOWS:
        msg = f"{span / timedelta(days=1):.0f} days in windows of {days:g} days make more than {MAX_WINDOWS:,} windows"
        raise TooManyWindowsError(msg)
    numeric = is_number(start)
    windows = []
    value = start
    while True:
        end_at = start_at + step if end - start_at > step else end
        if end_at >= end and windows and end_at - start_at < timedelta(seconds=1):
            # A last sliver (the run started just after a window bound) joins the window before
            # it: written to the second, its bounds would be equal.
            last = windows[-1]
            windows[-1] = DateWindow(start=last.start, start_at=last.start_at, end_at=end_at)
            return windows
        windows.append(DateWindow(start=value, start_at=start_at, end_at=end_at))
        if end_at >= end:
            return windows
        start_at = end_at
        value = int(start_at.timestamp()) if numeric else start_at.strftime(ISO_FORMAT)
