"""A config checked against the plugin's JSON schema: one message per problem, secrets masked.

The SDK's own check logs the whole schema at DEBUG (about 10 KB), warns "Config validation
failed" before its caller prints the errors again, and words a misspelt choice as jsonschema
does (``'pages' is not one of [...]``) without a suggestion. This check uses the SDK's
validator (it also fills in the schema's defaults) and words a misspelt choice as the plugins'
own config parsers do, with the closest valid value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from jsonschema import ValidationError
from singer_sdk.plugin_base import JSONSchemaValidator

from plugin_kit.config_checks import invalid_choice, masked_schema_errors

#: Blocks whose values carry credentials whatever their names: a value there is never quoted.
_CREDENTIAL_BLOCKS = frozenset({"auth", "headers"})


def key_path(path: Iterable[Any]) -> str:
    """Return a jsonschema error path as the config parsers name keys.

    ``['pagination', 'type']`` -> ``config.pagination.type``; ``['streams', 0, 'method']`` ->
    ``streams[0].method``; ``[]`` -> ``config``.
    """
    parts = list(path)
    text = "" if parts[:1] == ["streams"] else "config"
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _message(error: ValidationError) -> str:
    """Word one schema error; a misspelt choice gets the closest valid value."""
    if error.validator == "enum" and isinstance(error.validator_value, list):
        value = "***" if _CREDENTIAL_BLOCKS & {str(p) for p in error.path} else error.instance
        return invalid_choice(key_path(error.path), value, error.validator_value)
    # The SDK's wording, which callers and the masking of credential values rely on.
    if error.path:
        return f"{error.message} in config[{']['.join(repr(index) for index in error.path)}]"
    return error.message


def schema_errors(config: Mapping[str, Any], schema: dict) -> list[str]:
    """Return every problem of ``config`` against ``schema``, secrets masked; fills in defaults.

    Args:
        config: The config as read (the validator adds the schema's defaults to it, as the
            SDK's check does).
        schema: The plugin's config JSON schema, built-in settings included.

    Returns:
        One message per problem, in the validator's order; empty when the config is valid.
        A value not in an ``enum`` reads ``<key>: invalid value 'x' (did you mean 'y'?). Valid
        values: ...`` (:func:`plugin_kit.config_checks.invalid_choice`).
    """
    errors = [_message(error) for error in JSONSchemaValidator(schema).iter_errors(config)]
    return masked_schema_errors(errors, config)
