"""A parent stream's run with its child streams: children of several parents fetched at once, written in order.

singer-sdk syncs a child stream from its parent's ``_process_record``, one parent record after
another (``Stream._sync_children``), which leaves the API idle while each parent's children
are written. Here each parent record becomes a producer for :func:`plugin_kit.concurrency.in_order`:
the parent record, then each child stream's pages for it. Up to ``pagination.max_concurrency``
(the children's, the largest if several) producers fetch at once, every request under the
run's shared rate limiter, and the messages still come out as if parents ran one after
another: parent record, its children, next parent record. The parent's pages are read lazily
and producers are made at most ``2 * max_concurrency`` ahead of the one being written, so the
parent records are never all held.

STATE: the parent's bookmark moves past a record only after all its children are written and
their per-parent bookmarks finalized, so a STATE never claims a parent whose children were not
all written (:func:`tap_generic_api.sync_loop.sync_pages` does the parent's bookkeeping).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from typing import Any, NoReturn

from singer_sdk.singerlib.catalog import REPLICATION_INCREMENTAL

from plugin_kit.concurrency import in_order
from tap_generic_api import sync_loop
from tap_generic_api.children.jobs import CHILD, PARENT, SKIPPED, ChildJob, ChildRun
from tap_generic_api.children.shares import parent_share


def sync_parent(parent: Any) -> Iterator[list[dict]]:
    """Emit a parent stream's records (unless ``parent_only``), its children's, and the STATE of both.

    Args:
        parent: The parent ``GenericAPIStream`` (its ``child_streams`` linked by the SDK).

    Yields:
        The parent's records, one per list (the SDK's ``_sync_records`` contract).

    Raises:
        ChildStreamError: A child request failed (not a status in ``ignore_statuses``); names the parent record.
        ConfigError: The first parent record lacks a field a child's placeholder names.
    """
    parent_incremental = parent.replication_method == REPLICATION_INCREMENTAL
    runs = [
        ChildRun(child, parent.name, parent_incremental=parent_incremental)
        for child in parent.child_streams
        if child.selected or child.has_selected_descendents
    ]
    for run in runs:
        run.start()
    workers = max((run.stream.stream_config.pagination.max_concurrency for run in runs), default=1)
    emit = parent.selected and not parent.stream_config.parent_only
    fast = emit and parent.output.enabled()
    keeps = parent.stream_maps[0].get_filter_result  # a parent a __filter__ drops gets no child requests
    share = parent_share(parent)  # a partitioned run: this task's parents only

    limit = parent.ABORT_AT_RECORD_COUNT  # a dry run (--test): this many parents, and children each

    def producers(pages: Iterable[list[dict]]) -> Iterator[Any]:
        number = 0
        try:
            for page in pages:
                for record in page:
                    if limit is not None and number >= limit:
                        return
                    number += 1
                    if share is not None and not share.takes(record, number):
                        # Another task's parent: not emitted, no child request; still yielded
                        # below so that the parent's bookmark moves past it in order.
                        yield functools.partial(_produce, record, [], False)
                        continue
                    jobs = [run.job(record, number) for run in runs] if keeps(record) else []
                    yield functools.partial(_produce, record, jobs)
        except Exception as exc:  # noqa: BLE001 - raised in its turn, below
            # Parent pages are read ahead of the parent being written: a parent page that fails
            # (or a parent record that cannot fill a placeholder) is raised in its turn, after the
            # children of every parent read before it are written, not as soon as it is read.
            yield functools.partial(_fail, exc)

    items = in_order(producers(parent.runner.record_pages(None)), workers, thread_name_prefix=f"{parent.name}-children")
    frequency = parent.STATE_MSG_FREQUENCY

    def parent_pages() -> Iterator[list[dict]]:
        held: dict | None = None
        last: dict[int, dict] = {}  # job id -> its last record written
        jobs: list[ChildJob] = []
        since_state = 0
        for kind, value, extra in items:
            if kind == PARENT:
                if held is not None:
                    _finish(jobs, last, parent)
                    yield [held]  # sync_pages moves the parent's bookmark past it, and may write STATE
                    since_state = _state_every(frequency, since_state, parent)
                held, jobs, last = value, extra[0], {}
                if emit and extra[1]:
                    (parent.output.write_page if fast else parent._write_each)([value])  # noqa: SLF001
            elif kind == CHILD:
                value.run.write(value, extra)
                last[id(value)] = extra[-1]
                since_state += len(extra)
            elif kind == SKIPPED:
                value.run.skip(value, extra)
        if held is not None:
            _finish(jobs, last, parent)
            yield [held]

    try:
        yield from sync_loop.sync_pages(
            parent, parent_pages(), write_page=lambda _: None, paginators=lambda: parent.runner.paginators
        )
    finally:
        items.close()
        for run in runs:  # a child request still waiting (rate limit, retry) is dropped, not sent
            run.stream.runner.stopping.set()
    for run in runs:
        run.summary()
    if share is not None:
        parent.logger.info(
            "Stream '%s': task %d of %d took %d of %d parent records (the others are other tasks' share).",
            parent.name,
            share.index,
            share.count,
            share.taken,
            share.taken + share.left,
        )
    parent._finalize_state(parent.stream_state)  # noqa: SLF001
    parent.state_manager.is_flushed = False
    parent._write_state_message()  # noqa: SLF001


def _produce(record: dict, jobs: list[ChildJob], mine: bool = True) -> Iterator[tuple[str, Any, Any]]:
    """One parent's items (on a worker thread): the record (emitted when ``mine``), then each child stream's pages."""
    yield PARENT, record, (jobs, mine)
    for job in jobs:
        yield from job.items()


def _fail(exc: Exception) -> NoReturn:
    """Raise the parent's error (a producer, run when its turn comes)."""
    raise exc


def _finish(jobs: list[ChildJob], last: dict[int, dict], parent: Any) -> None:
    """End a parent's children: finalize their per-parent bookmarks (before the parent's own moves)."""
    for job in jobs:
        job.run.finish(job, last.get(id(job)))
    if any(job.run.incremental for job in jobs):
        parent.state_manager.is_flushed = False  # the children's partitions are in the tap's state too


def _state_every(frequency: int, since_state: int, parent: Any) -> int:
    """Write STATE once ``frequency`` child records went out since the last; return the count since."""
    if since_state < frequency:
        return since_state
    parent.state_manager.is_flushed = False
    parent._write_state_message()  # noqa: SLF001
    return 0
