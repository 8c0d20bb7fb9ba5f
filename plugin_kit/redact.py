"""Removing secrets from URLs and text before they reach logs or error messages."""

from __future__ import annotations

import base64
import functools
import html
import json
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from urllib.parse import parse_qsl, quote, quote_plus, unquote, unquote_plus, urlencode, urlsplit, urlunsplit

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
#: Request headers that describe the request and never carry a credential (RFC 9110). Every
#: other configured header value is masked: an API-specific credential header need not be named
#: like one (``X-Customer``), and APIs echo request headers in their error bodies.
PLAIN_HEADERS = frozenset(
    {
        "accept",
        "accept-charset",
        "accept-encoding",
        "accept-language",
        "cache-control",
        "content-type",
        "user-agent",
        "x-requested-with",
    }
)


def url_secrets(url: str) -> list[str]:
    """Return the credentials written into a URL, in every form an API could echo them.

    The password of a ``user:password@`` part (the user name when there is no password: a
    token sent as the user), and ``user:password`` itself, whose base64 is the ``Authorization:
    Basic`` token requests sends for it (RFC 7617); and the values of query parameters whose names
    look secret (:data:`SENSITIVE_PARAMS`, :data:`SECRET_NAME`). Each as written and
    percent-decoded. A URL too malformed to split yields what can be found.
    """
    found: list[str] = []
    try:
        parts = urlsplit(url)
    except ValueError:
        return found
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    if userinfo:
        user, _, password = userinfo.partition(":")
        found += [password or user, userinfo]
        found += [unquote(password or user), f"{unquote(user)}:{unquote(password)}" if password else ""]
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name.lower() in SENSITIVE_PARAMS or SECRET_NAME.search(name):
            found.append(value)
    return [s for s in dict.fromkeys(found) if s]


def secret_values(config: object) -> list[str]:
    """Return every string held under a secret key (:data:`SECRET_CONFIG_KEYS`) of a config.

    Also the values of ``params`` and ``variables`` entries whose names look secret
    (``X-API-Key``, ``token``), and of every ``headers`` entry but the descriptive ones
    (:data:`PLAIN_HEADERS`): a key written there instead of in ``secrets`` is masked too; and
    credentials written into a ``url`` (:func:`url_secrets`). Searches at any depth,
    including nested ``streams`` blocks.
    """
    found: list[str] = []
    if isinstance(config, Mapping):
        for key, value in config.items():
            if key == "url" and isinstance(value, str):
                found.extend(url_secrets(value))
            elif key in SECRET_CONFIG_KEYS:
                found.extend(strings_in(value))
            elif key in NAMED_VALUE_BLOCKS and isinstance(value, Mapping):
                for name, item in value.items():
                    if not isinstance(name, str):
                        continue
                    if SECRET_NAME.search(name) or (key == "headers" and name.lower() not in PLAIN_HEADERS):
                        found.extend(strings_in(item))
            else:
                found.extend(secret_values(value))
    elif isinstance(config, list):
        for value in config:
            found.extend(secret_values(value))
    return found


