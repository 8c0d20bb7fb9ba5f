"""Settings read from environment variables (``--config ENV``), each variable checked on its own.

singer-sdk parses every ``<PLUGIN>_<SETTING>`` variable in one call; a malformed one (JSON that
does not parse, a number that is not one) ends in a traceback that names neither the variable
nor the setting. Parsing one setting at a time with the SDK's own parser lets the error name
the variable; the value is never quoted (it may be a secret).
"""

from __future__ import annotations

import os
from typing import Any

from singer_sdk.configuration._dict_config import parse_environment_config

from plugin_kit.errors import ConfigError


def env_config(schema: dict, prefix: str) -> dict[str, Any]:
    """Return the settings given as environment variables ``<prefix><SETTING>``.

    Args:
        schema: The plugin's config JSON schema, built-in settings included.
        prefix: The variables' prefix, e.g. ``TAP_GENERIC_API_``.

    Returns:
        ``{setting: value}`` parsed as the SDK does (integers, booleans, JSON for arrays and
        objects); a ``.env`` file found by the SDK is read first, as it does.

    Raises:
        ConfigError: A variable cannot be parsed for its setting's type: names the variable,
            the setting and the expected type, never the value.
    """
    parse_environment_config({"properties": {}}, prefix)  # reads the .env file into the environment
    result: dict[str, Any] = {}
    for key, setting in (schema.get("properties") or {}).items():
        variable = prefix + key.upper().replace("-", "_")
        if variable not in os.environ:
            continue
        try:
            result.update(parse_environment_config({"properties": {key: setting}}, prefix, dotenv_path=os.devnull))
        except ValueError as exc:  # int() and the JSON decoder raise ValueError subclasses
            types = setting.get("type")
            expected = "an integer" if "integer" in (types if isinstance(types, list) else [types]) else "JSON"
            where = f" ({exc.msg} at character {exc.pos})" if hasattr(exc, "pos") and hasattr(exc, "msg") else ""
            msg = (
                f"environment variable {variable} (setting '{key}') must hold {expected}{where}; "
                "its value is not shown."
            )
            raise ConfigError(msg) from None
    return result
