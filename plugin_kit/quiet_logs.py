"""Quiet logs by default: METRIC lines and the SDK's set-up lines at DEBUG.

singer-sdk logs every metric (``METRIC: {...}`` JSON, one or more per request) at INFO on the
``singer_sdk.metrics`` logger, and a few set-up lines at INFO or WARNING that say nothing about
the run. Left at INFO they bury the progress lines and the end summary. This filter, on the
console handler the SDK sets up, logs them at a lower level instead: METRIC lines at the
config's ``metrics_log_level`` (default ``DEBUG``), the set-up lines at DEBUG. The SDK's
``An unhandled error occurred while syncing '<stream>'`` (ERROR, logged by ``Stream.sync`` for any
exception) goes to DEBUG too when the error is one the CLI reports itself in one ``Error:`` line:
it is handled, and the line before the real message only misleads. A logging config of one's
own (the SDK's ``SINGER_SDK_LOG_CONFIG``) is left alone.

Logging's own level machinery cannot do this: the records come from the SDK's and
pyrate-limiter's loggers at a fixed level, and a logger's level only drops records, it
cannot lower them.
"""

from __future__ import annotations

import logging
import os
import sys

from singer_sdk import typing as th
from singer_sdk.metrics import METRICS_LOGGER_NAME

from plugin_kit.cli import reported_as_one_line

#: The setting both plugins declare: the level METRIC lines are logged at.
METRICS_LOG_LEVEL_SETTING = "metrics_log_level"
#: Its values, most verbose first (each plugin's schema declares the default).
METRICS_LOG_LEVELS = ("DEBUG", "INFO", "WARNING")

#: ``(logger name, start of the message)`` of lines that describe set-up, not the run.
BOILERPLATE = (
    ("", "Skipping parse of env var settings"),
    ("", "Parsing env var for settings config"),
    ("pyrate_limiter", "Initializing default bucket"),
    # Said of every incremental stream not marked is_sorted; docs/TAP_CONFIG.md explains it.
    ("singer_sdk", "Stream is assumed to be unsorted"),
)
#: What singer-sdk's ``Stream.sync`` logs at ERROR for any exception, before re-raising it.
SDK_SYNC_ERROR = "An unhandled error occurred while syncing"


class QuietLogs(logging.Filter):
    """Logs METRIC lines at ``metrics_level`` and set-up lines at DEBUG, then applies the log level.

    Args:
        metrics_level: The level METRIC lines are logged at (a ``logging`` level number).
    """

    def __init__(self, metrics_level: int = logging.DEBUG) -> None:
        super().__init__()
        self.metrics_level = metrics_level

    def _level(self, record: logging.LogRecord) -> int | None:
        if record.name == METRICS_LOGGER_NAME:
            return self.metrics_level
        message = str(record.msg)
        for logger, start in BOILERPLATE:
            if record.name.startswith(logger) and message.startswith(start):
                return logging.DEBUG
        # Filters run inside the logging call, so the exception being handled is Stream.sync's.
        if message.startswith(SDK_SYNC_ERROR) and reported_as_one_line(sys.exc_info()[1]):
            return logging.DEBUG
        return None

    def filter(self, record: logging.LogRecord) -> bool:
        """Return whether ``record`` is shown, after lowering its level when it is one of ours."""
        level = self._level(record)
        if level is None:
            return True
        record.levelno, record.levelname = level, logging.getLevelName(level)
        return level >= logging.getLogger().getEffectiveLevel()


_FILTER = QuietLogs()


def install_quiet_logs() -> None:
    """Add the filter to the root logger's handlers (the SDK's console handler); idempotent.

    Call after the SDK sets up console logging. Does nothing when ``SINGER_SDK_LOG_CONFIG``
    names a logging config: that config decides.
    """
    if "SINGER_SDK_LOG_CONFIG" in os.environ:
        return
    for handler in logging.getLogger().handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)


def set_metrics_level(name: str | None) -> None:
    """Log METRIC lines at ``name`` (``DEBUG``, ``INFO`` or ``WARNING``); None leaves the level as it is."""
    if name in METRICS_LOG_LEVELS:
        _FILTER.metrics_level = logging.getLevelName(name)


#: The description of ``metrics_log_level`` in both plugins' schemas.
METRICS_LOG_LEVEL_DESCRIPTION = (
    "Level of the SDK's METRIC lines (JSON: request durations, record counts, the end summary). At DEBUG "
    "they show only when the log level is DEBUG (env LOGLEVEL); INFO shows them in every run, for tools "
    "that read Singer SDK metrics from stderr."
)


def metrics_log_level_property() -> th.Property:
    """Return the ``metrics_log_level`` setting, declared here once for both plugins' schemas."""
    return th.Property(
        "metrics_log_level",
        th.StringType,
        allowed_values=list(METRICS_LOG_LEVELS),
        default="DEBUG",
        description=METRICS_LOG_LEVEL_DESCRIPTION,
    )
