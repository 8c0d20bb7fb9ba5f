"""Console entry helper shared by the tap and the target: clean messages for expected errors."""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

from singer_sdk.exceptions import ConfigValidationError, FatalAPIError, InvalidInputLine

from plugin_kit.errors import OutputError, cut_long_values
from plugin_kit.redact import known_secrets, redact_text

#: Errors whose message says everything the user needs; no traceback unless asked for.
_CLEAN_ERRORS: tuple[type[BaseException], ...] = (FatalAPIError, InvalidInputLine)


class ConfigErrors(Exception):  # noqa: N818 - it carries the errors, it is not one more
    """A config error on its way out of the SDK's command, which would log it itself.

    Args:
        error: The config error; its ``errors`` are printed, one line each.
    """

    def __init__(self, error: ConfigValidationError) -> None:
        super().__init__(str(error))
        self.error = error


def register_clean_error(*kinds: type[BaseException]) -> None:
    """Add exception types that are reported as one message rather than a traceback."""
    global _CLEAN_ERRORS  # noqa: PLW0603 - a registry of the process's own error types
    _CLEAN_ERRORS = (*_CLEAN_ERRORS, *kinds)


def reported_as_one_line(exc: BaseException | None) -> bool:
    """Return True when :func:`run_cli` reports ``exc`` as its own one ``Error:`` line (no traceback)."""
    return isinstance(exc, (ConfigValidationError, ConfigErrors, OutputError, *_CLEAN_ERRORS))


def _config_text(path: str) -> tuple[str | None, str | None]:
    """Return ``(text, problem)`` for one ``--config`` path; text None when left to the SDK."""
    file = Path(path)
    if not file.exists():
        return None, f"config file {path} was not found."
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"config file {path} cannot be read ({type(exc).__name__}: {str(exc)[:120]})."
    try:
        value = json.loads(text)
    except ValueError as exc:
        return None, f"config file {path} is not valid JSON ({type(exc).__name__}: {str(exc)[:120]})."
    if not isinstance(value, dict):
        return None, f"config file {path} must hold a JSON object, not a {type(value).__name__}."
    return text, None


def _option_paths(argv: list[str], option: str) -> Iterator[tuple[int, str]]:
    """Yield ``(index, path)`` for each ``option PATH`` or ``option=PATH`` in ``argv``."""
    for i, arg in enumerate(argv):
        if arg == option and i + 1 < len(argv):
            yield i + 1, argv[i + 1]
        elif arg.startswith(f"{option}="):
            yield i, arg.split("=", 1)[1]


def _hand_over(argv: list[str], index: int, option: str, text: str) -> None:
    """Replace the path at ``argv[index]`` with an in-memory file (``memfd``) holding ``text``."""
    fd = os.memfd_create(option.lstrip("-"))
    os.write(fd, text.encode())
    replacement = f"/proc/self/fd/{fd}"
    argv[index] = f"{option}={replacement}" if argv[index].startswith(f"{option}=") else replacement


def _checked_config_args(argv: list[str]) -> tuple[list[str], str | None]:
    """Check every ``--config`` file before the SDK reads it (it ends bad ones in a traceback).

    Returns the arguments to run with and the problem found, if any. A pipe (a ``<(...)``
    process substitution, as in the credentials pipeline) can be read only once: its text is
    checked, then handed to the SDK from an in-memory file (``memfd``), never written to disk.
    """
    argv = list(argv)
    for index, path in _option_paths(argv, "--config"):
        if path == "ENV":
            continue
        is_pipe = Path(path).exists() and not Path(path).is_file()
        if is_pipe and not hasattr(os, "memfd_create"):
            continue  # no in-memory file on this system: left to the SDK
        text, problem = _config_text(path)
        if problem:
            return argv, problem
        if is_pipe and text is not None:
            _hand_over(argv, index, "--config", text)
    return argv, None


