"""One task's share of one stream: planned from the config, the stream's state and the task's clock.

The plan is written into the stream's state under ``partition`` (the task's own state: one
state per task), so that a rerun of the task redoes exactly its share, and so that the tasks'
states can be combined (:mod:`tap_generic_api.partitions.combine`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tap_generic_api.config import StreamConfig
from tap_generic_api.partitions.shares import block, grid_end, stream_owner
from tap_generic_api.partitions.spec import Partition
from tap_generic_api.templating import is_number, to_datetime
from tap_generic_api.windows import ISO_FORMAT, DateWindow, date_windows

#: Every task logs one line per stream starting with this, then its share as JSON: the union of
#: the tasks' lines can be checked for gaps and overlaps.
SHARE_LOG_PREFIX = "PARTITION_SHARE "
#: The key of a stream's state that holds the task's share.
STATE_KEY = "partition"


@dataclass
class TaskShare:
    """A task's share of one stream.

    Attributes:
        taken: Whether this task fetches anything of the stream.
        windows: The date windows to fetch, oldest first (None: the stream runs whole, no windows).
        record: The share as written into the stream's state under ``partition``.
    """

    taken: bool
    windows: list[DateWindow] | None
    record: dict[str, Any] = field(default_factory=dict)


def _utc(value: Any) -> datetime:
    return to_datetime(value).astimezone(UTC)


def _form(moment: datetime, numeric: bool) -> Any:
    """Write a bound like the stream's start: epoch seconds when the start is a number, else ISO-8601 UTC."""
    return int(moment.timestamp()) if numeric else moment.strftime(ISO_FORMAT)


