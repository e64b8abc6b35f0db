"""The Ray backend: Ray Data ``map_batches`` over the unfinished shards, on an actor pool.

Each actor loads the pinned generator once (one actor per GPU when the cluster
has GPUs, CPU actors otherwise) and runs the very function the local backend
runs, :func:`pigen.service.campaigns.shards.run_shard`, so both backends write
the same bytes. Actors reach the database through its URL (a SQLite file works
for a single machine; use PostgreSQL for a real cluster) and write to the
campaign's output folder, which must be shared storage on a cluster. The
database password never travels in task arguments or log lines: actors get the
URL with the password masked, and the password through Ray's object store
(:class:`DatabaseAddress`).

Ray is optional (``pip install 'pigen[ray]'``) and imported only here, lazily.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Engine, make_url

from pigen.service.campaigns.shards import ShardResult
from pigen.service.campaigns.store import CampaignError, CampaignInfo, ShardInfo

log = logging.getLogger(__name__)

INSTALL_HINT = "the Ray backend needs Ray: pip install 'pigen[ray]' (or use --backend local)"


def require_ray() -> Any:
    """The ``ray`` module with Ray Data, or :class:`CampaignError` saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise CampaignError(INSTALL_HINT) from None
    return ray


@dataclass(frozen=True)
class DatabaseAddress:
    """How an actor reaches the database, safe to pass as a task argument and to log.

    Task arguments show up in Ray's dashboard, state API and error reports, so
    ``url`` has its password masked (``***``); the password itself sits in Ray's
    object store, behind a reference the actor resolves with ``ray.get``.
    """

    url: str  # password masked
    # [ObjectRef of the password], or [] without one. Nested in a list, so Ray
    # passes the reference, never inlines the value into the task.
    password: tuple[Any, ...] = ()

    def resolve(self) -> str:
        """The full URL, password included (call it in the actor, never log it)."""
        if not self.password:
            return self.url
        import ray

        password = ray.get(self.password[0])
        return make_url(self.url).set(password=password).render_as_string(hide_password=False)


def database_address(engine: Engine) -> DatabaseAddress:
    """``engine``'s database as actors elsewhere reach it (SQLite path made absolute)."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        url = url.set(database=os.path.abspath(url.database))
    masked = url.render_as_string(hide_password=True)
    if url.password is None:
        return DatabaseAddress(masked)
    return DatabaseAddress(masked, (require_ray().put(str(url.password)),))


class ShardActor:
    """A Ray Data callable class: one :class:`ShardContext` (generator loaded) per actor."""

    def __init__(self, database: DatabaseAddress, campaign_id: int, device: str,
                 encode_threads: int) -> None:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        from pigen.data.database import make_engine
        from pigen.service.campaigns.shards import ShardContext
        from pigen.service.campaigns.store import load_campaign

        engine = make_engine(database.resolve())
        self.context = ShardContext(engine, load_campaign(engine, campaign_id), device=device,
                                    encode_threads=encode_threads)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from pigen.service.campaigns.shards import run_shard

        campaign_id = self.context.campaign.id
        results = [run_shard(self.context, ShardInfo(campaign_id, int(s), int(start), int(size),
                                                     "pending", 0))
                   for s, start, size in zip(batch["shard"], batch["start"], batch["size"],
                                             strict=True)]
        return {
            "shard": np.array([r.shard for r in results], dtype=np.int64),
            "images": np.array([r.images for r in results], dtype=np.int64),
            **{f"{stage}_s": np.array([r.seconds[stage] for r in results])
               for stage in ("conditions", "generate", "write")},
        }


def run_ray(engine: Engine, campaign: CampaignInfo, shards: Sequence[ShardInfo],
            on_shard: Callable[[ShardResult], None], workers: int = 0,
            num_cpus: int | None = None, encode_threads: int = 1) -> None:
    """Make ``shards`` on a pool of ``workers`` Ray actors (0: one per GPU, else per CPU).

    Connects to the cluster in ``RAY_ADDRESS`` if set, else starts a local one
    (``num_cpus`` caps it, e.g. for tests). ``on_shard`` hears of each shard as
    its row comes back.
    """
    ray = require_ray()
    if not shards:
        return
    if not ray.is_initialized():
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # ours is enough
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    device = "cuda" if gpus else "cpu"
    # One actor per GPU, else one per CPU, unless told how many.
    workers = workers or gpus or max(1, int(resources.get("CPU", 1)))
    database = database_address(engine)  # after ray.init: the password goes to its store
    log.info("campaign %d: %d shards on %d Ray actors (%s), database %s", campaign.id,
             len(shards), min(workers, len(shards)), device, database.url)
    dataset = ray.data.from_items(
        [{"shard": s.shard, "start": s.start, "size": s.size} for s in shards],
        override_num_blocks=len(shards))
    results = dataset.map_batches(
        ShardActor, batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=min(workers, len(shards))),
        num_gpus=1 if gpus else 0, num_cpus=1,
        fn_constructor_kwargs=actor_arguments(database, campaign.id, device, encode_threads))
    for row in results.iter_rows():
        on_shard(ShardResult(int(row["shard"]), int(row["images"]), {
            stage: float(row[f"{stage}_s"]) for stage in ("conditions", "generate", "write")}))


def actor_arguments(database: DatabaseAddress, campaign_id: int, device: str,
                    encode_threads: int) -> dict[str, Any]:
    """:class:`ShardActor`'s constructor arguments: what Ray records for each actor."""
    return {"database": database, "campaign_id": campaign_id, "device": device,
            "encode_threads": encode_threads}
