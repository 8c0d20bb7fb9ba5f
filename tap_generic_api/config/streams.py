"""Stream configs: the seed's step ``config`` block, merged with top-level defaults and checked.

A tap config is either one seed block (``url``, ``destination``, ``auth``, ``pagination``, ...)
or a ``streams`` list of such blocks, where top-level keys are defaults for every stream
(mappings such as ``params`` and ``headers`` are merged key by key). Everything is checked
here, before any request, and every error names the stream and the key.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from typing import Any

from plugin_kit.config_checks import check_known_keys
from plugin_kit.errors import ConfigError
from tap_generic_api.config.blocks import parse_auth, parse_pagination, parse_rate_limit
from tap_generic_api.config.checks import (
    boolean,
    choice,
    headers_of,
    iso_datetime,
    plain_numbers,
    positive_int,
    positive_number,
    require_mapping,
    string_list,
)
from tap_generic_api.config.children import check_parents, parse_child_keys
from tap_generic_api.config.formats import parse_job, parse_response_format
from tap_generic_api.config.models import (
    DEFAULT_TIMEOUT_SECONDS,
    NOT_SUPPORTED_YET,
    StreamConfig,
)
from tap_generic_api.config.settings import (
    METHODS,
    STREAM_KEYS,
)
from tap_generic_api.templating import is_number
from tap_generic_api.windows import MIN_WINDOW_DAYS


def deep_merge(defaults: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``defaults`` updated with ``override``; nested mappings merge key by key."""
    merged = copy.deepcopy(dict(defaults))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def stream_blocks(config: Mapping[str, Any]) -> list[tuple[int | None, dict[str, Any]]]:
    """Split a tap config into per-stream blocks with top-level defaults applied.

    Args:
        config: The whole tap config.

    Returns:
        ``[(index, block)]``; index is None when the config is a single top-level block.

    Raises:
        ConfigError: ``streams`` is not a non-empty list of objects.
    """
    defaults = {k: v for k, v in config.items() if k in STREAM_KEYS}
    streams = config.get("streams")
    if streams is None:
        return [(None, defaults)]
    if not isinstance(streams, list) or not streams:
        msg = "Config key 'streams' must be a non-empty list of stream objects."
        raise ConfigError(msg)
    blocks = []
    for index, block in enumerate(streams):
        if not isinstance(block, Mapping):
            msg = f"streams[{index}] must be an object, got {type(block).__name__}."
            raise ConfigError(msg)
        check_known_keys(block, STREAM_KEYS, where=f"streams[{index}]")
        blocks.append((index, deep_merge(defaults, block)))
    return blocks


