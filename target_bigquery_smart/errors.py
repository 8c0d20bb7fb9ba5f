"""The target's errors, grouped by what the caller should do, and error text that stays readable.

Config errors stop the run before any input is read; the rest of the groups follow in this
module. Text helpers keep long values cut and BigQuery's reason before the request it answers.
"""

from __future__ import annotations

from google.api_core.exceptions import GoogleAPICallError

from plugin_kit.errors import ConfigError

#: Characters of one quoted reason or value kept in an error message.
REASON_LIMIT = 300
#: Characters of a request URL kept after BigQuery's reason.
URL_LIMIT = 120


def cut(text: str, limit: int = REASON_LIMIT) -> str:
    """Return ``text`` if it has at most ``limit`` characters, else its start and how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"


def api_error_text(exc: BaseException, limit: int = REASON_LIMIT) -> str:
    """Describe a BigQuery API error with BigQuery's reason first, the request after it, cut.

    The client's text is ``<status> <METHOD> <URL>: <message>`` (google-api-core's
    ``from_http_response``); with a long table name the URL alone fills any excerpt, so the
    reason is moved before it and the URL cut to :data:`URL_LIMIT` characters.

    Args:
        exc: Any exception; only ``GoogleAPICallError`` is rearranged.
        limit: Characters kept of BigQuery's message.

    Returns:
        ``<status> <message> [reasons] (request: <METHOD> <URL, cut>)`` for an API error, else the
        exception's first line, cut.
    """
    if not isinstance(exc, GoogleAPICallError):
        return cut((str(exc).splitlines() or [type(exc).__name__])[0], limit)
    message = str(exc.message or "")
    request = ""
    method, space, rest = message.partition(" ")
    if space and method.isupper() and "://" in rest.split(": ", 1)[0]:
        request, _, message = rest.partition(": ")
        request = f"{method} {cut(request, URL_LIMIT)}"
    reasons = sorted({str(e.get("reason")) for e in exc.errors or [] if isinstance(e, dict) and e.get("reason")})
    text = f"{exc.code} {cut(message.strip(), limit)}"
    if reasons:
        text += f" [{', '.join(reasons)}]"
    return f"{text} (request: {request})" if request else text


class TargetConfigError(ConfigError):
    """A target setting is invalid; the message names the key. Fix the config and run again."""
