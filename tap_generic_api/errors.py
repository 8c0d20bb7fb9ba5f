"""Exceptions raised by tap-generic-api, grouped by what the caller should do."""

from __future__ import annotations

from singer_sdk.exceptions import ConfigValidationError, FatalAPIError


class ConfigError(ConfigValidationError):
    """The config is wrong; raised before any request is made.

    The message names the stream and config key at fault. The SDK's CLI prints it and exits 1.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, errors=[message])


class ResponseShapeError(FatalAPIError):
    """A 2xx response whose body cannot be read as configured (not JSON, no ``data_path``)."""


class CredentialError(ConfigValidationError):
    """No credential could be resolved for a stream's ``auth`` block."""

    def __init__(self, message: str) -> None:
        super().__init__(message, errors=[message])


class OutputClosedError(Exception):
    """stdout was closed by the program reading it (``| head``, a target that stopped).

    Raised instead of ``BrokenPipeError``, which click turns into a silent exit 1.
    """

    #: Not about the input line being read (the target's reader leaves the message as is).
    located = True

    def __init__(self) -> None:
        super().__init__("stdout was closed by the program reading it; the run stopped before its end.")
