"""The micro-batcher: gathering, routing results back, failing only the failing batch."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Hashable, Sequence

import pytest

from pigen.service.batching import MicroBatcher, Overloaded


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


class Gate:
    """A batch function that doubles numbers, but holds each batch until opened."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.started = threading.Event()
        self.opened = threading.Event()

    def __call__(self, group: Hashable, items: Sequence[int]) -> list[int]:
        self.batches.append(list(items))
        self.started.set()
        self.opened.wait(timeout=30)
        return [2 * i for i in items]


def test_an_idle_batcher_runs_a_lone_request_at_once_and_batches_form_under_load() -> None:
    gate = Gate()

    async def main() -> list[int]:
        # No gathering window: nothing waits for company.
        batcher: MicroBatcher[int, int] = MicroBatcher(gate, max_size=32)
        await batcher.start()
        try:
            first = asyncio.create_task(batcher.submit("g", 0))
            await asyncio.to_thread(gate.started.wait, 30)  # ran alone, at once
            assert gate.batches == [[0]]
            rest = [asyncio.create_task(batcher.submit("g", i)) for i in range(1, 11)]
            await asyncio.sleep(0)  # they queue while the generator is busy
            assert batcher.queue_depth == 10
            gate.opened.set()
            return await asyncio.gather(first, *rest)
        finally:
            await batcher.stop()

    assert run(main()) == [2 * i for i in range(11)]
    assert gate.batches == [[0], list(range(1, 11))]  # the ten that waited: one forward


def test_a_full_queue_sheds_at_once_and_recovers() -> None:
    gate = Gate()
    shed: list[str] = []

    async def main() -> tuple[list[object], int]:
        batcher: MicroBatcher[int, int] = MicroBatcher(gate, max_size=8, max_queue=2,
                                                       on_shed=shed.append)
        await batcher.start()
        try:
            running = asyncio.create_task(batcher.submit("g", 0))
            await asyncio.to_thread(gate.started.wait, 30)
            queued = [asyncio.create_task(batcher.submit("g", i)) for i in (1, 2)]
            await asyncio.sleep(0)
            with pytest.raises(Overloaded) as refused:
                await batcher.submit("g", 3)
            assert refused.value.reason == "queue_full" and refused.value.retry_after_s >= 1
            gate.opened.set()
            done = await asyncio.gather(running, *queued)
            return done, await batcher.submit("g", 4)  # room again: served
        finally:
            await batcher.stop()

    done, after = run(main())
    assert done == [0, 2, 4] and after == 8
    assert shed == ["queue_full"]
    assert [3] not in gate.batches


def test_a_submit_past_its_deadline_is_shed_and_its_item_skipped() -> None:
    gate = Gate()
    shed: list[str] = []

    async def main() -> None:
        batcher: MicroBatcher[int, int] = MicroBatcher(gate, max_size=8, timeout_s=0.05,
                                                       on_shed=shed.append)
        await batcher.start()
        try:
            blocked = asyncio.create_task(batcher.submit("g", 0))
            await asyncio.to_thread(gate.started.wait, 30)
            with pytest.raises(Overloaded) as late:
                await batcher.submit("g", 1)  # queued behind a batch that never ends
            assert late.value.reason == "deadline"
            with pytest.raises(Overloaded):
                await blocked  # the running one has the same deadline
            gate.opened.set()
            batcher.timeout = 30.0
            assert await batcher.submit("g", 2) == 4
        finally:
            await batcher.stop()

    run(main())
    assert shed == ["deadline", "deadline"]
    assert gate.batches == [[0], [2]]  # the abandoned item 1 never ran


def test_queue_and_deadline_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="max_queue"):
        MicroBatcher(Recorder(), max_queue=0)
    with pytest.raises(ValueError, match="timeout_s"):
        MicroBatcher(Recorder(), timeout_s=0)