class StreamPartition:
    """A stream's place in a partitioned run.

    Args:
        partition: This task's index and the task count.
        position: The stream's number among the streams run whole (config order), or None for a
            stream with date windows or split by parents.
        by_parent: A parent stream with child streams and no date windows: every task reads it
            and keeps the parents in its share (:mod:`tap_generic_api.children.shares`).
    """

    def __init__(self, partition: Partition, position: int | None, *, by_parent: bool = False) -> None:
        self.partition = partition
        self.position = position
        self.by_parent = by_parent

    def _kind(self, config: StreamConfig) -> str:
        if config.date_window_size:
            return "windows"
        return "parents" if self.by_parent else "stream"

    def plan(
        self,
        config: StreamConfig,
        state: dict[str, Any],
        bookmark: Any,
        *,
        end: datetime,
        logger: logging.Logger,
    ) -> TaskShare:
        """Return this task's share and write it into ``state`` (the stream's state) under ``partition``.

        Args:
            config: The stream's config.
            state: The stream's state dict (changed in place).
            bookmark: The bookmark this run starts from (None: none).
            end: The range's end: config ``end_date`` when set, else the task's clock (the run's start,
                UTC), from which the end is the last bound of the window grid before it.
            logger: The stream's logger, for the share line.
        """
        prior = state.get(STATE_KEY)
        index, count = self.partition.index, self.partition.count
        rerun = (
            isinstance(prior, dict)
            and prior.get("index") == index
            and prior.get("count") == count
            and prior.get("kind") == self._kind(config)
        )
        if config.date_window_size:
            share = self._windows(config, prior if rerun else None, bookmark, end)
        elif self.by_parent:
            # Every task reads every parent; which parents it keeps is decided per record.
            share = TaskShare(
                taken=True,
                windows=None,
                record={"kind": "parents", "index": index, "count": count, "complete": False},
            )
        else:
            owner = stream_owner(self.position or 0, count)
            share = TaskShare(
                taken=owner == index,
                windows=None,
                record={"kind": "stream", "index": index, "count": count, "owner": owner, "complete": False},
            )
        if rerun and prior.get("complete"):
            share.taken = False
            share.windows = [] if share.windows is not None else None
            share.record = dict(prior)
            logger.warning(
                "Stream '%s': the state says task %d of %d already completed its share; nothing to fetch. To "
                "start the next run, combine the tasks' states (python -m tap_generic_api.partitions.combine) "
                "and give every task the combined state.",
                config.name,
                index,
                count,
            )
        if config.date_window_size and not rerun and config.end_date is None and index == count - 1:
            # The last task's share ends where the range ends.
            logger.info(
                "Stream '%s': without end_date the run's windows end at %s, the last window bound before the "
                "run's start; records after it are fetched by the next run.",
                config.name,
                _utc(share.record["end"]).strftime(ISO_FORMAT),
            )
        state[STATE_KEY] = share.record
        self._log(config, share, rerun=bool(rerun), logger=logger)
        return share

    def _windows(self, config: StreamConfig, prior: dict | None, bookmark: Any, end: datetime) -> TaskShare:
        days = float(config.date_window_size or 0)
        index, count = self.partition.index, self.partition.count
        if prior is not None:
            # A rerun: the share is the one planned by the failed run, resumed from its bookmark.
            start, share_end = prior["start"], prior["end"]
            resume = start
            if config.is_sorted and bookmark is not None:
                try:
                    if _utc(start) < _utc(bookmark) < _utc(share_end):
                        resume = bookmark
                except (ValueError, TypeError, OverflowError, OSError):
                    pass  # not a date: start the share again
            end_at = _utc(share_end)
            windows = date_windows(resume, end_at, days) if _utc(resume) < end_at else []
            return TaskShare(taken=bool(windows), windows=windows, record=dict(prior, complete=False))
        anchor = bookmark if bookmark is not None else config.start_date
        anchor_at = _utc(anchor)
        end_at = end if config.end_date is not None else grid_end(anchor_at, end, days)
        grid = date_windows(anchor, end_at, days) if anchor_at < end_at else []
        lo, hi = block(len(grid), index, count)
        mine = grid[lo:hi]
        numeric = is_number(anchor)
        start_at = grid[lo].start_at if lo < len(grid) else max(anchor_at, end_at)
        share_end = mine[-1].end_at if mine else start_at
        record = {
            "kind": "windows",
            "index": index,
            "count": count,
            "start": mine[0].start if mine else _form(start_at, numeric),
            "end": _form(share_end, numeric),
            "windows": [lo, hi],
            "of": len(grid),
            "is_sorted": config.is_sorted,
            "complete": False,
        }
        return TaskShare(taken=bool(mine), windows=mine, record=record)

    def _log(self, config: StreamConfig, share: TaskShare, *, rerun: bool, logger: logging.Logger) -> None:
        record = share.record
        line: dict[str, Any] = {
            "stream": config.name,
            "index": self.partition.index,
            "count": self.partition.count,
            "kind": record["kind"],
            "taken": share.taken,
            "rerun": rerun,
        }
        if record["kind"] == "windows":
            line.update(
                start=_utc(record["start"]).strftime(ISO_FORMAT),
                end=_utc(record["end"]).strftime(ISO_FORMAT),
                windows=record["windows"],
                of=record["of"],
            )
            if share.windows:
                line["fetch_from"] = share.windows[0].start_at.strftime(ISO_FORMAT)
        elif record["kind"] == "parents":
            line["key"] = "sha256 of the {parent.*} placeholder values, mod count"
        else:
            line["owner"] = record["owner"]
            if share.taken and self.partition.count > 1:
                logger.info(
                    "Stream '%s' has no date_window_size and cannot be split: it runs whole in task %d of %d.",
                    config.name,
                    record["owner"],
                    self.partition.count,
                )
        logger.info("%s%s", SHARE_LOG_PREFIX, json.dumps(line, sort_keys=True))

    @staticmethod
    def finish(state: dict[str, Any], *, complete: bool) -> None:
        """Mark the share in ``state`` complete (every page of it written) or not."""
        record = state.get(STATE_KEY)
        if isinstance(record, dict):
            record["complete"] = complete


def attach_partitions(partition: Partition | None, streams: list) -> None:
    """Give each stream (``GenericAPIStream``) its place in the run split by ``partition`` (None: not split).

    Streams with date windows are split by windows; parent streams with child streams (and no
    windows) are split by parents; child streams run with their parent and take no share of
    their own; the others are numbered in config order for
    :func:`~tap_generic_api.partitions.shares.stream_owner`.
    """
    if partition is None:
        return
    parents = {stream.stream_config.parent for stream in streams if stream.stream_config.parent}
    position = 0
    for stream in streams:
        if stream.stream_config.date_window_size:
            stream.task_share = StreamPartition(partition, None)
        elif stream.stream_config.parent:
            stream.task_share = None
        elif stream.name in parents:
            stream.task_share = StreamPartition(partition, None, by_parent=True)
        else:
            stream.task_share = StreamPartition(partition, position)
            position += 1
