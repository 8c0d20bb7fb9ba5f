"""Errors both plugins raise, grouped by what the caller should do, and how their text is kept short.

Each plugin's own errors live in its ``errors`` module and subclass these where the caller's
action is the same (a config error stops before any input or request).
"""

from __future__ import annotations

import re

from singer_sdk.exceptions import ConfigValidationError


class ConfigError(ConfigValidationError):
    """The config is wrong; raised before any request is made.

    The message names the config key (and stream) at fault. The SDK's CLI prints it and exits 1.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, errors=[message])


class OutputError(Exception):
    """stdout cannot take the messages: its reader closed it, or the write failed.

    The program reading it may have stopped (``| head``, a target that failed), or the disk
    is full. Raised instead of ``BrokenPipeError`` (which click turns into a silent exit 1) or a bare
    ``OSError`` traceback.

    Args:
        cause: The write's error; None or a broken pipe: the reader went away.
    """

    #: Not about the input line being read (the target's reader leaves the message as is).
    located = True

    def __init__(self, cause: OSError | None = None) -> None:
        if cause is None or isinstance(cause, BrokenPipeError):
            what = "stdout was closed by the program reading it"
        else:
            what = f"stdout could not be written ({cause.strerror or cause})"
        super().__init__(f"{what}; the run stopped before its end.")


def first_line(exc: BaseException, limit: int = 300) -> str:
    """Return the first line of an exception's message, at most ``limit`` characters (its type if empty)."""
    return (str(exc).splitlines() or [type(exc).__name__])[0][:limit]


#: Longest run of non-blank characters an error message or warning quotes whole.
LONG_VALUE_CHARS = 500
_LONG_RUN = re.compile(rf"\S{{{LONG_VALUE_CHARS + 1},}}")


def cut_long_values(text: str, limit: int = LONG_VALUE_CHARS) -> str:
    """Return ``text`` with each run of more than ``limit`` non-blank characters cut.

    A value quoted in a message (a 10 MB cursor in a URL, a key list) would otherwise make the
    message as large; the cut keeps the start and says how long the run was. Cut after secrets
    are masked, so a secret across the cut is never half shown.

    Args:
        text: The message.
        limit: Characters of each long run kept.

    Returns:
        The message, each long run as ``<its first limit - 3 characters>... (<length> characters,
        cut)``; cutting again changes nothing.
    """
    return _LONG_RUN.sub(lambda m: f"{m.group()[: limit - 3]}... ({len(m.group()):,} characters, cut)", text)
