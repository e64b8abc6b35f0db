"""Run a campaign on a backend: hold its lease, make the unfinished shards, assemble the outputs.

``pigen worker`` (for the API) and ``pigen campaign run`` both call
:func:`run_campaign`. A run killed at any moment is resumed by running again
(or, for a worker's run, by any worker once its lease runs out): done shards
are skipped, the rest are redone from scratch, and the outputs are rebuilt
from the shards' parts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import Engine

from pigen.service.campaigns import leases, store
from pigen.service.campaigns.outputs import CampaignOutputs, clear_leftovers, finalize_outputs
from pigen.service.campaigns.shards import ShardResult
from pigen.service.campaigns.store import ShardInfo

Backend = Literal["local", "ray"]
BACKENDS: tuple[str, ...] = ("local", "ray")

log = logging.getLogger(__name__)


@dataclass
class RunReport:
    """What one run did (shards skipped because an earlier run finished them are not in it)."""

    campaign_id: int
    backend: str
    shards_run: int = 0
    images_made: int = 0
    seconds: dict[str, float] = field(default_factory=dict)  # summed per stage
    outputs: CampaignOutputs | None = None
    # False when the run stopped early (worker shutting down, or its lease was
    # taken over): the campaign is left for another run to finish.
    finished: bool = False


def run_campaign(engine: Engine, campaign_id: int, backend: Backend = "local",
                 workers: int = 0, progress: bool = False, device: str = "auto",
                 ray_num_cpus: int | None = None,
                 on_shard: Callable[[ShardResult], None] | None = None, *,
                 owner: str | None = None,
                 lease_seconds: float = leases.DEFAULT_LEASE_SECONDS,
                 stop: threading.Event | None = None) -> RunReport:
    """Make every image of a campaign not made yet, then write manifest and contact sheet.

    ``workers``: Ray actors for ``ray`` (0: one per GPU, else one per CPU);
    PNG-encoding threads for ``local`` (0: up to 4, one per core).
    ``progress`` shows a tqdm bar of images on stderr. ``owner`` is the lease
    holder of a run a worker has already claimed; without it the run takes the
    campaign's lease itself (no run slot). ``stop`` ends the run after the
    shards in hand and gives the campaign back to the queue. Raises
    :class:`~pigen.service.campaigns.store.CampaignError` before any work when
    the backend or the output folder is unusable, or another run holds the lease.
    """
    if backend not in BACKENDS:
        raise store.CampaignError(f"backend must be one of {BACKENDS}, not {backend!r}")
    if workers < 0:
        raise store.CampaignError(f"workers must be >= 0, got {workers}")
    if backend == "ray":
        from pigen.service.campaigns.ray_backend import require_ray

        require_ray()
    claimed = owner is not None
    owner = owner or leases.new_owner()
    try:
        campaign = store.prepare_run(engine, campaign_id)
    except store.CampaignError as error:
        if claimed:
            leases.fail_run(engine, campaign_id, owner, str(error))
        raise
    if not claimed:
        leases.acquire_run(engine, campaign_id, owner, lease_seconds)
    stop = stop or threading.Event()
    report = RunReport(campaign_id, backend)
    already = store.campaign_progress(engine, campaign_id).images_done

    from tqdm import tqdm

    bar = tqdm(total=campaign.n_images, initial=already, unit="img", disable=not progress,
               desc=f"campaign {campaign_id}", dynamic_ncols=True)

    def shard_done(result: ShardResult) -> None:
        report.shards_run += 1
        report.images_made += result.images
        for stage, seconds in result.seconds.items():
            report.seconds[stage] = report.seconds.get(stage, 0.0) + seconds
        bar.update(result.images)
        if on_shard is not None:
            on_shard(result)

    try:
        clear_leftovers(campaign.output_dir)  # a killed run's temporary files
        with leases.LeaseKeeper(engine, owner, lease_seconds) as keeper:
            if not _make_shards(engine, campaign, backend, owner, lease_seconds, workers,
                                device, ray_num_cpus, shard_done, stop, keeper.lost):
                if not keeper.lost.is_set():
                    leases.release_run(engine, campaign_id, owner)
                return report
            report.outputs = finalize_outputs(campaign)
    except BaseException as error:
        leases.fail_run(engine, campaign_id, owner, f"{type(error).__name__}: {error}")
        raise
    finally:
        bar.close()
    report.finished = leases.finish_run(engine, campaign_id, owner)
    return report


def _make_shards(engine: Engine, campaign: store.CampaignInfo, backend: str, owner: str,
                 lease_seconds: float, workers: int, device: str, ray_num_cpus: int | None,
                 shard_done: Callable[[ShardResult], None], stop: threading.Event,
                 lost: threading.Event) -> bool:
    """Make the campaign's shards until none is left (True) or the run must stop (False).

    A shard another run still holds (one presumed dead, whose lease has not run
    out) is waited for: once its lease runs out it is claimed and redone here.
    """
    def next_shard() -> ShardInfo | None:
        if stop.is_set() or lost.is_set():
            return None
        return leases.claim_next_shard(engine, campaign.id, owner, lease_seconds)

    def local_done(shard: ShardInfo, result: ShardResult) -> None:
        if leases.complete_shard(engine, shard, owner, result.images):
            shard_done(result)

    while True:
        if backend == "local":
            from pigen.service.campaigns.local import run_local

            run_local(engine, campaign, next_shard, local_done, device=_device(device),
                      encode_threads=workers, owner=owner)
        else:
            from pigen.service.campaigns.ray_backend import run_ray

            run_ray(engine, campaign, store.unfinished_shards(engine, campaign.id), shard_done,
                    workers=workers, num_cpus=ray_num_cpus)
        if stop.is_set() or lost.is_set():
            return False
        if not store.unfinished_shards(engine, campaign.id):
            return True
        stop.wait(lease_seconds / 3)


def _device(requested: str) -> str:
    from pigen.generator.device import resolve_device

    return str(resolve_device(requested))
