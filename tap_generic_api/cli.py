"""Console entry helper shared by the tap and the target: clean messages for expected errors."""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from singer_sdk.exceptions import ConfigValidationError, FatalAPIError, InvalidInputLine

#: Errors whose message says everything the user needs; no traceback unless asked for.
_CLEAN_ERRORS: tuple[type[BaseException], ...] = (FatalAPIError, InvalidInputLine)


def register_clean_error(*kinds: type[BaseException]) -> None:
    """Add exception types that are reported as one message rather than a traceback."""
    global _CLEAN_ERRORS  # noqa: PLW0603 - a registry of the process's own error types
    _CLEAN_ERRORS = (*_CLEAN_ERRORS, *kinds)


def _unreadable_config(argv: list[str]) -> str | None:
    """Return why a ``--config`` file cannot be used (missing, not JSON, not an object), or None.

    Checked before the SDK reads them, which ends such cases in a traceback. Pipes (a
    ``<(...)`` process substitution) are left to the SDK: they can be read only once.
    """
    paths = [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == "--config"]
    paths += [arg.split("=", 1)[1] for arg in argv if arg.startswith("--config=")]
    for path in paths:
        if path == "ENV":
            continue
        file = Path(path)
        if not file.exists():
            return f"config file {path} was not found."
        if not file.is_file():
            continue
        try:
            value = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            return f"config file {path} is not valid JSON ({type(exc).__name__}: {str(exc)[:120]})."
        if not isinstance(value, dict):
            return f"config file {path} must hold a JSON object, not a {type(value).__name__}."
    return None


def run_cli(cli: Callable[[], object]) -> None:
    """Run a singer-sdk CLI; report config and known runtime errors as one clear message.

    A config error prints each problem; a known runtime error (API error, bad input line,
    pagination loop, load failure) prints its message. Set ``TRACEBACK=1`` in the
    environment to also print the traceback.

    Args:
        cli: The plugin's ``cli`` click command.

    Raises:
        SystemExit: With status 1 on such an error.
    """
    problem = _unreadable_config(sys.argv[1:])
    if problem:
        sys.stderr.write(f"Config error: {problem}\n")
        raise SystemExit(1)
    try:
        cli()
    except ConfigValidationError as exc:
        for error in exc.errors or [str(exc)]:
            sys.stderr.write(f"Config error: {error}\n")
        raise SystemExit(1) from None
    except _CLEAN_ERRORS as exc:
        if os.environ.get("TRACEBACK"):
            traceback.print_exc()
        logging.shutdown()
        sys.stderr.write(f"Error: {exc}\n")
        raise SystemExit(1) from None
