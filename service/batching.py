"""The micro-batcher: concurrent requests' images gathered into one generator forward.

Callers ``await batcher.submit(group, item)``; one worker task collects up to
``max_size`` waiting items (waiting at most ``max_wait_ms`` once the first has
arrived), runs them in a single-thread executor — so the event loop keeps
serving and torch runs one batch at a time — and hands each caller its own
result. Items only share a batch with items of the same ``group`` (one
generator version per forward). A failing batch fails exactly its callers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger(__name__)


@dataclass
class _Pending(Generic[T, R]):
    group: Hashable
    item: T
    future: asyncio.Future[R] = field(repr=False)


#: run(group, items) -> one result per item, in order; called in the worker thread.
BatchFunction = Callable[[Hashable, Sequence[T]], Sequence[R]]
#: on_batch(size, seconds): called on the event loop after each batch (metrics).
BatchObserver = Callable[[int, float], None]


class MicroBatcher(Generic[T, R]):
    """Gather, run, route back. ``max_size=1`` is one forward per request (no batching)."""

    def __init__(self, run: BatchFunction[T, R], max_size: int = 32, max_wait_ms: float = 5.0,
                 on_batch: BatchObserver | None = None) -> None:
        if max_size < 1:
            raise ValueError(f"max_size must be >= 1, got {max_size}")
        if max_wait_ms < 0:
            raise ValueError(f"max_wait_ms must be >= 0, got {max_wait_ms}")
        self.max_size = max_size
        self.max_wait = max_wait_ms / 1000.0
        self._run = run
        self._on_batch = on_batch
        self._queue: asyncio.Queue[_Pending[T, R]] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None

    @property
    def running(self) -> bool:
        return self._worker is not None and not self._worker.done()

    async def start(self) -> None:
        if self.running:
            return
        self._queue = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pigen-batch")
        self._worker = asyncio.create_task(self._work(), name="pigen-micro-batcher")

    async def stop(self) -> None:
        """Finish the batch in progress, fail whatever still waits, release the thread."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        if self._queue is not None:
            while not self._queue.empty():
                pending = self._queue.get_nowait()
                if not pending.future.done():
                    pending.future.set_exception(RuntimeError("the batcher stopped"))
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    async def submit(self, group: Hashable, item: T) -> R:
        """Queue ``item`` and wait for its result (or the exception of its batch)."""
        if not self.running or self._queue is None:
            raise RuntimeError("the batcher is not running (start() it in the app's lifespan)")
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(group, item, future))
        return await future

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
        assert self._queue is not None
        batch = [await self._queue.get()]
        deadline = loop.time() + self.max_wait
        while len(batch) < self.max_size:
            if not self._queue.empty():  # already waiting: take without a timer
                batch.append(self._queue.get_nowait())
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), remaining))
            except TimeoutError:
                break
        return batch

    async def _run_group(self, loop: asyncio.AbstractEventLoop, group: Hashable,
                         members: list[_Pending[T, R]]) -> None:
        # 2. run off the event loop, one batch at a time
        started = time.perf_counter()
        try:
            results = await loop.run_in_executor(
                self._executor, self._run, group, [m.item for m in members])
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
        # 3b. route each result to its caller
        for member, result in zip(members, results, strict=True):
            if not member.future.done():
                member.future.set_result(result)
        if self._on_batch is not None:
            self._on_batch(len(members), time.perf_counter() - started)
