"""Config checks both plugins make: unknown keys with a suggestion, validation with secrets masked."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from singer_sdk.exceptions import ConfigValidationError

from plugin_kit.errors import ConfigError
from plugin_kit.redact import redact_text, secret_values


def unknown_keys_error(
    where: str, unknown: Iterable[str], valid: Iterable[str], error: type[ConfigError] = ConfigError
) -> ConfigError:
    """Build the error for misspelt or unsupported keys, suggesting the closest valid key.

    Args:
        where: Names the block, e.g. ``"Target config"`` or ``"streams[0].auth"``.
        unknown: The keys not declared.
        valid: Every key the block declares.
        error: The ``ConfigError`` subclass to build.

    Returns:
        ``<where>: unknown key(s) 'a' (did you mean 'b'?), ... Valid keys: <sorted keys>.``; the
        suggestion is ``difflib``'s closest match, left out when none is close.
    """
    keys = sorted(valid)
    hints = []
    for key in unknown:
        close = difflib.get_close_matches(key, keys, n=1)
        hints.append(f"'{key}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
    msg = f"{where}: unknown key(s) {', '.join(hints)}. Valid keys: {', '.join(keys)}."
    return error(msg)


def invalid_choice(where: str, value: Any, choices: Iterable[Any]) -> str:
    """Return the message for a value that is not one of ``choices``, suggesting the closest.

    Args:
        where: The key at fault, e.g. ``config.pagination.type`` or ``streams[0].method``.
        value: The value given (already masked when it may be a credential).
        choices: The valid values, in the order to list them.

    Returns:
        ``<where>: invalid value 'pages' (did you mean 'page'?). Valid values: cursor, ....``; the
        suggestion is ``difflib``'s closest match, left out when none is close.
    """
    names = [str(c) for c in choices]
    close = difflib.get_close_matches(value, names, n=1) if isinstance(value, str) else []
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{where}: invalid value {value!r}{hint}. Valid values: {', '.join(names)}."


def check_known_keys(
    block: Mapping[str, Any], valid: Iterable[str], *, where: str, error: type[ConfigError] = ConfigError
) -> None:
    """Refuse keys of a config block that are not declared, before any input or request.

    A misspelt key (``flaten``) would otherwise be ignored and its default used silently.

    Raises:
        ConfigError: (or ``error``) Unknown keys; see :func:`unknown_keys_error` for the text.
    """
    keys = list(valid)
    unknown = sorted(str(key) for key in block if key not in keys)
    if unknown:
        raise unknown_keys_error(where, unknown, keys, error)


def masked_schema_errors(errors: Iterable[str], config: Mapping[str, Any]) -> list[str]:
    """Return JSON-schema validation messages with every secret of ``config`` masked.

    jsonschema quotes the offending value ("'abc' is not of type 'object'"): a secret in the
    wrong place, or a service-account key given as an object, would be printed.
    """
    secrets = secret_values(config)
    return [_mask_credential_value(redact_text(error, secrets)) for error in errors]


#: A jsonschema message as the SDK words it: ``<value> is not ... in config['a']['b']``.
_SCHEMA_ERROR = re.compile(r"^(?P<value>.+?) (?P<rule>(is|does) not .*) in (?P<path>config(\[[^\]]*\])+)$", re.S)
#: Blocks whose values carry credentials whatever their names (a token pasted as ``auth``,
#: headers written as ``["Authorization: Bearer ..."]``).
_CREDENTIAL_PATH = re.compile(r"\['(auth|headers)'\]")


def _mask_credential_value(error: str) -> str:
    """Replace the quoted value of a schema error under a credential-carrying key with ``***``."""
    match = _SCHEMA_ERROR.match(error)
    if match is None or not _CREDENTIAL_PATH.search(match["path"]):
        return error
    return f"*** {match['rule']} in {match['path']}"


def raise_if_invalid(errors: list[str], schema: dict, *, raise_errors: bool) -> list[str]:
    """Raise the SDK's ``ConfigValidationError`` for ``errors`` when asked to; else return them.

    Raises:
        ConfigValidationError: ``errors`` is not empty and ``raise_errors`` is true.
    """
    if errors and raise_errors:
        msg = "Config validation failed"
        raise ConfigValidationError(msg, errors=errors, schema=schema)
    return errors