def _state_text(path: str) -> tuple[str | None, str | None, str]:
    """Return ``(state JSON, problem, note)`` for a ``--state`` file.

    A file of several lines (``target > state.json`` writes one STATE value per line, and
    ``>> state.json`` keeps appending) holds the latest state on its last line; a saved STATE
    message (``{"type": "STATE", "value": ...}``) holds it in ``value``. ``note`` says which
    was read when it is not the file as it is.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"state file {path} cannot be read ({type(exc).__name__}: {str(exc)[:120]}).", ""
    if not text.strip():
        return "{}", None, ""
    note = ""
    try:
        value = json.loads(text)
    except ValueError:
        lines = [line for line in text.splitlines() if line.strip()]
        try:
            value = json.loads(lines[-1])
        except ValueError as exc:
            problem = f"state file {path} is not valid JSON, nor JSON lines ({type(exc).__name__}: {str(exc)[:120]})."
            return None, problem, ""
        text, note = lines[-1], f"State file {path} holds {len(lines)} lines; using the last (the latest STATE)."
    if isinstance(value, dict) and value.get("type") == "STATE" and isinstance(value.get("value"), dict):
        value = value["value"]
        text, note = json.dumps(value), f"State file {path} holds a STATE message; using its value."
    if not isinstance(value, dict):
        return None, f"state file {path} must hold a JSON object, not a {type(value).__name__}.", ""
    bookmarks = value.get("bookmarks", {})
    if not isinstance(bookmarks, dict) or not all(isinstance(b, dict) for b in bookmarks.values()):
        problem = f"state file {path}: 'bookmarks' must map each stream name to an object, got {str(bookmarks)[:100]}."
        return None, problem, ""
    return text, None, note


def _checked_state_args(argv: list[str]) -> tuple[list[str], str | None]:
    """Check the ``--state`` file; hand the SDK its latest state when the file holds more.

    Returns the arguments to run with and the problem found, if any.
    """
    argv = list(argv)
    for index, path in _option_paths(argv, "--state"):
        if not Path(path).exists() or not hasattr(os, "memfd_create"):
            continue  # left to the SDK, which names a missing file
        text, problem, note = _state_text(path)
        if problem:
            return argv, problem
        if note:
            sys.stderr.write(note + "\n")
        if note or not Path(path).is_file() or text == "{}":
            _hand_over(argv, index, "--state", text or "{}")
    return argv, None


def exit_on_signal(logger: logging.Logger, signum: int) -> None:
    """End the process after SIGINT or SIGTERM with status ``128 + signum`` (130, 143).

    singer-sdk exits 0 there, which a scheduler reads as a finished run. STATE already
    written stays valid: the target writes it only after the rows before it are stored.

    Raises:
        SystemExit: Always.
    """
    logger.warning("Stopped by signal %d; exiting with status %d.", signum, 128 + signum)
    raise SystemExit(128 + signum)


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
    args, problem = _checked_config_args(sys.argv[1:])
    if not problem:
        args, problem = _checked_state_args(args)
    sys.argv[1:] = args
    if sys.stdout is None:  # started with stdout closed (`>&-`): Python leaves it None
        problem = "stdout is closed; Singer messages are written there (redirect it, e.g. > out.jsonl)."
        sys.stderr.write(f"Error: {problem}\n")
        raise SystemExit(1)
    if problem:
        sys.stderr.write(f"{'State' if problem.startswith('state') else 'Config'} error: {problem}\n")
        raise SystemExit(1)
    try:
        cli()
    except (ConfigValidationError, ConfigErrors) as caught:
        exc = caught.error if isinstance(caught, ConfigErrors) else caught
        logging.shutdown()
        for error in exc.errors or [str(exc)]:
            sys.stderr.write(f"Config error: {cut_long_values(redact_text(str(error), known_secrets()))}\n")
        raise SystemExit(1) from None
    except _CLEAN_ERRORS as exc:
        if os.environ.get("TRACEBACK"):
            traceback.print_exc()
        logging.shutdown()
        # Masked like every log line: a message built from a response may hold any secret.
        sys.stderr.write(f"Error: {cut_long_values(redact_text(str(exc), known_secrets()))}\n")
        raise SystemExit(1) from None
    except OutputError as exc:
        # Later writes, the interpreter's flush at exit included, go to /dev/null instead of
        # raising again.
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
        logging.shutdown()
        sys.stderr.write(f"Error: {exc}\n")
        raise SystemExit(1) from None
