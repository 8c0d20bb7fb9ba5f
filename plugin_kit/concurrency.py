"""Fetching pages concurrently while still writing them in order.

:class:`AheadTuner` chooses how many page requests go ahead of the page being written, while a
stream runs, and :class:`DaemonPool` runs them; :func:`in_order` runs whole page sequences
(date windows) on worker threads and gives back their pages sequence by sequence.

How many requests go ahead: a fixed number is wrong one way or the other. On an API that
answers in 100 ms, one request at a time gives at most 10 pages a second whatever the rate
limit allows; on one that answers about as fast as the tap writes a page, requests ahead only
contend with the writer for the interpreter lock (measured on a local server answering 1,000-record pages in about a
millisecond: 200,000 records took 0.83 s one page at a time, 1.01 s with four in flight). So
the tuner tries more only while the writer waits for pages, and keeps a step only if it raised
the page rate.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from types import TracebackType
from typing import Any, TypeVar

T = TypeVar("T")

#: Pages per measurement window (at least; and at least two rounds of the requests ahead,
#: since pages asked for together arrive together).
WINDOW_PAGES = 3
#: Seconds a measurement window lasts at least (a few pages of a fast API are too noisy).
WINDOW_SECONDS = 0.05
#: A step up is kept only if the page rate rose by at least this factor.
MIN_GAIN = 1.1
#: Windows to wait before trying again after a step that did not pay (doubles each time).
FIRST_HOLD = 8


class AheadTuner:
    """Chooses how many requests are in flight while a page is written (0 to ``most``).

    Feed it each page's timing with :meth:`page_arrived`; read :attr:`ahead`. Every
    :data:`WINDOW_PAGES` pages it compares the page rate with the window before a step: when
    the writer spent more time waiting for pages than working on them, it doubles ``ahead``
    (0, 2, 4, 8, ... up to ``most``; one request ahead of a page asked for as soon as the
    previous one arrives gains next to nothing); a step that did not raise the rate by
    :data:`MIN_GAIN` is undone and not tried again for a while.

    Args:
        most: The most requests in flight (config ``pagination.max_concurrency``).
    """

    def __init__(self, most: int) -> None:
        self.most = most
        self.ahead = 0
        self.most_ahead = 0
        self._previous: int | None = None  # ``ahead`` before the step being judged
        self._rate_before = 0.0
        self._hold = 0
        self._next_hold = FIRST_HOLD
        self._last_arrival: float | None = None
        self._window_start: float | None = None
        self._pages = 0
        self._waited = self._worked = 0.0
        self._settle = 0  # pages to let by after a step (asked for before it) before measuring

    def page_arrived(self, asked: float, arrived: float) -> None:
        """Record one page: asked for its response at ``asked``, had it at ``arrived`` (monotonic seconds)."""
        if self._last_arrival is None:  # the first page's wait includes connecting
            self._last_arrival = self._window_start = arrived
            return
        waited, worked = arrived - asked, asked - self._last_arrival
        self._last_arrival = arrived
        if self._settle:
            self._settle -= 1
            self._window_start = arrived
            return
        self._waited += waited
        self._worked += worked
        self._pages += 1
        elapsed = arrived - (self._window_start or arrived)
        if self._pages < max(WINDOW_PAGES, 2 * self.ahead) or elapsed < WINDOW_SECONDS:
            return
        rate = self._pages / elapsed if elapsed > 0 else float("inf")
        self._decide(rate)
        self._window_start, self._pages, self._waited, self._worked = arrived, 0, 0.0, 0.0

    def _decide(self, rate: float) -> None:
        if self._previous is not None:
            if rate < self._rate_before * MIN_GAIN:
                self.ahead = self._previous
                self._hold, self._next_hold = self._next_hold, self._next_hold * 2
                self._settle = WINDOW_PAGES
            self._previous = None
        elif self._hold:
            self._hold -= 1
        elif self.ahead < self.most and self._waited > self._worked:
            self._previous, self._rate_before = self.ahead, rate
            self.ahead = min(self.most, max(2, self.ahead * 2))
            self.most_ahead = max(self.most_ahead, self.ahead)
            self._settle = self.ahead


#: Seconds a worker waits for room before it checks whether the reader has stopped.
_PUT_POLL_SECONDS = 0.05
#: Items the producer being read may hold beyond the shared budget, so it never waits on others.
HEAD_ITEMS = 3
_ITEM, _DONE, _ERROR = range(3)


def in_order(
    producers: Iterable[Callable[[], Iterator[T]]],
    workers: int,
    *,
    held: int | None = None,
    thread_name_prefix: str = "window",
    stop: threading.Event | None = None,
) -> Iterator[T]:
    """Run each producer on a worker thread and yield all their items, producer by producer.

    The items come out exactly as if the producers had run one after another: every item of
    the first producer, then every item of the second, and so on; only the waiting overlaps.
    ``concurrent.futures`` has no ordered, bounded form of this (``Executor.map`` keeps every
    result in memory), hence this function.

    At most ``workers`` producers run at once and at most ``2 * workers`` are started or
    queued ahead of the one being read. Producers share one budget of ``held`` items waiting
    to be read, so a producer far ahead may use what the others do not; the one being read
    may always hold :data:`HEAD_ITEMS` more, so it never waits on the others. At most
    ``held + HEAD_ITEMS`` items are held (pages, for the tap). Workers are daemon threads: the
    process can end while one is still waiting on a request.

    Args:
        producers: Callables returning an iterator each (called on a worker thread); read lazily.
        workers: Most producers running at once (>= 1).
        held: Items the producers may hold in all (default ``6 * workers``).
        thread_name_prefix: Name prefix of the worker threads (shows in thread dumps).
        stop: Set when the reader is done or stops early, so that producers can also stop
            where this function cannot see them (in a retry wait); default a private event.

    Yields:
        The producers' items, in producer order and, within a producer, in its order.

    Raises:
        Exception: Whatever a producer raised, re-raised when the reader reaches it (after
            the items that producer yielded before it). When the reader stops early (an
            error, or the generator is closed), running producers stop at their next item and
            those not started never start.
    """
    stop = stop or threading.Event()
    budget = held if held is not None else 6 * workers
    lock = threading.Condition()
    counts = {"held": 0, "head": 0}  # items waiting in all; the number of the producer being read
    pending: deque[tuple[int, deque]] = deque()
    remaining = enumerate(producers)
    jobs: queue.Queue = queue.Queue()

    def may_put(number: int, out: deque) -> bool:
        return counts["held"] < budget or (counts["head"] == number and len(out) < HEAD_ITEMS)

    def run(number: int, produce: Callable[[], Iterator[T]], out: deque) -> None:
        try:
            for item in produce():
                with lock:
                    while not (stop.is_set() or may_put(number, out)):
                        lock.wait(_PUT_POLL_SECONDS)
                    if stop.is_set():
                        return
                    out.append((_ITEM, item))
                    counts["held"] += 1
                    lock.notify_all()
            ending: tuple[int, object] = (_DONE, None)
        except BaseException as exc:  # noqa: BLE001 - handed to the reader, which raises it
            ending = (_ERROR, exc)
        with lock:
            out.append(ending)
            lock.notify_all()

    def work() -> None:
        while not stop.is_set():
            job = jobs.get()
            if job is None:
                return
            run(*job)

    # Daemon threads, not a ThreadPoolExecutor: the interpreter joins an executor's threads at
    # exit, so an error or a signal would wait for every request in flight (up to its timeout)
    # and every retry wait (up to max_retry_wait) before the process ends.
    threads = [
        threading.Thread(target=work, name=f"{thread_name_prefix}-{number}", daemon=True) for number in range(workers)
    ]
    for thread in threads:
        thread.start()

    def top_up() -> None:
        while len(pending) < 2 * workers:
            number, produce = next(remaining, (None, None))
            if produce is None:
                return
            out: deque = deque()
            pending.append((number, out))
            jobs.put((number, produce, out))

    try:
        top_up()
        while pending:
            number, out = pending[0]
            with lock:
                counts["head"] = number
                lock.notify_all()
            while True:
                with lock:
                    while not out:
                        lock.wait()
                    kind, value = out.popleft()
                    if kind == _ITEM:
                        counts["held"] -= 1
                        lock.notify_all()
                if kind == _ITEM:
                    yield value
                    continue
                if kind == _ERROR:
                    raise value
                break
            pending.popleft()
            top_up()
    finally:
        stop.set()
        with lock:
            lock.notify_all()
        for _ in threads:
            jobs.put(None)  # wakes the idle workers; busy ones see `stop` at their next item


class DaemonPool:
    """Runs calls on daemon threads and returns their futures: an executor the process never waits for.

    A ``ThreadPoolExecutor`` is joined when its ``with`` block ends and again at interpreter
    exit, so an error or a signal would wait for every request in flight (up to its timeout)
    and every retry wait before the process ends; the standard library has no daemon option.
    Here :meth:`shutdown` returns at once: calls not started are cancelled, a call running
    goes on to its end (or its stream's next stop check) and its result is dropped, and the
    process can exit under it.

    Args:
        workers: Threads (>= 1), started at once.
        thread_name_prefix: Name prefix of the threads (shows in thread dumps).
    """

    def __init__(self, workers: int, thread_name_prefix: str) -> None:
        self._jobs: queue.SimpleQueue[tuple[Future, Callable[..., Any], tuple] | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"{thread_name_prefix}-{number}", daemon=True)
            for number in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Queue ``fn(*args)`` and return its future (its result, or the exception it raised)."""
        future: Future[T] = Future()
        self._jobs.put((future, fn, args))
        return future

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, fn, args = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # noqa: BLE001 - handed to whoever reads the future
                future.set_exception(exc)

    def shutdown(self) -> None:
        """Let each thread end after its current call; never waits."""
        for _ in self._threads:
            self._jobs.put(None)

    def __enter__(self) -> DaemonPool:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.shutdown()
