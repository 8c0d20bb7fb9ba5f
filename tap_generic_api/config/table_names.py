"""A stream that sets both ``name`` and ``destination.table``, to different values, is warned about.

Targets name the table after the stream (the Singer ``stream`` of each message), so ``name`` wins
and ``destination.table`` is not used; the user meant one of the two, and should see which.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tap_generic_api.config.streams import stream_blocks


def table_name_warnings(config: Mapping[str, Any]) -> list[str]:
    """Return one warning per stream whose ``name`` and ``destination.table`` differ.

    Args:
        config: The whole tap config (already checked by ``parse_streams``).

    Returns:
        ``streams[1]: name 'users_v2' and destination.table 'users' differ; name wins: ...`` lines.
    """
    warnings = []
    for index, block in stream_blocks(config):
        destination = block.get("destination")
        table = destination.get("table") if isinstance(destination, Mapping) else None
        name = block.get("name")
        if name and table and name != table:
            where = f"streams[{index}]" if index is not None else "config"
            warnings.append(
                f"{where}: name '{name}' and destination.table '{table}' differ; name wins: the stream is "
                f"'{name}' and the table written is '{name}' (targets name the table after the stream). "
                "Set one of them, or both to the same value."
            )
    return warnings
