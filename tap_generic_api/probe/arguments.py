"""Checks on the probe's command line before any request: no credential in the URL or ``--param``.

A credential typed into the command line lands in shell history and the process list, and the
probe would copy it into the config (``url``, ``params``) and the evidence. It is refused with
the option that reads it from the environment instead. The names are the project's list of
secret query parameters (:data:`plugin_kit.redact.SENSITIVE_PARAMS`).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from plugin_kit.errors import ConfigError
from plugin_kit.redact import SENSITIVE_PARAMS

#: Parameters that say which page to read: the probe asks for pages itself, and a value given
#: here would go into the config's ``params`` and be sent with every page (the same page again).
POSITION_PARAMS = frozenset(
    {"page", "offset", "skip", "cursor", "starting_after", "page_token", "pageToken", "page_number", "pageNumber"}
)


def refuse_position(params: dict[str, str]) -> None:
    """Raise when a ``--param`` names a page position (``page``, ``offset``, ``cursor``, ...).

    Raises:
        ConfigError: Naming the parameter.
    """
    for name in params:
        if name in POSITION_PARAMS:
            msg = (
                f"--param {name} says which page to read: the probe finds and asks for pages itself, and the "
                f"config would send {name} with every page. Leave it out (the first page is read without it)."
            )
            raise ConfigError(msg)


def _looks_secret(name: str) -> bool:
    lower = name.lower()
    return lower in SENSITIVE_PARAMS or lower.replace("-", "_").endswith(("api_key", "_secret", "password"))


def refuse_credentials(url: str, params: dict[str, str]) -> None:
    """Raise when ``url`` holds ``user:password@`` or a query parameter, or ``params`` a name, that is a credential.

    The value is never part of the message.

    Raises:
        ConfigError: Naming the parameter and the ``--query-env`` / ``--basic-env`` option to use.
    """
    parts = urlsplit(url)
    if parts.password is not None or parts.username:
        msg = (
            "the URL holds a user name or password (user:password@host): it would be printed in the config and "
            "kept in shell history. Remove it and give it from the environment: export API_BASIC=user:password; "
            "--basic-env API_BASIC."
        )
        raise ConfigError(msg)
    given = [(name, "the URL's query parameter") for name, _ in parse_qsl(parts.query, keep_blank_values=True)]
    given += [(name, "--param") for name in params]
    for name, where in given:
        if _looks_secret(name):
            var = "".join(c if c.isalnum() else "_" for c in name.upper())
            msg = (
                f"{where} '{name}' looks like a credential: it would be printed in the config and the evidence, "
                f"and kept in shell history. Leave it out and give it from the environment: "
                f"export {var}=...; --query-env {name}={var}."
            )
            raise ConfigError(msg)
