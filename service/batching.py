"""The micro-batcher: concurrent requests' images gathered into one generator forward.

Callers ``await batcher.submit(group, item)``; one worker task takes what waits
and runs it in a single-thread executor — so the event loop keeps serving and
torch runs one batch at a time — and hands each caller its own result. Items
only share a batch with items of the same ``group`` (one generator version per
forward). A failing batch fails exactly its callers.

Dispatch is adaptive, as Triton's default (zero queue delay): an idle generator
runs a lone request at once, and batches form by themselves under load, from
the requests that arrived while the previous forward ran. ``max_wait_ms`` (0 by
default) adds a gathering window after the first item, for callers that prefer
fuller batches to latency.

An optional ``finish`` step (storing the results: file writes, fsync, database
rows) runs in a second thread while the next batch's forward runs; callers get
their results once their batch is finished, so its errors still reach them.

Backpressure: the queue holds at most ``max_queue`` items and every submit has
a deadline. A full queue or a passed deadline raises :class:`Overloaded` at
once, which the app answers with 503 and ``Retry-After``, so a burst beyond what
the generator can do is shed instead of growing every caller's wait.

Admission: a submit is refused at once (reason ``"estimate"``) when the work
ahead of it would not be done before its deadline: the forwards ahead (the one
running, and the queue in batches of ``max_size``) at the median time of recent
forwards, plus finishing its own batch. A caller that would be shed after
waiting is told now, so the items accepted are the ones that finish in time.
The estimate counts forwards, not items, because a forward's time barely grows
with its size on a CPU (a lone image costs nearly what a batch does), and the
median ignores the slow first forward at each new batch size.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import statistics
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger(__name__)

#: Why a submit was refused: the queue was full, the work ahead of it would outlast its
#: deadline (refused at submit), or its deadline passed while queued.
ShedReason = Literal["queue_full", "estimate", "deadline"]

#: Recent forwards whose median time is the admission estimate's pace.
PACE_WINDOW = 16


class Overloaded(RuntimeError):
    """The generator cannot take this item now; try again after ``retry_after_s``."""

    def __init__(self, reason: ShedReason, retry_after_s: int) -> None:
        what = {"queue_full": "the image queue is full",
                "estimate": "the images queued ahead would not be made before this one's "
                            "deadline",
                "deadline": "the image was not made before its deadline"}[reason]
        super().__init__(f"{what}; retry in {retry_after_s} s")
        self.reason = reason
        self.retry_after_s = retry_after_s


@dataclass
class _Pending(Generic[T, R]):
    group: Hashable
    item: T
    future: asyncio.Future[R] = field(repr=False)


#: run(group, items) -> one result per item, in order; called in the worker thread.
BatchFunction = Callable[[Hashable, Sequence[T]], Sequence[R]]
#: finish(group, items, results): work the callers wait for but the next forward need
#: not (storing the results); called in a second thread, overlapping the next run.
FinishFunction = Callable[[Hashable, Sequence[T], Sequence[R]], None]
#: on_batch(size, seconds): called on the event loop after each batch (metrics).
BatchObserver = Callable[[int, float], None]
#: on_shed(reason): called on the event loop for each refused submit (metrics).
ShedObserver = Callable[[ShedReason], None]


class MicroBatcher(Generic[T, R]):
    """Gather, run, route back. ``max_size=1`` is one forward per request (no batching)."""

    def __init__(self, run: BatchFunction[T, R], max_size: int = 32, max_wait_ms: float = 0.0,
                 on_batch: BatchObserver | None = None, max_queue: int = 256,
                 timeout_s: float = 10.0, on_shed: ShedObserver | None = None,
                 finish: FinishFunction[T, R] | None = None) -> None:
        if max_size < 1:
            raise ValueError(f"max_size must be >= 1, got {max_size}")
        if max_wait_ms < 0:
            raise ValueError(f"max_wait_ms must be >= 0, got {max_wait_ms}")
        if max_queue < 1:
            raise ValueError(f"max_queue must be >= 1, got {max_queue}")
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        self.max_size = max_size
        self.max_wait = max_wait_ms / 1000.0
        self.max_queue = max_queue
        self.timeout = timeout_s
        self._run = run
        self._finish = finish
        self._on_batch = on_batch
        self._on_shed = on_shed
        self._queue: asyncio.Queue[_Pending[T, R]] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._finisher: ThreadPoolExecutor | None = None
        self._finishing: asyncio.Task[None] | None = None  # the batch being finished
        self._seconds_per_item = 0.01  # forward + finish per item, for Retry-After
        # Seconds of recent forwards: the pace at which the queue drains (finishing a
        # batch overlaps the next forward, so it adds only to the item's own batch).
        self._forward_seconds: deque[float] = deque(maxlen=PACE_WINDOW)
        self._finish_seconds = 0.0  # the last batch's finishing time
        self._running_items = 0  # items in the forward running now

    @property
    def running(self) -> bool:
        return self._worker is not None and not self._worker.done()

    @property
    def queue_depth(self) -> int:
        """Items waiting for a forward (not counting the batch running now)."""
        return self._queue.qsize() if self._queue is not None else 0

    def estimated_wait(self) -> float | None:
        """Seconds until an item submitted now would be made: None before the first forward.

        The forward running now, then the queue and the new item in batches of
        ``max_size``, each at the median of recent forward times, plus the new
        item's own batch being finished.
        """
        if not self._forward_seconds:
            return None
        forwards = (1 if self._running_items else 0) + math.ceil(
            (self.queue_depth + 1) / self.max_size)
        return forwards * statistics.median(self._forward_seconds) + self._finish_seconds

    async def start(self) -> None:
        if self.running:
            return
        self._queue = asyncio.Queue(maxsize=self.max_queue)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pigen-batch")
        if self._finish is not None:
            self._finisher = ThreadPoolExecutor(max_workers=1,
                                                thread_name_prefix="pigen-batch-finish")
        self._worker = asyncio.create_task(self._work(), name="pigen-micro-batcher")

    async def stop(self) -> None:
        """Finish the batch in progress, fail whatever still waits, release the thread."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        if self._finishing is not None:  # its callers get their results
            with contextlib.suppress(asyncio.CancelledError):
                await self._finishing
            self._finishing = None
        if self._queue is not None:
            while not self._queue.empty():
                pending = self._queue.get_nowait()
                if not pending.future.done():
                    pending.future.set_exception(RuntimeError("the batcher stopped"))
        for executor in (self._executor, self._finisher):
            if executor is not None:
                executor.shutdown(wait=True)
        self._executor = self._finisher = None

    async def submit(self, group: Hashable, item: T) -> R:
        """Queue ``item`` and wait for its result (or the exception of its batch).

        Raises :class:`Overloaded` at once when the queue is full or the work ahead
        would outlast the deadline (:meth:`estimated_wait`), or when the result is
        not there within ``timeout_s``. An idle generator always takes the item.
        """
        if not self.running or self._queue is None:
            raise RuntimeError("the batcher is not running (start() it in the app's lifespan)")
        if self._running_items or self.queue_depth:
            wait = self.estimated_wait()
            if wait is not None and wait > self.timeout:
                raise self._shed("estimate")
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        try:
            self._queue.put_nowait(_Pending(group, item, future))
        except asyncio.QueueFull:
            raise self._shed("queue_full") from None
        try:
            # On timeout wait_for cancels the future: the worker then skips the item.
            return await asyncio.wait_for(future, self.timeout)
        except TimeoutError:
            raise self._shed("deadline") from None

    def _shed(self, reason: ShedReason) -> Overloaded:
        if self._on_shed is not None:
            self._on_shed(reason)
        # Long enough for what waits now to drain, at the recent pace.
        drain = (self.queue_depth + self.max_size) * self._seconds_per_item
        return Overloaded(reason, max(1, math.ceil(drain)))

    async def _work(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._collect(loop)
            # 1. split by group, keeping arrival order inside each
            groups: dict[Hashable, list[_Pending[T, R]]] = {}
            for pending in batch:
                if not pending.future.done():  # a caller that gave up needs no image
                    groups.setdefault(pending.group, []).append(pending)
            for group, members in groups.items():
                await self._run_group(loop, group, members)

    async def _collect(self, loop: asyncio.AbstractEventLoop) -> list[_Pending[T, R]]:
        """The next batch: the first item, plus what already waits (plus the window)."""
        assert self._queue is not None
        first = await self._queue.get()
        while first.future.done():  # its caller gave up (deadline): needs no image
            first = await self._queue.get()
        batch = [first]
        # The generator is idle here. Whatever arrived while it was busy goes now;
        # a lone request does not wait for company (unless a window is set).
        deadline = loop.time() + self.max_wait
        while len(batch) < self.max_size:
            if not self._queue.empty():
                pending = self._queue.get_nowait()
            else:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    pending = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    break
            if not pending.future.done():
                batch.append(pending)
        return batch

    async def _run_group(self, loop: asyncio.AbstractEventLoop, group: Hashable,
                         members: list[_Pending[T, R]]) -> None:
        # 2. run off the event loop, one batch at a time
        started = time.perf_counter()
        self._running_items = len(members)
        try:
            results = await loop.run_in_executor(
                self._executor, self._run, group, [m.item for m in members])
            self._forward_seconds.append(time.perf_counter() - started)
            if len(results) != len(members):
                raise RuntimeError(f"batch function returned {len(results)} results "
                                   f"for {len(members)} items")
        except asyncio.CancelledError:  # stopping mid-batch: nobody may wait forever
            for member in members:
                if not member.future.done():
                    member.future.set_exception(RuntimeError("the batcher stopped"))
            raise
        except Exception as error:  # 3a. the whole batch failed: tell only its callers
            log.warning("generator batch of %d failed: %s", len(members), error)
            for member in members:
                if not member.future.done():
                    member.future.set_exception(error)
            return
        finally:
            self._running_items = 0
        if self._finish is None:
            self._deliver(members, results, started)
            return
        # 3b. pipelined: this batch is finished while the next one runs; at most
        # one batch is being finished at a time.
        if self._finishing is not None:
            await self._finishing
        self._finishing = asyncio.create_task(
            self._finish_group(loop, group, members, results, started))

    async def _finish_group(self, loop: asyncio.AbstractEventLoop, group: Hashable,
                            members: list[_Pending[T, R]], results: Sequence[R],
                            started: float) -> None:
        assert self._finish is not None
        finishing = time.perf_counter()
        try:
            await loop.run_in_executor(self._finisher, self._finish, group,
                                       [m.item for m in members], results)
            self._finish_seconds = time.perf_counter() - finishing
        except BaseException as error:  # stopping, or the batch could not be finished
            if not isinstance(error, asyncio.CancelledError):
                log.warning("finishing a generator batch of %d failed: %s", len(members), error)
            for member in members:
                if not member.future.done():
                    member.future.set_exception(
                        RuntimeError("the batcher stopped")
                        if isinstance(error, asyncio.CancelledError) else error)
            if isinstance(error, Exception):
                return
            raise
        self._deliver(members, results, started)

    def _deliver(self, members: list[_Pending[T, R]], results: Sequence[R],
                 started: float) -> None:
        """Route each result to its caller; observe the batch."""
        for member, result in zip(members, results, strict=True):
            if not member.future.done():
                member.future.set_result(result)
        seconds = time.perf_counter() - started
        self._seconds_per_item = 0.8 * self._seconds_per_item + 0.2 * seconds / len(members)
        if self._on_batch is not None:
            self._on_batch(len(members), seconds)
