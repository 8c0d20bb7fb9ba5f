"""Removing secrets from URLs and text before they reach logs or error messages."""

from __future__ import annotations

import base64
import functools
import html
import json
import logging
import re
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

#: Query parameters whose values are secrets whatever the config says.
SENSITIVE_PARAMS = frozenset(
    {
        "api_key",
        "apikey",
        "key",
        "token",
        "access_token",
        "refresh_token",
        "client_secret",
        "password",
        "secret",
        "signature",
        "_auth_token",
        "auth",
    }
)
MASK = "***"


def redact_url(url: str | None, extra_params: Iterable[str] = ()) -> str:
    """Return ``url`` with secret query values and any user:password replaced by ``***``.

    Args:
        url: The URL (may be None).
        extra_params: More parameter names to mask (for example ``auth.param_name``).

    Returns:
        The redacted URL.
    """
    if not url:
        return ""
    sensitive = SENSITIVE_PARAMS | {p.lower() for p in extra_params}
    scheme, netloc, path, query, fragment = urlsplit(url)
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rsplit('@', 1)[1]}"
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(name.lower() in sensitive for name, _ in pairs):
            query = urlencode([(n, MASK if n.lower() in sensitive else v) for n, v in pairs], safe="*")
    return urlunsplit((scheme, netloc, path, query, fragment))


#: Config keys whose values are secrets, wherever they appear.
SECRET_CONFIG_KEYS = frozenset({"secrets", "client_secret", "refresh_token", "credentials_json"})


def strings_in(value: object) -> list[str]:
    """Return every string inside a JSON value (nested objects and lists included)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in strings_in(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return []


#: Blocks whose entries are secrets when their names look like one (:data:`SECRET_NAME`).
NAMED_VALUE_BLOCKS = frozenset({"headers", "params", "variables"})
#: A header, parameter or variable name that holds a secret (``X-API-Key``, ``api_token``).
SECRET_NAME = re.compile(r"auth|key|token|secret|passw|signature|cookie|session|credential", re.IGNORECASE)


def secret_values(config: object) -> list[str]:
    """Return every string held under a secret key (:data:`SECRET_CONFIG_KEYS`) of a config.

    Also the values of ``headers``, ``params`` and ``variables`` entries whose names look
    secret (``X-API-Key``, ``token``): a key written there instead of in ``secrets`` is masked
    too. Searches at any depth, including nested ``streams`` blocks.
    """
    found: list[str] = []
    if isinstance(config, Mapping):
        for key, value in config.items():
            if key in SECRET_CONFIG_KEYS:
                found.extend(strings_in(value))
            elif key in NAMED_VALUE_BLOCKS and isinstance(value, Mapping):
                for name, item in value.items():
                    if isinstance(name, str) and SECRET_NAME.search(name):
                        found.extend(strings_in(item))
            else:
                found.extend(secret_values(value))
    elif isinstance(config, list):
        for value in config:
            found.extend(secret_values(value))
    return found


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each secret in ``text`` with ``***``, longest first.

    Each secret is also masked as it appears percent-encoded in a URL. Longest first, so a
    secret that contains a shorter one is masked whole.
    """
    variants = {v for s in secrets if s and len(s) >= 4 for v in _variants(s)}
    for secret in sorted(variants, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


@functools.lru_cache(maxsize=256)
def _variants(secret: str) -> frozenset[str]:
    r"""Return the forms a secret is echoed in.

    As written; percent-encoded (a URL); with ``/`` escaped as ``\/`` (JSON from PHP and
    others); as a JSON string's content, with non-ASCII as ``\uXXXX`` (Python's default) or
    with ``&``, ``<``, ``>`` as ``\u0026``... (Go's default); HTML-escaped (an error page);
    and base64, standard and URL-safe, with and without padding (a header an API echoes back).
    """
    encoded = base64.b64encode(secret.encode()).decode()
    url_safe = base64.urlsafe_b64encode(secret.encode()).decode()
    in_json = json.dumps(secret, ensure_ascii=False)[1:-1]
    in_html = html.escape(secret)
    return frozenset(
        {
            secret,
            quote(secret, safe=""),
            quote_plus(secret, safe=""),
            secret.replace("/", "\\/"),
            in_json,
            json.dumps(secret)[1:-1],
            in_json.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e"),
            in_html,
            in_html.replace("&#x27;", "&#39;"),
            html.escape(secret, quote=False),
            encoded,
            encoded.rstrip("="),
            url_safe,
            url_safe.rstrip("="),
        }
    )


def install_log_redaction(secrets: Iterable[str]) -> None:
    """Mask ``secrets`` in every log record created from now on, by any logger at any level.

    A log record factory rather than a handler filter, because libraries log through their
    own loggers and handlers (urllib3 logs each request line, query-auth key included, at
    DEBUG). Calling it again adds more secrets.

    Args:
        secrets: Secret strings (shorter than 4 characters are ignored).
    """
    new = {s for s in secrets if s and len(s) >= 4}
    current = logging.getLogRecordFactory()
    base = getattr(current, "_redaction_base", current)
    known = getattr(current, "_redaction_secrets", set()) | new
    if not known:
        return

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = base(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is logging's problem, not ours
            return record
        masked = redact_text(message, known)
        if masked != message:
            record.msg, record.args = masked, None
        return record

    factory._redaction_base = base  # type: ignore[attr-defined]
    factory._redaction_secrets = known  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
