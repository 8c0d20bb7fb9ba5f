"""The target's errors, grouped by what the caller should do, and error text that stays readable.

Config errors stop the run before any input is read; the rest of the groups follow in this
module. Text helpers keep long values cut and BigQuery's reason before the request it answers.
"""

from __future__ import annotations

import re

from google.api_core.exceptions import GoogleAPICallError
from singer_sdk.exceptions import MissingKeyPropertiesError
from singer_sdk.singerlib.exceptions import InvalidInputLine

from plugin_kit.errors import ConfigError
from target_bigquery_smart.batch import RowError

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


# What the caller should do decides the group: a config error (fix the config), an input error
# (fix what the tap sends), a load error (BigQuery did not store a batch: run again).


#: The key a config message names: ``Target config 'key'`` or ``Config key 'key'``.
_NAMED_KEY = re.compile(r"(?:[Cc]onfig|Config key) '([^']+)'")


class TargetConfigError(ConfigError):
    """A target setting is invalid; the message names the key. Fix the config and run again.

    Attributes:
        key: The config key at fault (dotted inside a block: ``add_fields.extracted_at``), by
            default the first one the message names; None when it names none.
    """

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        named = _NAMED_KEY.search(message)
        self.key = key or (named.group(1) if named else None)


class UnstorableValueError(ValueError):
    """A value cannot be stored in its column; ``str()`` is the reason. Its row is refused.

    Caught where a row is shaped: the row goes to the dead-letter table, or the run fails
    naming the stream, the record and this reason.
    """


class InputError(InvalidInputLine):
    """A message on stdin cannot be processed; the text names the line (and stream).

    Rows read before it are committed and their STATE written before the run stops.

    Attributes:
        stream: The stream the message belongs to, when known.
    """

    def __init__(self, message: str = "", *, stream: str | None = None) -> None:
        super().__init__(message)
        self.stream = stream


class MissingKeyError(MissingKeyPropertiesError):
    """A record lacks one of its stream's key properties (an input error).

    Attributes:
        stream: The record's stream.
        record_number: The record's position in its stream, from 1.
    """

    def __init__(self, message: str = "", *, stream: str | None = None, record_number: int | None = None) -> None:
        super().__init__(message)
        self.stream = stream
        self.record_number = record_number


class LoadError(RuntimeError):
    """BigQuery did not store a batch, or refused it; no STATE after its rows is written. Run again.

    Attributes:
        located: The message names the records itself; the reader must not prefix the input
            line being read (a batch is committed while the next is read).
        stream: The stream of the batch, when known.
        job_id: The load job or MERGE, when one ran.
    """

    located = False

    def __init__(
        self, message: str = "", *, stream: str | None = None, job_id: str | None = None, located: bool | None = None
    ) -> None:
        super().__init__(message)
        self.stream = stream
        self.job_id = job_id
        if located is not None:
            self.located = located


class BigQueryUnreachableError(LoadError):
    """The run's first BigQuery call kept failing; not about the input line being read."""

    located = True


class JobDeadlineError(LoadError):
    """A load job or MERGE did not finish within ``job_timeout_seconds``; ``job_id`` names it."""

    located = True


class RowTooLargeError(LoadError):
    """Rows of a batch are larger than BigQuery stores; nothing of the batch was sent.

    Attributes:
        rejected: The rows (index in the rows given) with a ``row_too_large`` reason.
    """

    def __init__(self, rejected: list[RowError]) -> None:
        self.rejected = rejected
        super().__init__("; ".join(f"row {e.index}: {', '.join(e.reasons)}" for e in rejected[:10]))


class RejectedRowsError(LoadError):
    """Rows were refused and no ``dead_letter_table`` is set; the message lists them."""


class SchemaMismatchError(RejectedRowsError):
    """A record does not match its SCHEMA (raised as it is read, before it is buffered)."""
