"""Parsing ``response_format``, ``csv_delimiter`` and the ``job`` block of a stream."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from plugin_kit.errors import ConfigError
from tap_generic_api.config.checks import choice, positive_number, require_mapping, string_list
from tap_generic_api.config.settings import RESPONSE_FORMATS, default

DEFAULT_CSV_DELIMITER: str = default("csv_delimiter")
DEFAULT_POLL_INTERVAL: float = default("job", "poll_interval")
DEFAULT_JOB_TIMEOUT: float = default("job", "timeout")


@dataclass(frozen=True)
class JobConfig:
    """The ``job`` block: the stream's request creates a report job, polled until it is done.

    Attributes:
        id_path: Dotted path to the job id in the creation answer (with ``poll_url``).
        status_url_path: Dotted path to the status URL in the creation answer (instead).
        status_url_header: Header of the creation answer holding the status URL (instead), such as
            ``Location`` of a 202 Accepted (RFC 9110 section 15.3.3: a status monitor).
        poll_url: Status URL template (``{job_id}`` and the stream's variables).
        poll_interval: Seconds between status requests.
        timeout: Seconds from creation until the job must be done.
        status_path: Dotted path to the status in a status answer.
        done: Status values meaning done.
        failed: Status values meaning failed.
        result_path: Dotted path to the result URL (or list of URLs) in the answer that says done.
    """

    status_path: str
    done: tuple[str, ...]
    failed: tuple[str, ...]
    result_path: str
    id_path: str | None = None
    status_url_path: str | None = None
    status_url_header: str | None = None
    poll_url: str | None = None
    poll_interval: float = DEFAULT_POLL_INTERVAL
    timeout: float = DEFAULT_JOB_TIMEOUT


def parse_response_format(block: Mapping[str, Any], where: str) -> tuple[str | None, str]:
    """Return ``(response_format or None, csv_delimiter)``.

    Raises:
        ConfigError: An unknown format; a delimiter that is not one character (or a quote or line
            break); ``csv_delimiter`` or ``data_path`` where the configured format does not use them.
    """
    fmt = block.get("response_format")
    if fmt is not None:
        fmt = choice(fmt, RESPONSE_FORMATS, f"{where}.response_format")
    delimiter = block.get("csv_delimiter", DEFAULT_CSV_DELIMITER)
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '"\r\n':
        msg = f"{where}.csv_delimiter must be one character other than a quote or line break, got {delimiter!r}."
        raise ConfigError(msg)
    if "csv_delimiter" in block and fmt not in (None, "csv"):
        msg = f"{where}.csv_delimiter is read only for csv bodies (response_format is {fmt!r}); remove it."
        raise ConfigError(msg)
    if block.get("data_path") and fmt in ("jsonl", "csv"):
        msg = (
            f"{where}.data_path applies to JSON bodies; with response_format {fmt!r} every line is a record. "
            "Remove data_path."
        )
        raise ConfigError(msg)
    pagination = block.get("pagination")
    if fmt in ("jsonl", "csv") and isinstance(pagination, Mapping):
        kind = pagination.get("type")
        if kind == "cursor" or (kind == "link" and pagination.get("response_path")):
            msg = (
                f"{where}.pagination: type {kind!r} with response_path reads its next token from a JSON body, "
                f"which a {fmt} body is not; use link (the Link header), offset or page."
            )
            raise ConfigError(msg)
    return fmt, delimiter


def parse_job(block: Mapping[str, Any], where: str) -> JobConfig | None:
    """Return the checked ``job`` block, or None without one.

    Raises:
        ConfigError: A key is missing or wrong; names ``<where>.job.<key>``.
    """
    raw = require_mapping(block, "job", where)
    if not raw:
        return None
    at = f"{where}.job"
    if block.get("parent"):
        # A child stream's requests run once per parent record through the child runner, which
        # does not create, poll and download jobs: the creation answer would be read as records.
        msg = (
            f"{at}: a child stream (parent '{block['parent']}') cannot run a report job; make the job its own "
            "stream, or give the child the URL of each parent's results."
        )
        raise ConfigError(msg)
    for key in ("date_window_size", "infer_schema"):
        if block.get(key):
            msg = (
                f"{where}.{key} does not apply to a report job, which makes one job per run; remove it "
                "(give the job's request {start_date} / {bookmark} to ask for what is new, and a schema)."
            )
            raise ConfigError(msg)
    pagination = block.get("pagination")
    if isinstance(pagination, Mapping) and pagination.get("type", "none") != "none":
        msg = (
            f"{where}.pagination: a report job's request creates one job and its results are downloaded whole; "
            "remove pagination (type none)."
        )
        raise ConfigError(msg)
    paths: dict[str, str] = {}
    for key in ("status_path", "result_path", "id_path", "status_url_path", "status_url_header", "poll_url"):
        value = raw.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            msg = f"{at}.{key} must be a non-empty string, got {value!r}."
            raise ConfigError(msg)
        if value is not None:
            paths[key] = value.strip()
    for key in ("status_path", "result_path"):
        if key not in paths:
            msg = f"{at}.{key} is required: the dotted path to the job's {key.split('_')[0]} in the status answer."
            raise ConfigError(msg)
    by_id = "id_path" in paths or "poll_url" in paths
    ways = by_id + ("status_url_path" in paths) + ("status_url_header" in paths)
    if ways != 1 or (by_id and not ("id_path" in paths and "poll_url" in paths)):
        msg = (
            f"{at}: set one of id_path and poll_url (the status URL built from the job id, as {{job_id}}), "
            "status_url_path (the status URL in the creation answer's JSON) or status_url_header (the header "
            "holding it, such as Location)."
        )
        raise ConfigError(msg)
    done = tuple(string_list(raw.get("done"), f"{at}.done", "status values"))
    failed = tuple(string_list(raw.get("failed"), f"{at}.failed", "status values"))
    if not done:
        msg = f"{at}.done is required: the status values that mean the job is done, e.g. ['done']."
        raise ConfigError(msg)
    both = sorted(set(done) & set(failed))
    if both:
        msg = f"{at}: {both} listed in both done and failed."
        raise ConfigError(msg)
    interval = raw.get("poll_interval", DEFAULT_POLL_INTERVAL)
    if isinstance(interval, bool) or not isinstance(interval, int | float) or interval < 0:
        msg = f"{at}.poll_interval must be a number of seconds, 0 or more, got {interval!r}."
        raise ConfigError(msg)
    return JobConfig(
        status_path=paths["status_path"],
        done=done,
        failed=failed,
        result_path=paths["result_path"],
        id_path=paths.get("id_path"),
        status_url_path=paths.get("status_url_path"),
        status_url_header=paths.get("status_url_header"),
        poll_url=paths.get("poll_url"),
        poll_interval=float(interval),
        timeout=positive_number(raw.get("timeout", DEFAULT_JOB_TIMEOUT), f"{at}.timeout"),
    )
