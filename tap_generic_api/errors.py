"""Exceptions raised by tap-generic-api, grouped by what the caller should do.

Config errors and output errors are shared with the target: :mod:`plugin_kit.errors`.
"""

from __future__ import annotations

from singer_sdk.exceptions import ConfigValidationError, FatalAPIError


class ResponseShapeError(FatalAPIError):
    """A 2xx response whose body cannot be read as configured (not JSON, no ``data_path``)."""


class CredentialError(ConfigValidationError):
    """No credential could be resolved for a stream's ``auth`` block."""

    def __init__(self, message: str) -> None:
        super().__init__(message, errors=[message])
