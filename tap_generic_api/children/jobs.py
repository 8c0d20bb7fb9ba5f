"""One child stream during its parent's run: a request sequence per parent record, and what became of it.

:class:`ChildRun` prepares each parent's job on the reading thread (the bookmark from STATE,
the rendered request) and, again on the reading thread, writes the job's pages and moves the
child's state. :meth:`ChildJob.items` runs on a worker thread and only sends requests: each
job has its own paginator, started at the first page, so nothing of one parent's pagination
carries to the next.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Iterator, Mapping
from typing import Any

from singer_sdk.exceptions import InvalidStreamSortException
from singer_sdk.singerlib.catalog import REPLICATION_INCREMENTAL

from tap_generic_api import bookmarks
from tap_generic_api.children.partitions import IndexedStateManager
from tap_generic_api.children.templates import ParentTemplates
from tap_generic_api.config.children import included_name
from tap_generic_api.errors import (
    BookmarkTypeError,
    ChildStreamError,
    IgnoredStatusError,
    PaginationTruncatedError,
    ResponseShapeError,
    StreamStoppedError,
)
from tap_generic_api.paging.base import SafePaginator
from tap_generic_api.paging.paginators import build_paginator
from tap_generic_api.request_templates import RenderedRequest

#: Kinds of the items a parent's producer yields, in this order: the parent record, then per
#: child stream its pages, or one SKIPPED when the child's request got an ignored status.
PARENT, CHILD, SKIPPED = "parent", "child", "skipped"


class ChildJob:
    """The children of one parent record in one child stream.

    Attributes:
        run: The child stream's run.
        number: The parent record's number in its stream's run (from 1).
        context: The SDK context and state partition: ``{"parent.<path>": value}``.
        bookmark: The partition's bookmark from STATE (incremental children), else None.
        rendered: The request of the sequence's first page.
        included: The ``include_from_parent`` fields added to each record.
        paginator: The sequence's own paginator (set when the job starts).
        cut_by: Set when a status in ``ignore_statuses`` ended the sequence after pages were written.
    """

    def __init__(
        self,
        run: ChildRun,
        number: int,
        context: dict[str, Any],
        bookmark: Any,
        rendered: RenderedRequest,
        included: dict[str, Any],
    ) -> None:
        self.run, self.number, self.context = run, number, context
        self.bookmark, self.rendered, self.included = bookmark, rendered, included
        self.paginator: SafePaginator | None = None
        self.cut_by = ""

    def describe(self) -> str:
        """Return ``parent stream 'posts' record 7 (parent.id=12)`` for messages."""
        values = ", ".join(f"{key}={value!r}" for key, value in self.context.items())
        return f"parent stream '{self.run.parent}' record {self.number} ({values})"

    def items(self) -> Iterator[tuple[str, ChildJob, Any]]:
        """Fetch the sequence (on a worker thread): yield ``(CHILD, job, page)`` per page with records.

        Records older than the partition's bookmark are dropped; the parent fields are added.

        Raises:
            ChildStreamError: Any failure of the sequence, with the parent record named.
        """
        stream = self.run.stream
        self.paginator = self.run.new_paginator(self.rendered)
        key = stream.replication_key
        limit = stream.ABORT_AT_RECORD_COUNT  # a dry run (--test)
        count = 0
        try:
            for page in stream.runner.pages_in_turn(self.context, self.rendered, self.paginator):
                if key and self.bookmark is not None:
                    page = [r for r in page if not bookmarks.older(r.get(key), self.bookmark)]
                if limit is not None:
                    page = page[: max(0, limit - count)]
                if page:
                    self._include(page)
                    count += len(page)
                    yield CHILD, self, page
                if limit is not None and count >= limit:
                    return
        except IgnoredStatusError as exc:
            if count:  # pages of this parent were written: the rest of its sequence is cut off
                self.cut_by = (
                    f"cut short after {count} records by HTTP {exc.status} (in ignore_statuses) from {exc.url}"
                )
            yield SKIPPED, self, exc
        except StreamStoppedError:
            raise
        except Exception as exc:
            msg = f"{exc} (child stream '{stream.name}', for {self.describe()})"
            raise ChildStreamError(msg, stream=stream.name) from exc

    def _include(self, page: list[dict]) -> None:
        if not self.included:
            return
        for record in page:
            taken = [name for name in self.included if name in record]
            if taken:
                msg = (
                    f"Stream '{self.run.stream.name}': a record already has the field {taken[0]!r} that "
                    f"include_from_parent would write; the API sends it itself, so the parent's value would "
                    f"replace it. Remove '{taken[0][len('_parent_') :]}' from include_from_parent."
                )
                raise ResponseShapeError(msg, stream=self.run.stream.name)
            record.update(self.included)


class ChildRun:
    """A child stream's part in one run of its parent.

    Args:
        stream: The child stream (a ``GenericAPIStream``).
        parent: The parent stream's name.
        parent_incremental: The parent stream has a replication key (its bookmark is what a
            child without its own replication key follows).

    Attributes:
        incremental: The child has its own replication key: a bookmark per parent (state partition).
        follows_parent: The child has no replication key and its parent has: the parent's bookmark
            decides which parents' children the next run asks for.
        records: Records written. parents: Parents whose children were requested.
        skipped: Parents skipped, by the ignored status that skipped them.
        cut: Parents whose child sequence was cut short (``max_pages``, or an empty page that does not end it).
    """

    def __init__(self, stream: Any, parent: str, *, parent_incremental: bool = False) -> None:
        self.stream = stream
        self.parent = parent
        self.templates = ParentTemplates(stream.stream_config, parent, stream.templates)
        self.incremental = stream.replication_method == REPLICATION_INCREMENTAL
        self.follows_parent = parent_incremental and not self.incremental
        self.records = 0
        self.parents = 0
        self.cut = 0
        self.skipped: collections.Counter[int] = collections.Counter()
        self._fast = False

    def start(self) -> None:
        """Write the child's SCHEMA (when selected) and reset its counters, before the parent's first page."""
        stream = self.stream
        if self.incremental and not isinstance(stream.state_manager, IndexedStateManager):
            stream._state_manager = IndexedStateManager.like(stream.state_manager)  # noqa: SLF001 - a partition per parent
        if stream.selected:
            stream._write_schema_message()  # noqa: SLF001 - the SDK writes it in sync(), which children skip
            self._fast = stream.output.enabled()
        stream.retry_policy.retries = 0
        stream.runner.stopping.clear()  # set when the parent's run ends: no request or retry after it
        stream._records_of.first_page.start()  # noqa: SLF001

    def new_paginator(self, rendered: RenderedRequest) -> SafePaginator:
        """Return a fresh paginator for one parent's sequence (not kept: parents are not held in memory)."""
        stream = self.stream
        return build_paginator(
            stream.stream_config.pagination,
            records_of=stream._records_of,  # noqa: SLF001
            stream=stream.name,
            first_url=rendered.url,
            allowed_hosts=stream.stream_config.allowed_hosts,
            redact=stream.redact_url,
            data_path=stream._records_of.data_path,  # noqa: SLF001
        )

    def job(self, record: Mapping[str, Any], number: int) -> ChildJob:
        """Prepare the job for parent ``record`` (reading thread: reads STATE).

        Raises:
            ConfigError: The first parent record lacks a placeholder's field.
            ResponseShapeError: A later one does.
        """
        values = self.templates.values(record, number)
        context = self.templates.context(values)
        bookmark = None
        if self.incremental:
            self.stream._write_starting_replication_value(context)  # noqa: SLF001 - as the SDK's loop does
            bookmark = self.stream.get_starting_replication_key_value(context)
        self.parents += 1
        return ChildJob(
            self, number, context, bookmark, self.templates.render(values, bookmark), self.templates.included(record)
        )

    def write(self, job: ChildJob, page: list[dict]) -> None:
        """Write one page's RECORD messages (reading thread) and move the partition's bookmark."""
        stream = self.stream
        if stream.selected:
            if self._fast:
                stream.output.write_page(page)
            else:
                stream._write_each(page)  # noqa: SLF001 - through the SDK: stream maps, deselected fields
        if self.incremental:
            config = stream.stream_config
            try:
                for record in page:
                    stream._increment_stream_state(record, context=job.context)  # noqa: SLF001
            except KeyError:
                try:
                    bookmarks.check_replication_key(config, page, self.records)
                except ResponseShapeError as exc:
                    msg = f"{exc} (for {job.describe()})"
                    raise ResponseShapeError(msg, stream=stream.name) from None
                raise
            except TypeError as exc:
                error = bookmarks.bookmark_type_error(config, job.bookmark, page)
                msg = f"{error} (for {job.describe()})"
                raise BookmarkTypeError(msg, stream=stream.name) from exc
            except InvalidStreamSortException as exc:
                raise bookmarks.unsorted_error(config, exc, f" (for {job.describe()})") from None
        self.records += len(page)

    def skip(self, job: ChildJob, exc: IgnoredStatusError) -> None:
        """Count and log a parent skipped for an ignored status."""
        self.skipped[exc.status] += 1
        self.stream.logger.warning(
            "Stream '%s': skipped %s: %s (the status is in ignore_statuses).",
            self.stream.name,
            job.describe(),
            exc,
        )

    def finish(self, job: ChildJob, last: dict | None) -> None:
        """End a parent's sequence (reading thread): finalize its bookmark unless a cut leaves records out.

        A sequence cut short (``max_pages``, an empty page that does not end it, or a status in
        ``ignore_statuses`` after pages were written) is logged naming the parent and counted in the summary. When the
        child follows its parent's bookmark, the run stops before the parent's bookmark moves past
        that parent: the next run would not ask for its children again, so those the cut left out
        would never be read.

        Args:
            job: The finished job.
            last: The last record written for it, or None.

        Raises:
            PaginationTruncatedError: The sequence was cut short and the child is incremental
                (see :func:`~tap_generic_api.bookmarks.stop_truncated`) or follows its parent's bookmark.
        """
        paginator = job.paginator
        config = self.stream.stream_config
        capped = paginator is not None and paginator.truncated
        cut_by = job.cut_by or (paginator.cut_by if paginator is not None and capped else "")
        if cut_by:
            self._cut_short(job, cut_by)
        if not self.incremental:
            return
        if cut_by:
            if not config.is_sorted:
                bookmarks.stop_truncated(config, f"{cut_by} for {job.describe()}")
            if capped and not job.cut_by:  # the same cap would stop every run at the same place
                newest = None if last is None else last.get(config.replication_key)
                bookmarks.check_progress(config, job.bookmark, newest, cut_by)
        self.stream._finalize_state(self.stream.get_context_state(job.context))  # noqa: SLF001

    def _cut_short(self, job: ChildJob, cut_by: str) -> None:
        self.cut += 1
        name = self.stream.name
        if self.follows_parent:
            msg = (
                f"Stream '{name}': {cut_by} for {job.describe()}. Its records are written, but the bookmark "
                f"of parent stream '{self.parent}' is not moved past that parent: '{name}' follows its parent's "
                "bookmark, so the next run would not ask for the children the cut left out. Raise max_pages "
                f"(for a page cap), or give '{name}' its own replication_key (a bookmark per parent)."
            )
            raise PaginationTruncatedError(msg, stream=name)
        self.stream.logger.warning(
            "Stream '%s': %s for %s; that parent's children may be incomplete.", name, cut_by, job.describe()
        )

    def summary(self) -> None:
        """Log the child stream's totals: records, parents asked, parents skipped by status.

        An ``include_from_parent`` field that no parent record held is warned about: every
        child got null for it, which is most likely a misspelt field name.
        """
        for path in self.templates.never_found() if self.parents else ():
            self.stream.logger.warning(
                "Stream '%s': include_from_parent names '%s', but none of the %d records of parent stream '%s' "
                "has it, so every %s is null. Check the name; the first parent record's fields: %s.",
                self.stream.name,
                path,
                self.parents,
                self.parent,
                included_name(path),
                ", ".join(self.templates.first_fields or []),
            )
        skipped = sum(self.skipped.values())
        detail = ", ".join(f"{count} x HTTP {status}" for status, count in sorted(self.skipped.items()))
        self.stream.logger.log(
            logging.WARNING if self.cut else logging.INFO,
            "Stream '%s': %d records for %d records of parent stream '%s'; %d parents skipped%s%s.",
            self.stream.name,
            self.records,
            self.parents,
            self.parent,
            skipped,
            f" ({detail})" if detail else "",
            f"; {self.cut} parents' children cut short (may be incomplete)" if self.cut else "",
        )
