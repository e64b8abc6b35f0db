"""Run a campaign on a backend: start, make the unfinished shards, assemble the outputs.

The CLI and the API both call :func:`run_campaign`. A run killed at any moment
is resumed by running again: done shards are skipped, the rest are redone
from scratch, and the outputs are rebuilt from the shards' parts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import Engine

from pigen.service.campaigns import store
from pigen.service.campaigns.outputs import CampaignOutputs, clear_leftovers, finalize_outputs
from pigen.service.campaigns.shards import ShardResult

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


def run_campaign(engine: Engine, campaign_id: int, backend: Backend = "local",
                 workers: int = 0, progress: bool = False, device: str = "auto",
                 ray_num_cpus: int | None = None,
                 on_shard: Callable[[ShardResult], None] | None = None) -> RunReport:
    """Make every image of a campaign not made yet, then write manifest and contact sheet.

    ``workers``: Ray actors for ``ray`` (0: one per GPU, else one per CPU);
    PNG-encoding threads for ``local`` (0: up to 4, one per core).
    ``progress`` shows a tqdm bar of images on stderr. Raises
    :class:`~pigen.service.campaigns.store.CampaignError` before any work when the
    backend or the output folder is unusable.
    """
    if backend not in BACKENDS:
        raise store.CampaignError(f"backend must be one of {BACKENDS}, not {backend!r}")
    if workers < 0:
        raise store.CampaignError(f"workers must be >= 0, got {workers}")
    if backend == "ray":
        from pigen.service.campaigns.ray_backend import require_ray

        require_ray()
    campaign = store.start_run(engine, campaign_id)
    clear_leftovers(campaign.output_dir)  # a killed run's temporary files
    shards = store.unfinished_shards(engine, campaign_id)
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
        if backend == "local":
            from pigen.service.campaigns.local import run_local

            run_local(engine, campaign, shards, shard_done, device=_device(device),
                      encode_threads=workers)
        else:
            from pigen.service.campaigns.ray_backend import run_ray

            run_ray(engine, campaign, shards, shard_done, workers=workers,
                    num_cpus=ray_num_cpus)
        report.outputs = finalize_outputs(campaign)
    except BaseException as error:
        store.fail_run(engine, campaign_id, f"{type(error).__name__}: {error}")
        raise
    finally:
        bar.close()
    store.finish_run(engine, campaign_id)
    return report


def _device(requested: str) -> str:
    from pigen.generator.device import resolve_device

    return str(resolve_device(requested))


def run_in_background(engine: Engine, campaign_id: int, device: str = "auto"
                      ) -> threading.Thread:
    """Run a campaign on a daemon thread (the API's ``start``); failures land in its status.

    A server that stops mid-run leaves the campaign resumable with
    ``pigen campaign run ID``.
    """

    def work() -> None:
        try:
            run_campaign(engine, campaign_id, device=device)
        except Exception as error:  # recorded by run_campaign (status failed + error)
            log.warning("campaign %s failed: %s", campaign_id, error)

    thread = threading.Thread(target=work, name=f"campaign-{campaign_id}", daemon=True)
    thread.start()
    return thread
