"""Partitions: one extraction split across N tasks of an engine that starts N copies of a job.

See docs/PARTITIONS.md: which task takes which share (:mod:`.shares`), how a task's share is
planned from its state (:mod:`.plan`), and how the tasks' states combine (:mod:`.combine`).
"""

from __future__ import annotations

from tap_generic_api.partitions.plan import attach_partitions
from tap_generic_api.partitions.spec import Partition, parse_partition

__all__ = ["Partition", "attach_partitions", "parse_partition"]
