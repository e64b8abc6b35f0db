"""The micro-batcher: gathering, routing results back, failing only the failing batch."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Hashable, Sequence

import pytest

from pigen.service.batching import MicroBatcher


def run(coroutine):  # type: ignore[no-untyped-def]
    return asyncio.run(coroutine)


class Recorder:
    """A batch function that doubles numbers, records batches, and fails on request."""

    def __init__(self, fail_on: int | None = None, delay: float = 0.0) -> None:
        self.batches: list[tuple[Hashable, list[int]]] = []
        self.threads: set[str] = set()
        self.fail_on = fail_on
        self.delay = delay

    def __call__(self, group: Hashable, items: Sequence[int]) -> list[int]:
        import time

        self.threads.add(threading.current_thread().name)
        self.batches.append((group, list(items)))
        if self.delay:
            time.sleep(self.delay)
        if self.fail_on is not None and self.fail_on in items:
            raise ValueError(f"cannot do {self.fail_on}")
        return [2 * i for i in items]


def test_concurrent_requests_share_a_batch_and_get_their_own_results() -> None:
    recorder = Recorder(delay=0.01)

    async def main() -> list[int]:
        batcher: MicroBatcher[int, int] = MicroBatcher(recorder, max_size=8, max_wait_ms=50)
        await batcher.start()
        try:
            return await asyncio.gather(*(batcher.submit("g", i) for i in range(20)))
        finally:
            await batcher.stop()

    results = run(main())
    assert results == [2 * i for i in range(20)]  # each caller got its own answer
    sizes = [len(items) for _, items in recorder.batches]
    assert sum(sizes) == 20 and max(sizes) == 8 and len(sizes) <= 4
    assert recorder.threads and all(t.startswith("pigen-batch") for t in recorder.threads)


def test_max_size_one_is_one_forward_per_request() -> None:
    recorder = Recorder()

    async def main() -> None:
        batcher: MicroBatcher[int, int] = MicroBatcher(recorder, max_size=1, max_wait_ms=50)
        await batcher.start()
        await asyncio.gather(*(batcher.submit("g", i) for i in range(5)))
        await batcher.stop()

    run(main())
    assert [len(items) for _, items in recorder.batches] == [1] * 5


def test_a_failing_batch_fails_only_its_callers() -> None:
    recorder = Recorder(fail_on=3)

    async def main() -> list[object]:
        batcher: MicroBatcher[int, int] = MicroBatcher(recorder, max_size=4, max_wait_ms=100)
        await batcher.start()
        first = await asyncio.gather(*(batcher.submit("g", i) for i in range(4)),
                                     return_exceptions=True)  # one batch: 0..3, fails
        second = await asyncio.gather(*(batcher.submit("g", i) for i in range(4, 8)),
                                      return_exceptions=True)
        await batcher.stop()
        return [*first, *second]

    results = run(main())
    assert all(isinstance(r, ValueError) for r in results[:4])
    assert results[4:] == [8, 10, 12, 14]  # the batcher keeps serving after a failure


def test_groups_never_share_a_forward() -> None:
    recorder = Recorder()

    async def main() -> list[int]:
        batcher: MicroBatcher[int, int] = MicroBatcher(recorder, max_size=16, max_wait_ms=50)
        await batcher.start()
        out = await asyncio.gather(*(batcher.submit(i % 2, i) for i in range(10)))
        await batcher.stop()
        return out

    assert run(main()) == [2 * i for i in range(10)]
    for group, items in recorder.batches:
        assert all(i % 2 == group for i in items)


def test_submit_needs_a_started_batcher_and_settings_are_checked() -> None:
    batcher: MicroBatcher[int, int] = MicroBatcher(Recorder())
    with pytest.raises(RuntimeError, match="not running"):
        run(batcher.submit("g", 1))
    with pytest.raises(ValueError, match="max_size"):
        MicroBatcher(Recorder(), max_size=0)
    with pytest.raises(ValueError, match="max_wait_ms"):
        MicroBatcher(Recorder(), max_wait_ms=-1)


def test_stop_fails_waiting_callers_instead_of_hanging() -> None:
    recorder = Recorder(delay=0.2)

    async def main() -> list[object]:
        batcher: MicroBatcher[int, int] = MicroBatcher(recorder, max_size=1, max_wait_ms=0)
        await batcher.start()
        tasks = [asyncio.create_task(batcher.submit("g", i)) for i in range(3)]
        await asyncio.sleep(0.05)
        await batcher.stop()
        return await asyncio.gather(*tasks, return_exceptions=True)

    results = run(main())
    assert any(isinstance(r, RuntimeError) for r in results)
