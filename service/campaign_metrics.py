"""Campaign progress as Prometheus gauges, read from the database at each scrape.

Campaigns run in workers, possibly on other machines; the database is where
their progress is visible to every replica, so any replica can say that a
running campaign has stopped moving (its worker hung, or died and nobody took
its lease over).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from pigen.data.schema import Campaign, CampaignShard

log = logging.getLogger(__name__)

RUNNING = "pigen_campaigns_running"
STALLED = "pigen_campaign_stalled_seconds"


class CampaignProgressCollector(Collector):
    """``pigen_campaigns_running`` and ``pigen_campaign_stalled_seconds``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Names only: registering must not query the database.
        yield from _families(0, 0.0)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            last_moves = running_campaigns_last_moved(self.engine)
        except SQLAlchemyError as error:  # no figures rather than a failed scrape
            log.warning("campaign metrics unavailable: %s", error)
            return
        now = datetime.now(UTC)
        stalled = max(((now - moved).total_seconds() for moved in last_moves), default=0.0)
        yield from _families(len(last_moves), max(stalled, 0.0))


def running_campaigns_last_moved(engine: Engine) -> list[datetime]:
    """When each running campaign last moved: its start, or its latest finished shard."""
    query = (select(Campaign.started_at, Campaign.created_at,
                    func.max(CampaignShard.completed_at))
             .outerjoin(CampaignShard, CampaignShard.campaign_id == Campaign.id)
             .where(Campaign.status == "running")
             .group_by(Campaign.id, Campaign.started_at, Campaign.created_at))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [max(t for t in row if t is not None) for row in rows]


def _families(running: int, stalled_s: float) -> Iterator[GaugeMetricFamily]:
    yield GaugeMetricFamily(RUNNING, "Campaigns in the running state.", value=running)
    yield GaugeMetricFamily(
        STALLED, "Seconds since the running campaign that moved least recently last moved "
        "(started, or finished a shard); 0 when none runs.", value=stalled_s)
