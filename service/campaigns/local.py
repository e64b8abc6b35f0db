"""The local backend: every unfinished shard, in order, in this process, pipelined.

The per-shard steps are those of :meth:`ShardContext.make_shard` (what each Ray
actor runs), overlapped three ways so the generator is rarely idle: while shard
k is generated on the main thread, shard k+1's users are profiled on a helper
thread and shard k-1's PNGs are encoded and written on a small pool (zlib and
torch release the GIL). A shard is recorded done only after all its files are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from sqlalchemy import Engine

from pigen.service.campaigns import store
from pigen.service.campaigns.shards import PreparedShard, ShardContext, ShardResult
from pigen.service.campaigns.store import CampaignInfo, ShardInfo


def run_local(engine: Engine, campaign: CampaignInfo, shards: Sequence[ShardInfo],
              on_shard: Callable[[ShardResult], None], device: str = "cpu",
              encode_threads: int = 0) -> None:
    """Make ``shards``; ``on_shard`` hears about each as it completes (in shard order).

    ``encode_threads`` is the PNG-writing pool size (0: up to 4, one per core).
    """
    if not shards:
        return
    context = ShardContext(engine, campaign, device=device, encode_threads=encode_threads)

    def prepare(shard: ShardInfo) -> PreparedShard:
        store.claim_shard(engine, shard)
        return context.prepare(shard)

    def finish(prepared: PreparedShard, writes: list[Future[None]]) -> None:
        context.wait_written(prepared, writes)
        result = prepared.result()
        store.complete_shard(engine, prepared.shard, result.images)
        on_shard(result)

    try:
        with ThreadPoolExecutor(1, thread_name_prefix="prepare") as helper:
            upcoming = helper.submit(prepare, shards[0])
            writing: tuple[PreparedShard, list[Future[None]]] | None = None
            for position in range(len(shards)):
                prepared = upcoming.result()
                if position + 1 < len(shards):
                    upcoming = helper.submit(prepare, shards[position + 1])
                images = context.generate(prepared)
                if writing is not None:
                    finish(*writing)
                writing = (prepared, context.write_images(prepared, images))
            if writing is not None:
                finish(*writing)
    finally:
        context.close()
