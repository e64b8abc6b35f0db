"""The local backend: shards claimed one after another, made in this process, pipelined.

The per-shard steps are those of :meth:`ShardContext.make_shard` (what each Ray
actor runs), overlapped three ways so the generator is rarely idle: while shard
k is generated on the main thread, shard k+1 is claimed and its users profiled
on a helper thread, and shard k-1's PNGs are encoded and written on a small
pool (zlib and torch release the GIL). A shard is reported done only after all
its files are.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from sqlalchemy import Engine

from pigen.service.campaigns.shards import PreparedShard, ShardContext, ShardResult
from pigen.service.campaigns.store import CampaignInfo, ShardInfo


def run_local(engine: Engine, campaign: CampaignInfo,
              next_shard: Callable[[], ShardInfo | None],
              on_shard: Callable[[ShardInfo, ShardResult], None], device: str = "cpu",
              encode_threads: int = 0, owner: str | None = None) -> None:
    """Make shards as ``next_shard`` hands them out (claimed), until it returns None.

    ``on_shard`` hears about each shard once its files are all written, in the
    order they were claimed. ``encode_threads`` is the PNG-writing pool size
    (0: up to 4, one per core). The generator is loaded only if there is a shard.
    """
    first = next_shard()
    if first is None:
        return
    context = ShardContext(engine, campaign, device=device, encode_threads=encode_threads,
                           owner=owner)

    def claim_and_prepare() -> PreparedShard | None:
        shard = next_shard()
        return None if shard is None else context.prepare(shard)

    def finish(prepared: PreparedShard, writes: list[Future[None]]) -> None:
        context.wait_written(prepared, writes)
        on_shard(prepared.shard, prepared.result())

    try:
        with ThreadPoolExecutor(1, thread_name_prefix="prepare") as helper:
            upcoming: Future[PreparedShard | None] = helper.submit(context.prepare, first)
            writing: tuple[PreparedShard, list[Future[None]]] | None = None
            while (prepared := upcoming.result()) is not None:
                upcoming = helper.submit(claim_and_prepare)
                images = context.generate(prepared)
                if writing is not None:
                    finish(*writing)
                writing = (prepared, context.write_images(prepared, images))
            if writing is not None:
                finish(*writing)
    finally:
        context.close()
