"""The fast RECORD writer: a page of records encoded at once, when the SDK would write them unchanged."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from plugin_kit import fastjson
from tap_generic_api.output import BufferedSingerWriter


def records_go_out_unchanged(stream: Any) -> bool:
    """Return True when the SDK would write ``stream``'s records unchanged.

    That is: one plain stream map that does not flatten (``flattening_enabled``), no
    ACTIVATE_VERSION, and no field deselected in the catalog, at any depth.

    Args:
        stream: A singer-sdk stream (its ``stream_maps``, ``config``, ``mask``, ``name``).
    """
    maps = stream.stream_maps
    if len(maps) != 1 or maps[0].stream_alias != stream.name or type(maps[0]).__name__ != "SameRecordTransform":
        return False
    if stream.config.get("flattening_enabled"):
        return False  # the plain map flattens records to match the flattened SCHEMA
    if getattr(stream, "_stream_version", None) is not None:
        return False  # ACTIVATE_VERSION runs carry a version in each RECORD
    return all(selected for breadcrumb, selected in stream.mask.items() if breadcrumb)


class FastRecordOutput:
    """Writes a stream's RECORD messages through the tap's :class:`BufferedSingerWriter`, a page at a time.

    The same bytes as the SDK's messages: ``{"type":"RECORD","stream":...,"record":...,"time_extracted":...}``
    per line, ``time_extracted`` to the second.

    Args:
        stream: The singer-sdk stream (its tap's message writer and state manager).
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._enabled: bool | None = None
        self._prefix = b""
        self._suffix = b""
        self._suffix_second = -1

    def enabled(self) -> bool:
        """Return True when records go out unchanged through the buffered writer (decided once)."""
        if self._enabled is None:
            writer = self._stream._tap.message_writer  # noqa: SLF001 - the SDK keeps the writer on the tap only
            self._enabled = isinstance(writer, BufferedSingerWriter) and records_go_out_unchanged(self._stream)
            self._prefix = b'{"type":"RECORD","stream":' + fastjson.dumps(self._stream.name) + b',"record":'
        return self._enabled

    def write_page(self, records: list[dict]) -> None:
        """Write one RECORD message per record, the whole page encoded at once."""
        now = int(time.time())
        if now != self._suffix_second:
            self._suffix_second = now
            extracted = datetime.fromtimestamp(now, UTC).isoformat()
            self._suffix = b',"time_extracted":"' + extracted.encode() + b'"}\n'
        self._stream._tap.message_writer.write_records(self._prefix, records, self._suffix)  # noqa: SLF001
        self._stream.state_manager.is_flushed = False
