"""Combine the tasks' states of a parent stream split by parents, and of its child streams.

Used by :mod:`tap_generic_api.partitions.combine`; the rules for users are in docs/PARTITIONS.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tap_generic_api.partitions.shares import share_of_parent
from tap_generic_api.templating import to_datetime


def _sort_key(value: Any) -> Any:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else to_datetime(value)


def parents_bookmark(entries: Mapping[int, dict]) -> dict[str, Any]:
    """Return a parent stream's combined bookmark: the least of the tasks' bookmarks.

    Every task read the whole parent stream, so each task's bookmark is how far it got; the
    least is reached by all, so the next run never starts past a task that failed. A task with
    no bookmark (nothing read, no bookmark in its input) leaves the stream with none.

    Args:
        entries: Each task's state of the stream, by task index.
    """
    values = [entry.get("replication_key_value") for entry in entries.values()]
    key = next((e.get("replication_key") for e in entries.values() if e.get("replication_key")), None)
    if key is None or any(value is None for value in values):
        return {}
    try:
        least = min(values, key=_sort_key)
    except (ValueError, TypeError, OverflowError, OSError):
        least = min(values, key=str)
    return {"replication_key": key, "replication_key_value": least}


def is_child_state(entry: Any) -> bool:
    """Return whether ``entry`` is a child stream's state: only per-parent partitions keyed ``parent.<path>``."""
    if not isinstance(entry, Mapping) or set(entry) - {"partitions"}:
        return False
    partitions = entry.get("partitions")
    return isinstance(partitions, list) and all(
        isinstance(p, Mapping)
        and isinstance(p.get("context"), Mapping)
        and all(str(name).startswith("parent.") for name in p["context"])
        for p in partitions
    )


def child_partitions(states: Mapping[int, dict], count: int) -> dict[str, Any]:
    """Return a child stream's combined state: each parent's partition from the task whose share it is.

    A parent's partition is taken from task ``share_of_parent(context, i, count)``: the task that
    fetched that parent's children (exact when the context is the parent key: one child stream,
    or children that use the same placeholders). A partition that task's state lacks (the parent
    was not read this run) is taken from the first task that has it: all tasks started from the
    same state, so they hold the same one.

    Args:
        states: Each task's state of the child stream, by task index.
        count: The run's task count.
    """
    by_context: dict[str, dict[int, dict]] = {}
    order: list[str] = []
    for index in sorted(states):
        for partition in states[index].get("partitions", []):
            key = json.dumps(partition["context"], sort_keys=True, default=str)
            if key not in by_context:
                by_context[key] = {}
                order.append(key)
            by_context[key][index] = partition
    combined = []
    for key in order:
        found = by_context[key]
        context = next(iter(found.values()))["context"]
        owner = next((i for i in range(count) if share_of_parent(dict(context), i, count)), None)
        combined.append(found[owner] if owner in found else found[min(found)])
    return {"partitions": combined}
