"""Checks of single config values; each error names the key at fault (``where``)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from plugin_kit.config_checks import invalid_choice, unknown_keys_error
from plugin_kit.errors import ConfigError
from tap_generic_api.config.settings import (
    NESTED_KEYS,
)
from tap_generic_api.templating import is_number


def require_mapping(block: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    """Return ``block[key]`` (``{}`` when absent or empty).

    Raises:
        ConfigError: It is not an object; names ``<where>.<key>``.
    """
    value = block.get(key) or {}
    if not isinstance(value, Mapping):
        msg = f"{where}.{key} must be an object, got {type(value).__name__}."
        raise ConfigError(msg)
    if key in NESTED_KEYS:
        unknown = sorted(set(value) - NESTED_KEYS[key])
        if unknown:
            msg_0 = f"{where}.{key}"
            raise unknown_keys_error(msg_0, unknown, NESTED_KEYS[key])
    return value


def headers_of(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Return the ``headers`` block; a name or value an HTTP header cannot carry is a ConfigError.

    HTTP/1.1 headers are Latin-1 at most (RFC 9110 section 5.5); http.client would fail
    inside the first request. The value is not quoted: it may be a credential.
    """
    headers = dict(require_mapping(block, "headers", where))
    for name, value in headers.items():
        try:
            str(name).encode("ascii")
            str(value).encode("latin-1")
        except UnicodeEncodeError:
            msg = (
                f"{where}.headers.{name} holds characters an HTTP header cannot carry (names: ASCII; values: "
                "Latin-1); look for a stray character such as a typographic quote."
            )
            raise ConfigError(msg) from None
        if any(c in str(name) + str(value) for c in "\r\n\0"):
            # requests would refuse it inside the first request, quoting the value whole.
            msg = f"{where}.headers.{name} holds a line break or NUL character, which no HTTP header can carry."
            raise ConfigError(msg)
    return headers


def string_list(value: Any, where: str, what: str) -> list[str]:
    """Return ``value`` as a list of strings (missing or empty: ``[]``); else a ConfigError naming ``where``."""
    value = value or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        msg = f"{where} must be a list of {what}, got {value!r}."
        raise ConfigError(msg)
    return value


def positive_int(value: Any, where: str) -> int:
    """Return ``value``.

    Raises:
        ConfigError: It is not an integer above 0; names ``where``.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        msg = f"{where} must be a positive integer, got {value!r}."
        raise ConfigError(msg)
    return value


def choice(value: Any, choices: tuple[str, ...], where: str) -> str:
    """Return ``value``.

    Raises:
        ConfigError: It is not one of ``choices``; names ``where``, the closest choice
            (``difflib``) when one is close, and lists them.
    """
    if value not in choices:
        msg = invalid_choice(where, value, choices)
        raise ConfigError(msg)
    return str(value)


def positive_number(value: Any, where: str) -> float:
    """Return ``value`` as a float.

    Raises:
        ConfigError: It is not a number above 0; names ``where``.
    """
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        msg = f"{where} must be a positive number, got {value!r}."
        raise ConfigError(msg)
    return float(value)


def iso_datetime(value: Any, where: str) -> str | int | float:
    """Check an ISO-8601 date or timestamp (or a number, for numeric keys); return it unchanged."""
    from datetime import datetime

    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if is_number(value):
        return float(value) if "." in value else int(value)
    if not isinstance(value, str):
        msg = f"{where} must be an ISO-8601 date or timestamp string, got {value!r}."
        raise ConfigError(msg)
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        msg = f"{where}: {value!r} is not an ISO-8601 date or timestamp (e.g. 2024-01-01T00:00:00Z)."
        raise ConfigError(msg) from None
    return value


def plain_numbers(value: Any) -> Any:
    """Return ``value`` with every :class:`~decimal.Decimal` inside it turned into a float.

    singer-sdk reads a config file with ``parse_float=Decimal``, so ``"timeout": 2.5`` arrives
    as ``Decimal('2.5')``; the settings here are plain numbers.
    """
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return {key: plain_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain_numbers(item) for item in value]
    return value


def boolean(block: Mapping[str, Any], key: str, where: str, *, default: bool) -> bool:
    """Return ``block[key]`` (``default`` when absent).

    Raises:
        ConfigError: It is not true or false; names ``<where>.<key>``.
    """
    value = block.get(key, default)
    if not isinstance(value, bool):
        msg = f"{where}.{key} must be true or false, got {value!r}."
        raise ConfigError(msg)
    return value
