"""Who takes what: the pure rules that give each task a disjoint, deterministic share of the run.

Every task computes every rule from the same inputs (config, the shared bookmark, the run's end),
so the tasks agree without talking to each other. docs/PARTITIONS.md states the rules for users.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import datetime, timedelta
from typing import Any


def block(items: int, index: int, count: int) -> tuple[int, int]:
    """Return task ``index``'s contiguous block ``[lo, hi)`` of ``items`` items split over ``count`` tasks.

    Blocks are as even as integers allow (sizes differ by at most one), in index order, and
    together cover ``range(items)`` exactly once. With fewer items than tasks, some blocks are
    empty (``lo == hi``).

    Example:
        ``block(10, i, 4)`` for i = 0..3 is (0, 2), (2, 5), (5, 7), (7, 10).
    """
    return index * items // count, (index + 1) * items // count


def grid_end(start_at: datetime, now: datetime, days: float) -> datetime:
    """Return the last bound of the window grid anchored at ``start_at`` that is not after ``now``.

    The grid is ``start_at + k * days`` (k = 0, 1, ...). Tasks that start at slightly different
    times within one window get the same end, so they cut the same windows; the unfinished
    window from this end to ``now`` is left to the next run (which starts from this end).

    Args:
        start_at: The grid's anchor: the shared bookmark, else ``start_date`` (UTC).
        now: The task's clock (UTC).
        days: Window length in days.

    Returns:
        ``start_at`` itself when less than one whole window has passed.
    """
    step = timedelta(days=days)
    if now <= start_at:
        return start_at
    whole = math.floor((now - start_at) / step)
    return start_at + whole * step


def stream_owner(position: int, count: int) -> int:
    """Return the task that runs whole the stream at ``position`` among the streams without date windows.

    Streams without date windows are numbered 0, 1, ... in config order and dealt out like cards:
    position ``p`` goes to task ``p % count``. A lone stream that cannot be split (one cursor
    sequence, no date filter) is position 0: task 0.
    """
    return position % count


def share_of_parent(key: Any, index: int, count: int) -> bool:
    """Return whether task ``index`` of ``count`` takes the parent record whose key is ``key``.

    The parent key (any JSON value: an id, or a dict of key fields) is hashed with SHA-256 over
    its canonical JSON (sorted keys, no spaces), so every task and every run agree, unlike
    Python's ``hash`` which is salted per process. Each parent goes to exactly one task.

    A parent stream with child streams is read by every task, and each task keeps only the
    parents for which this returns True (:mod:`tap_generic_api.children.shares`), so that a
    parent and its children are emitted by exactly one task; the combine step uses it again to
    pick each child state partition's task (:mod:`tap_generic_api.partitions.combine_parents`).
    """
    text = json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(text.encode()).digest()
    return int.from_bytes(digest[:8], "big") % count == index
