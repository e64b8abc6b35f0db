"""The campaign worker: claims queued campaigns (and ones whose runner died) and runs them.

The API only queues campaigns; ``pigen worker`` processes, any number of them
on any machines sharing the database, do the work. Each run gets a thread of
the worker and one of the run slots (:mod:`pigen.service.campaigns.leases`),
so ``max_runs`` bounds the campaigns running at once in all workers together.
A worker asked to stop finishes the shards in hand and puts its campaigns back
in the queue; a killed one's campaigns are taken over when their leases run out.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from pigen.service.campaigns import leases
from pigen.service.campaigns.shards import ShardResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerOptions:
    """How a worker runs; the CLI fills it from the validated ``PIGEN_CAMPAIGN_*`` settings."""

    max_runs: int = 1  # run slots shared by every worker
    lease_seconds: float = leases.DEFAULT_LEASE_SECONDS
    poll_seconds: float = 2.0  # how often an idle worker looks for work
    device: str = "auto"


class CampaignWorker:
    """Polls the database for campaigns to run; each run on a thread of its own."""

    def __init__(self, engine: Engine, options: WorkerOptions | None = None,
                 on_shard: Callable[[int, ShardResult], None] | None = None) -> None:
        self.engine = engine
        self.options = options or WorkerOptions()
        self.on_shard = on_shard  # (campaign id, shard) after each shard, e.g. for tests
        self.stop = threading.Event()  # set it to stop; runs give their campaigns back
        self.runs_started = 0
        self._runs: dict[int, threading.Thread] = {}

    def run(self, drain: bool = False) -> None:
        """Work until :attr:`stop` is set (``drain``: until nothing is queued or running)."""
        try:
            while not self.stop.is_set():
                try:
                    self.step()
                    if drain and not self._runs and not leases.pending_campaigns(self.engine):
                        return
                except SQLAlchemyError as error:  # the database is away: try again later
                    log.warning("campaign worker: database error: %s", error)
                self.stop.wait(self.options.poll_seconds)
        finally:
            for thread in list(self._runs.values()):
                thread.join()
            self._runs.clear()

    def step(self) -> int:
        """Forget finished runs and start as many new ones as the free slots allow."""
        for campaign_id, thread in list(self._runs.items()):
            if not thread.is_alive():
                thread.join()
                del self._runs[campaign_id]
        started = 0
        while len(self._runs) < self.options.max_runs and not self.stop.is_set():
            owner = leases.new_owner()
            claimed = leases.claim_queued_run(self.engine, owner, self.options.lease_seconds,
                                              self.options.max_runs)
            if claimed is None:
                break
            thread = threading.Thread(target=self._run_one, args=(claimed, owner),
                                      name=f"campaign-{claimed}", daemon=True)
            self._runs[claimed] = thread
            thread.start()
            started += 1
        self.runs_started += started
        return started

    def _run_one(self, campaign_id: int, owner: str) -> None:
        from pigen.service.campaigns.runner import run_campaign

        def shard_done(result: ShardResult) -> None:
            if self.on_shard is not None:
                self.on_shard(campaign_id, result)

        log.info("campaign %s: run started by %s", campaign_id, owner)
        try:
            report = run_campaign(self.engine, campaign_id, device=self.options.device,
                                  on_shard=shard_done, owner=owner,
                                  lease_seconds=self.options.lease_seconds, stop=self.stop)
        except Exception as error:  # recorded by run_campaign (status failed + error)
            log.warning("campaign %s failed: %s", campaign_id, error)
            return
        log.info("campaign %s: %s (%d images in %d shards)", campaign_id,
                 "completed" if report.finished else "given back", report.images_made,
                 report.shards_run)
