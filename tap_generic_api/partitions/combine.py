"""Combine the states of a partitioned run's tasks into the one state every task of the next run starts from.

Usage::

    python -m tap_generic_api.partitions.combine state-0.json ... state-7.json > state.json

Each file is one task's state: a Singer state (``{"bookmarks": ...}``), Meltano's
(``{"singer_state": ...}``), or the target's output, whose last line is the newest state.

The rule, per stream (docs/PARTITIONS.md):

- date windows: the tasks' shares must tile the range, task 0 from the start, each task's end
  the next one's start (else a task cut the range differently: refused). The combined bookmark
  is how far the range is done without a hole: the end of the last task when every share is
  complete; else, at the first incomplete share (in task order), its own sorted bookmark when it
  lies inside its share, else its share's start. Never past a task that failed.
- whole streams: the bookmark of the task that ran the stream.
- parent streams split by parents: the least of the tasks' bookmarks; their child streams: each
  parent's state partition from the task whose share that parent is
  (:mod:`tap_generic_api.partitions.combine_parents`).

Hand-written: Meltano's ``--state-id-suffix`` keeps one state per task but has no step that
merges them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from plugin_kit.errors import ConfigError
from tap_generic_api.partitions.combine_parents import child_partitions, is_child_state, parents_bookmark
from tap_generic_api.partitions.plan import STATE_KEY
from tap_generic_api.templating import to_datetime


def read_state(path: Path) -> dict[str, Any]:
    """Return the Singer state in ``path`` (plain, Meltano's ``singer_state``, or the last of several lines).

    Raises:
        ConfigError: The file is empty or not JSON; names the file.
    """
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    if not lines:
        msg = f"{path}: empty; a task that wrote no state must be rerun before its states are combined."
        raise ConfigError(msg)
    try:
        state = json.loads(lines[-1])
    except json.JSONDecodeError as exc:
        msg = f"{path}: the last line is not JSON ({exc.msg})."
        raise ConfigError(msg) from None
    if isinstance(state, dict) and state.get("type") == "STATE":
        state = state.get("value")
    if isinstance(state, dict) and "singer_state" in state:
        state = state["singer_state"]
    if not isinstance(state, dict):
        msg = f"{path}: not a Singer state object."
        raise ConfigError(msg)
    return state


def _bound(value: Any) -> Any:
    return to_datetime(value)


def _windows_bookmark(stream: str, entries: dict[int, dict]) -> dict[str, Any]:
    shares = [entries[i][STATE_KEY] for i in sorted(entries)]
    for before, after in zip(shares, shares[1:], strict=False):
        if _bound(before["end"]) != _bound(after["start"]):
            msg = (
                f"Stream '{stream}': task {before['index']}'s share ends at {before['end']} but task "
                f"{after['index']}'s starts at {after['start']}: the tasks cut the range differently (a gap or an "
                "overlap). Set end_date so that every task cuts the same windows, and rerun the run."
            )
            raise ConfigError(msg)
    reached: Any = shares[-1]["end"]
    for share in shares:
        if share.get("complete"):
            continue
        reached = share["start"]
        value = entries[share["index"]].get("replication_key_value")
        if share.get("is_sorted") and value is not None:
            try:
                if _bound(share["start"]) < _bound(value) < _bound(share["end"]):
                    reached = value
            except (ValueError, TypeError, OverflowError, OSError):
                pass
        break
    entry = {"replication_key_value": reached}
    key = next((e.get("replication_key") for e in entries.values() if e.get("replication_key")), None)
    if key is not None:
        entry = {"replication_key": key, **entry}
    return entry


def combine(states: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Return the combined state of one partitioned run's tasks (rules in the module docstring).

    Args:
        states: One Singer state per task, in any order.

    Raises:
        ConfigError: A task's state is missing or given twice, a stream's state is not from a
            partitioned run, the task counts disagree, or the shares do not tile the range.
    """
    by_stream: dict[str, dict[int, dict]] = {}
    children: dict[str, dict[int, dict]] = {}
    for position, state in enumerate(states):
        index = _task_index(state, position)
        for stream, entry in (state.get("bookmarks") or {}).items():
            if is_child_state(entry):
                children.setdefault(stream, {})[index] = entry
                continue
            share = entry.get(STATE_KEY) if isinstance(entry, dict) else None
            if not isinstance(share, dict):
                msg = f"Stream '{stream}': a state has no '{STATE_KEY}' entry: it is not from a partitioned run."
                raise ConfigError(msg)
            tasks = by_stream.setdefault(stream, {})
            if share["index"] in tasks:
                msg = f"Stream '{stream}': two states of task {share['index']}; give each task's state once."
                raise ConfigError(msg)
            tasks[share["index"]] = entry
    bookmarks: dict[str, Any] = {}
    for stream, entries in by_stream.items():
        counts = {entry[STATE_KEY]["count"] for entry in entries.values()}
        if len(counts) != 1:
            msg = f"Stream '{stream}': the states come from runs of different task counts {sorted(counts)}."
            raise ConfigError(msg)
        count = counts.pop()
        missing = sorted(set(range(count)) - set(entries))
        if missing:
            msg = (
                f"Stream '{stream}': no state of task(s) {missing} of {count}. Rerun them from their last state "
                "(or from the run's input state) and give every task's state."
            )
            raise ConfigError(msg)
        if entries[0][STATE_KEY]["kind"] == "windows":
            bookmarks[stream] = _windows_bookmark(stream, entries)
        elif entries[0][STATE_KEY]["kind"] == "parents":
            kept = parents_bookmark(entries)
            if kept:
                bookmarks[stream] = kept
        else:
            owner = entries[0][STATE_KEY]["owner"]
            kept = {k: v for k, v in entries[owner].items() if k in ("replication_key", "replication_key_value")}
            if kept:
                bookmarks[stream] = kept
    if children:
        counts = {entry[STATE_KEY]["count"] for tasks in by_stream.values() for entry in tasks.values()}
        if len(counts) != 1:
            msg = "Child streams' states can be combined only with their parent's (a stream split by parents)."
            raise ConfigError(msg)
        count = counts.pop()
        for stream, entries in children.items():
            bookmarks[stream] = child_partitions(entries, count)
    return {"bookmarks": bookmarks}


def _task_index(state: dict[str, Any], position: int) -> int:
    """Return the task index of ``state`` from any stream's share in it, else its position among the states."""
    for entry in (state.get("bookmarks") or {}).values():
        share = entry.get(STATE_KEY) if isinstance(entry, dict) else None
        if isinstance(share, dict) and isinstance(share.get("index"), int):
            return share["index"]
    return position


def main(argv: Sequence[str] | None = None) -> int:
    """Print the combined state of the state files named in ``argv``; return the exit code (1 on an error)."""
    paths = [Path(arg) for arg in (sys.argv[1:] if argv is None else argv)]
    if not paths:
        print("usage: python -m tap_generic_api.partitions.combine STATE_FILE...", file=sys.stderr)  # noqa: T201
        return 2
    try:
        combined = combine([read_state(path) for path in paths])
    except ConfigError as exc:
        print(f"Error: {exc}", file=sys.stderr)  # noqa: T201
        return 1
    print(json.dumps(combined))  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