def test_finishing_a_batch_overlaps_the_next_forward_and_its_errors_reach_its_callers() -> None:
    recorder = Recorder()
    finishing = threading.Event()
    release = threading.Event()
    finished: list[list[int]] = []

    def finish(group: Hashable, items: Sequence[int], results: Sequence[int]) -> None:
        finishing.set()
        release.wait(timeout=30)
        if 13 in items:
            raise OSError("disk full")
        finished.append(list(items))

    async def main() -> tuple[object, ...]:
        batcher: MicroBatcher[int, int] = MicroBatcher(recorder, max_size=8, finish=finish)
        await batcher.start()
        try:
            first = asyncio.create_task(batcher.submit("g", 0))
            await asyncio.to_thread(finishing.wait, 30)
            second = asyncio.create_task(batcher.submit("g", 1))
            while len(recorder.batches) < 2:  # runs while batch [0] is still finishing
                await asyncio.sleep(0.001)
            assert not first.done() and finished == []  # callers wait for their finish
            release.set()
            done = await asyncio.gather(first, second)
            failed = await asyncio.gather(batcher.submit("g", 13), return_exceptions=True)
            return (*done, *failed)
        finally:
            await batcher.stop()

    zero, two, failed = run(main())
    assert (zero, two) == (0, 2) and finished == [[0], [1]]
    assert isinstance(failed, OSError)


def test_a_submit_whose_wait_would_outlast_its_deadline_is_refused_at_once() -> None:
    gate = Gate()
    shed: list[str] = []

    async def main() -> None:
        batcher: MicroBatcher[int, int] = MicroBatcher(gate, max_size=1, timeout_s=30,
                                                       on_shed=shed.append)
        await batcher.start()
        try:
            assert batcher.estimated_wait() is None  # no pace known: nothing refused on it
            gate.opened.set()
            assert await batcher.submit("g", 0) == 0  # learns the pace
            gate.opened.clear()
            # As if forwards took 10 s: with one running, the third queued forward behind
            # it would end past a 30 s deadline.
            batcher._forward_seconds.extend([10.0] * 3)
            running = asyncio.create_task(batcher.submit("g", 1))
            while len(gate.batches) < 2:
                await asyncio.sleep(0.001)
            queued = [asyncio.create_task(batcher.submit("g", i)) for i in (2, 3)]
            await asyncio.sleep(0)
            wait = batcher.estimated_wait()
            assert wait is not None and wait >= 40  # forwards: 1 running, 2 queued, its own
            with pytest.raises(Overloaded) as refused:
                await batcher.submit("g", 4)  # told now, not after 30 s
            assert refused.value.reason == "estimate" and refused.value.retry_after_s >= 1
            assert "deadline" in str(refused.value)
            assert not running.done()  # refused while the forward ahead still ran
            gate.opened.set()
            assert await asyncio.gather(running, *queued) == [2, 4, 6]
        finally:
            gate.opened.set()
            await batcher.stop()

    run(main())
    assert shed == ["estimate"]
    assert [4] not in gate.batches  # the refused item never ran


def test_an_idle_generator_takes_an_item_whatever_the_pace() -> None:
    recorder = Recorder()

    async def main() -> int:
        batcher: MicroBatcher[int, int] = MicroBatcher(recorder, max_size=4, timeout_s=1)
        await batcher.start()
        try:
            await batcher.submit("g", 0)
            batcher._forward_seconds.extend([100.0] * 3)  # slower than any deadline
            return await batcher.submit("g", 5)  # nothing ahead: it runs
        finally:
            await batcher.stop()

    assert run(main()) == 10


def test_the_wait_estimate_counts_forwards_not_items() -> None:
    # A slow lone forward (torch's first at a size) must not refuse a burst that one
    # more forward takes: 31 queued behind a running one is two forwards, not 32.
    gate = Gate()

    async def main() -> tuple[float | None, list[int]]:
        batcher: MicroBatcher[int, int] = MicroBatcher(gate, max_size=64, timeout_s=10)
        await batcher.start()
        try:
            batcher._forward_seconds.append(3.0)
            running = asyncio.create_task(batcher.submit("g", 0))
            await asyncio.to_thread(gate.started.wait, 30)
            queued = [asyncio.create_task(batcher.submit("g", i)) for i in range(1, 32)]
            await asyncio.sleep(0)
            wait = batcher.estimated_wait()  # the running forward + this burst's one
            gate.opened.set()
            return wait, await asyncio.gather(running, *queued)
        finally:
            gate.opened.set()
            await batcher.stop()

    wait, results = run(main())
    assert wait == 6.0
    assert results == [2 * i for i in range(32)]  # none refused
