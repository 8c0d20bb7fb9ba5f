"""What the tap and the target add to singer-sdk's plugin class: signals and config validation."""

from __future__ import annotations

import logging
from typing import Any

from plugin_kit.cli import exit_on_signal
from plugin_kit.config_checks import masked_schema_errors, raise_if_invalid


class CleanPluginMixin:
    """Mixed in before the SDK's ``Tap`` or ``Target``: exit status on signals, masked config errors.

    A plugin overrides :meth:`check_config_keys` to refuse keys it does not declare.
    """

    logger: logging.Logger
    config_jsonschema: dict
    _config: dict

    def _handle_termination(self, signum: int, frame: Any) -> None:
        """Stop on SIGINT or SIGTERM with status 128 + the signal (the SDK exits 0)."""
        exit_on_signal(self.logger, signum)

    def check_config_keys(self, schema_errors: list[str], *, raise_errors: bool) -> None:
        """Refuse config keys the plugin does not declare (none refused here).

        Args:
            schema_errors: The JSON-schema errors found, secrets masked.
            raise_errors: Whether the SDK asked for errors to be raised.

        Raises:
            ConfigError: In an override, for a key the plugin does not declare.
        """

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Validate against the JSON schema with secrets masked in every message, and check the keys.

        jsonschema quotes the offending value: a secret in the wrong place, or a service-account
        key given as an object instead of text, would print it.

        Raises:
            ConfigError: From :meth:`check_config_keys`.
            ConfigValidationError: The config does not match the schema (``raise_errors``).
        """
        errors = masked_schema_errors(super()._validate_config(raise_errors=False), self._config)  # type: ignore[misc]
        self.check_config_keys(errors, raise_errors=raise_errors)
        return raise_if_invalid(errors, self.config_jsonschema, raise_errors=raise_errors)
