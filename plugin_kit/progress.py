"""Progress lines while a stream runs, and a summary at its end (human and machine readable).

Progress: one INFO line per stream at most every :data:`PROGRESS_INTERVAL_SECONDS`.
Summary: one INFO line per stream (or table) and the same numbers as a METRIC line through the
SDK's metrics logger (``METRIC: {"type": "summary", "metric": "stream_summary", ...}``), which
tools that read Singer SDK metrics already parse.
"""

from __future__ import annotations

import enum
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from singer_sdk import metrics

#: Seconds between two progress lines of one stream (environment ``PROGRESS_INTERVAL_SECONDS``).
PROGRESS_INTERVAL_SECONDS = float(os.environ.get("PROGRESS_INTERVAL_SECONDS") or 5.0)


class SummaryMetric(enum.StrEnum):
    """Metric names of the summaries."""

    STREAM_SUMMARY = "stream_summary"
    TABLE_SUMMARY = "table_summary"


class Progress:
    """Counts one stream's records and reports them.

    Args:
        logger: Where progress lines go.
        stream: Stream name.
        unit: What is counted (``records``, ``rows``).
        interval: Seconds between progress lines.
        clock: Monotonic clock in seconds (a seam for tests).
    """

    def __init__(
        self,
        logger: logging.Logger,
        stream: str,
        *,
        unit: str = "records",
        interval: float = PROGRESS_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.stream = stream
        self.unit = unit
        self.interval = interval
        self.clock = clock
        self.started = clock()
        self._last_report = self.started
        self.count = 0

    @property
    def elapsed(self) -> float:
        """Seconds since the stream started."""
        return self.clock() - self.started

    def add(self, count: int = 1, **extra: Any) -> None:
        """Count ``count`` more; log a progress line when the interval has passed.

        Args:
            count: How many more.
            **extra: More numbers for the line (``pages=12``).
        """
        self.count += count
        now = self.clock()
        if now - self._last_report >= self.interval:
            self._last_report = now
            rate = self.count / max(now - self.started, 1e-9)
            details = "".join(f"{value} {name}, " for name, value in extra.items())
            self.logger.info(
                "Stream '%s': %s%d %s, %.0f %s/s", self.stream, details, self.count, self.unit, rate, self.unit
            )

    def summary(self, metric: SummaryMetric, **counts: Any) -> dict[str, Any]:
        """Log the final line and the METRIC point; return the numbers.

        Args:
            metric: ``STREAM_SUMMARY`` (tap) or ``TABLE_SUMMARY`` (target).
            **counts: The numbers to report (``table="p.d.t", rows=10, load_jobs=1``).

        Returns:
            The reported numbers, with ``seconds``.
        """
        numbers = {**counts, self.unit: self.count, "seconds": round(self.elapsed, 3)}
        text = ", ".join(f"{name}={value}" for name, value in numbers.items())
        self.logger.info("Summary for stream '%s': %s", self.stream, text)
        metrics.log(
            metrics.get_metrics_logger(),
            metrics.Point("summary", metric, self.count, {"stream": self.stream, **numbers}),  # type: ignore[arg-type]
        )
        return numbers
