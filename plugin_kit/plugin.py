"""What the tap and the target add to singer-sdk's plugin class: signals, config checks, help, quiet logs."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import click
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers._classproperty import classproperty

from plugin_kit.cli import ConfigErrors, exit_on_signal
from plugin_kit.config_checks import raise_if_invalid
from plugin_kit.env_config import env_config
from plugin_kit.quiet_logs import METRICS_LOG_LEVEL_SETTING, install_quiet_logs, set_metrics_level
from plugin_kit.schema_errors import schema_errors


def _passing_config_errors(callback: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a command's callback so a config error reaches :func:`plugin_kit.cli.run_cli`.

    The SDK's command catches config errors itself and logs each, then "Config validation
    failed" again; run_cli prints each problem once, as in every other mode.
    """

    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return callback(*args, **kwargs)
        except ConfigValidationError as exc:
            raise ConfigErrors(exc) from None

    return run


class CleanPluginMixin:
    """Mixed in before the SDK's ``Tap`` or ``Target``: exit status on signals, config errors, help, logs.

    A plugin overrides :meth:`check_config_keys` to refuse keys it does not declare, and sets
    :attr:`cli_help` to describe itself in ``--help``.
    """

    logger: logging.Logger
    config_jsonschema: dict
    _config: dict
    name: str
    #: The ``--help`` text (click's format: ``\b`` keeps the next paragraph's line breaks).
    cli_help: str = ""
    #: ``--help`` lines of options whose behaviour the plugin changes, by option name.
    option_help: dict[str, str] = {}

    def _handle_termination(self, signum: int, frame: Any) -> None:
        """Stop on SIGINT or SIGTERM with status 128 + the signal (the SDK exits 0)."""
        exit_on_signal(self.logger, signum)

    @classmethod
    def get_singer_command(cls) -> click.Command:
        """Return the SDK's command with this plugin's help, config errors printed once, quiet logs.

        Called by the SDK's ``cli`` after it sets up console logging.
        """
        command = super().get_singer_command()  # type: ignore[misc]
        if cls.cli_help:
            command.help = cls.cli_help
        for option in command.params:
            option.help = cls.option_help.get(option.name or "", getattr(option, "help", None))  # type: ignore[attr-defined]
        command.callback = _passing_config_errors(command.callback)
        install_quiet_logs()
        return command

    @classproperty
    def _env_var_config(cls) -> dict[str, Any]:  # noqa: N805 - the SDK's classproperty
        """Return the settings given as environment variables; a malformed one names its variable.

        Raises:
            ConfigError: See :func:`plugin_kit.env_config.env_config`.
        """
        schema = cls.config_jsonschema
        cls.append_builtin_config(schema)  # type: ignore[attr-defined]
        return env_config(schema, cls._env_var_prefix)  # type: ignore[attr-defined]

    def check_config_keys(self, schema_errors: list[str], *, raise_errors: bool) -> None:
        """Refuse config keys the plugin does not declare (none refused here).

        Args:
            schema_errors: The JSON-schema errors found, secrets masked.
            raise_errors: Whether the SDK asked for errors to be raised.

        Raises:
            ConfigError: In an override, for a key the plugin does not declare.
        """

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Validate against the JSON schema (:func:`plugin_kit.schema_errors.schema_errors`), check the keys.

        Also sets the level of METRIC lines from ``metrics_log_level``.

        Raises:
            ConfigError: From :meth:`check_config_keys`.
            ConfigValidationError: The config does not match the schema (``raise_errors``).
        """
        schema = self.config_jsonschema
        self.append_builtin_config(schema)  # type: ignore[attr-defined]
        errors = schema_errors(self._config, schema)
        self.check_config_keys(errors, raise_errors=raise_errors)
        if not errors:
            set_metrics_level(self._config.get(METRICS_LOG_LEVEL_SETTING))
        elif not raise_errors:
            for error in errors:
                self.logger.warning("Config: %s", error)
        return raise_if_invalid(errors, schema, raise_errors=raise_errors)