#: What replaces a text that still holds a secret in an encoded form no variant covers.
WITHHELD = "[withheld: it holds a secret in an encoded form]"


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each secret in ``text`` with ``***``, longest first.

    Each secret is also masked in the forms APIs echo it in (:func:`_variants`). Longest
    first, so a secret that contains a shorter one is masked whole. A secret shorter than
    :data:`SHORT_SECRET_CHARS` is masked where it stands as a whole token. A text that, decoded
    (HTML entities, JSON escapes, percent-encoding, UTF-8 read as Latin-1), still shows a
    secret is replaced whole by :data:`WITHHELD`: the encodings are too many to list.
    """
    secrets = [s for s in secrets if s]
    known = [s for s in secrets if len(s) >= SHORT_SECRET_CHARS]
    variants = {v for s in known for v in _variants(s)}
    for secret in sorted(variants, key=len, reverse=True):
        text = text.replace(secret, MASK)
    short = frozenset(s for s in secrets if len(s) < SHORT_SECRET_CHARS)
    if short:
        text = _short_secret_tokens(short).sub(MASK, text)
    if known and any(secret in view for view in _decoded_views(text) for secret in known):
        return WITHHELD
    return text


#: Secrets shorter than this are masked only where they stand as a whole token (see below).
SHORT_SECRET_CHARS = 4
#: Characters of a credential token (RFC 9110 section 11.2, token68, without the trailing ``=``).
_CREDENTIAL_CHAR = r"[A-Za-z0-9\-._~+/]"


@functools.lru_cache(maxsize=64)
def _short_secret_tokens(secrets: frozenset[str]) -> re.Pattern[str]:
    """Return a pattern matching any of ``secrets`` as a whole token.

    A secret of one to three characters occurs inside ordinary words and numbers; masking every
    occurrence would garble each message. As a whole token (``Bearer ab1``, ``key=ab1&``,
    ``"ab1"``) it is masked: neither preceded nor followed by a token68 character.
    """
    choices = "|".join(re.escape(s) for s in sorted(secrets, key=len, reverse=True))
    return re.compile(f"(?<!{_CREDENTIAL_CHAR})(?:{choices})(?!{_CREDENTIAL_CHAR})")


_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def _decoded_views(text: str) -> Iterator[str]:
    """Yield ``text`` decoded each way an echoed secret may be encoded (only those it may hold)."""
    if "&" in text:
        yield html.unescape(text)
    if "%" in text:
        yield unquote(text)
        yield unquote_plus(text)
    if "\\" in text:
        yield _JSON_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text).replace("\\/", "/")
    if not text.isascii():
        yield text.encode("latin-1", errors="ignore").decode("utf-8", errors="ignore")


@functools.lru_cache(maxsize=256)
def _variants(secret: str) -> frozenset[str]:
    r"""Return the forms a secret is echoed in.

    As written; percent-encoded (a query value, ``encodeURIComponent``, a URL path as requests
    sends it); with ``/`` escaped as ``\/`` (JSON from PHP and others); as a JSON string's
    content, with non-ASCII as ``\uXXXX`` (Python, PHP) or with ``&``, ``<``, ``>`` as
    ``\u0026``... (Go) or more (.NET); HTML-escaped (an error page); its UTF-8 bytes read as
    Latin-1 (a reason phrase, a ``text/*`` body without a charset); and base64, standard and
    URL-safe, with and without padding (a header an API echoes back).
    """
    encoded = base64.b64encode(secret.encode()).decode()
    url_safe = base64.urlsafe_b64encode(secret.encode()).decode()
    in_json = json.dumps(secret, ensure_ascii=False)[1:-1]
    ascii_json = json.dumps(secret)[1:-1]
    dotnet = "".join(
        f"\\u{ord(c):04X}" if c in "&<>'+\"" or not c.isascii() else ("\\\\" if c == "\\" else c) for c in secret
    )
    in_html = html.escape(secret)
    return frozenset(
        {
            secret,
            quote(secret, safe=""),
            quote(secret),
            quote(secret, safe="-_.!~*'()"),
            quote(secret, safe="!#$%&'()*+,/:;=?@[]~"),
            quote_plus(secret, safe=""),
            secret.replace("/", "\\/"),
            in_json,
            ascii_json,
            ascii_json.replace("/", "\\/"),
            in_json.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e"),
            dotnet,
            in_html,
            in_html.replace("&#x27;", "&#39;"),
            html.escape(secret, quote=False),
            secret.encode().decode("latin-1"),
            encoded,
            encoded.rstrip("="),
            url_safe,
            url_safe.rstrip("="),
        }
    )


def known_secrets() -> frozenset[str]:
    """Return the secrets :func:`install_log_redaction` masks in this process (empty before)."""
    return frozenset(getattr(logging.getLogRecordFactory(), "_redaction_secrets", ()))


def install_log_redaction(secrets: Iterable[str]) -> None:
    """Mask ``secrets`` in every log record created from now on, by any logger at any level.

    A log record factory rather than a handler filter, because libraries log through their
    own loggers and handlers (urllib3 logs each request line, query-auth key included, at
    DEBUG). Calling it again adds more secrets.

    Args:
        secrets: Secret strings (shorter than 4 characters are masked as whole tokens only).
    """
    new = {s for s in secrets if s}
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