def parse_stream(index: int | None, block: Mapping[str, Any]) -> StreamConfig:
    """Check one merged stream block and build its :class:`StreamConfig`.

    Args:
        index: Position in ``streams``, or None for a single top-level block.
        block: The merged block.

    Returns:
        The stream's config.

    Raises:
        ConfigError: A key is missing, has the wrong type or an invalid value, or asks for
            behaviour that is not supported yet.
    """
    where = f"streams[{index}]" if index is not None else "config"
    for key, what in NOT_SUPPORTED_YET.items():
        if block.get(key):
            msg = f"{where}.{key}: {what} are not supported yet. Remove '{key}' from the config to run without it."
            raise ConfigError(msg)

    url = block.get("url")
    if not isinstance(url, str) or not url.strip():
        msg = f"{where}.url is required: the API endpoint, for example 'https://api.example.com/v1/items'."
        raise ConfigError(msg)
    destination = require_mapping(block, "destination", where)
    table = destination.get("table")
    name = block.get("name") or table
    if not isinstance(name, str) or not name.strip():
        msg = f"{where}.destination.table is required: the stream and table name."
        raise ConfigError(msg)

    key_fields = string_list(destination.get("key_fields"), f"{where}.destination.key_fields", "field names")
    batch_size = destination.get("batch_size")
    if batch_size is not None:
        batch_size = positive_int(batch_size, f"{where}.destination.batch_size")

    method = str(block.get("method") or "GET").upper()
    choice(method, METHODS, f"{where}.method")
    data_path = block.get("data_path") or ""
    if not isinstance(data_path, str):
        msg = f"{where}.data_path must be a dotted path string ('' for the root), got {data_path!r}."
        raise ConfigError(msg)
    timeout = block.get("timeout", DEFAULT_TIMEOUT_SECONDS)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        msg = f"{where}.timeout must be a positive number of seconds, got {timeout!r}."
        raise ConfigError(msg)

    body = block.get("body")
    if body is not None and method != "POST":
        msg = f"{where}.body is only sent with method POST (method is {method})."
        raise ConfigError(msg)
    pagination = parse_pagination(require_mapping(block, "pagination", where), where)
    if pagination.location == "body" and method != "POST":
        msg = f"{where}.pagination.location 'body' needs method POST."
        raise ConfigError(msg)
    allowed_hosts = string_list(block.get("allowed_hosts"), f"{where}.allowed_hosts", "host names")
    replication_key = block.get("replication_key")
    if replication_key is not None and (not isinstance(replication_key, str) or not replication_key):
        msg = f"{where}.replication_key must be a record field name, got {replication_key!r}."
        raise ConfigError(msg)
    start_date = block.get("start_date")
    if start_date is not None:
        start_date = iso_datetime(start_date, f"{where}.start_date")
    end_date = block.get("end_date")
    if end_date is not None:
        end_date = iso_datetime(end_date, f"{where}.end_date")
    date_window_size = block.get("date_window_size")
    if isinstance(date_window_size, str) and is_number(date_window_size):
        date_window_size = float(date_window_size)
    if date_window_size is not None:
        date_window_size = positive_number(date_window_size, f"{where}.date_window_size")
        if date_window_size < MIN_WINDOW_DAYS:
            msg = (
                f"{where}.date_window_size is in days and must be at least one second "
                f"({MIN_WINDOW_DAYS:.8f}), got {date_window_size:g}."
            )
            raise ConfigError(msg)
        if start_date is None:
            msg = (
                f"{where}.date_window_size needs {where}.start_date: the windows run from the bookmark "
                "(else start_date) to the run's start."
            )
            raise ConfigError(msg)
    schema = block.get("schema")
    if schema is not None and (not isinstance(schema, Mapping) or not isinstance(schema.get("properties"), Mapping)):
        msg = f"{where}.schema must be a JSON schema object with 'properties'."
        raise ConfigError(msg)
    is_sorted = boolean(block, "is_sorted", where, default=False)
    if is_sorted and not replication_key:
        msg = f"{where}.is_sorted needs a replication_key."
        raise ConfigError(msg)
    infer_schema = boolean(block, "infer_schema", where, default=False)
    if schema is not None and infer_schema:
        msg = f"{where}: set either 'schema' or 'infer_schema', not both."
        raise ConfigError(msg)

    response_format, csv_delimiter = parse_response_format(block, where)
    return StreamConfig(
        name=name,
        index=index,
        url=url.strip(),
        method=method,
        data_path=data_path,
        timeout=float(timeout),
        params=dict(require_mapping(block, "params", where)),
        headers=headers_of(block, where),
        auth=parse_auth(require_mapping(block, "auth", where), where),
        pagination=pagination,
        key_fields=tuple(key_fields),
        batch_size=batch_size,
        body=body,
        rate_limit=parse_rate_limit(require_mapping(block, "rate_limit", where), where),
        allowed_hosts=tuple(h.lower() for h in allowed_hosts),
        replication_key=replication_key,
        start_date=start_date,
        end_date=end_date,
        date_window_size=date_window_size,
        is_sorted=is_sorted,
        schema=dict(schema) if schema is not None else None,
        infer_schema=infer_schema,
        **dataclasses.asdict(parse_child_keys(block, where)),
        response_format=response_format,
        csv_delimiter=csv_delimiter,
        job=parse_job(block, where),
    )


def parse_streams(config: Mapping[str, Any]) -> list[StreamConfig]:
    """Check a whole tap config and return one :class:`StreamConfig` per stream.

    Args:
        config: The tap config.

    Returns:
        Stream configs in config order.

    Raises:
        ConfigError: Any stream block is invalid, or two streams share a name.
    """
    streams = [parse_stream(index, block) for index, block in stream_blocks(plain_numbers(config))]
    seen: dict[str, str] = {}
    for stream in streams:
        if stream.name in seen:
            msg = (
                f"{stream.where}: stream name '{stream.name}' is already used by "
                f"{seen[stream.name]}; set a distinct 'name' or destination.table."
            )
            raise ConfigError(msg)
        seen[stream.name] = stream.where
    check_parents(streams)
    return streams
