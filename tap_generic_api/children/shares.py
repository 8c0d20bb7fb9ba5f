"""A partitioned run's share of a parent stream's records: which parents' children this task fetches.

In a partitioned run (docs/PARTITIONS.md) a parent stream with child streams and no date
windows is read by every task; each task keeps the parents whose key falls in its share
(:func:`~tap_generic_api.partitions.shares.share_of_parent`), fetches their children and emits
them (unless ``parent_only``). The parent key is the values of the ``{parent.<path>}``
placeholders of all the parent's child streams, as ``{"parent.<path>": value}``: what a
parent's child requests are made of, so two parent records whose children are the same
requests go to the same task, and, with one child stream, exactly that child's state
partition context (docs/CHILD_STREAMS.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tap_generic_api.children.templates import ParentTemplates
from tap_generic_api.partitions.shares import share_of_parent


class ParentShare:
    """Decides, per parent record, whether this task takes it.

    Args:
        parent: The parent ``GenericAPIStream``; its ``task_share`` is this task's place.
    """

    def __init__(self, parent: Any) -> None:
        partition = parent.task_share.partition
        self.index, self.count = partition.index, partition.count
        self._templates = [
            ParentTemplates(child.stream_config, parent.name, child.templates) for child in parent.child_streams
        ]
        self.taken = 0
        self.left = 0

    def key(self, record: Mapping[str, Any], number: int) -> dict[str, Any]:
        """Return parent ``record``'s key: ``{"parent.<path>": value}`` over every child's placeholders.

        Raises:
            ConfigError: The first parent record lacks a placeholder's field.
            ResponseShapeError: A later one does.
        """
        key: dict[str, Any] = {}
        for templates in self._templates:
            key.update(templates.context(templates.values(record, number)))
        return key

    def takes(self, record: Mapping[str, Any], number: int) -> bool:
        """Return whether this task takes parent ``record`` (number ``number`` in the run, from 1), and count it."""
        mine = share_of_parent(self.key(record, number), self.index, self.count)
        if mine:
            self.taken += 1
        else:
            self.left += 1
        return mine


def parent_share(parent: Any) -> ParentShare | None:
    """Return the parent's share by key in a partitioned run, or None (not split by parents: take every record)."""
    share = getattr(parent, "task_share", None)
    if share is None or not share.by_parent:
        return None
    return ParentShare(parent)
