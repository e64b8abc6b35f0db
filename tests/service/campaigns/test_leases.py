"""Run and shard leases: compare-and-set claims that expire, on SQLite and PostgreSQL.

Claimers race on real threads against the real database; expiry is tested with
explicit clock readings (``now``), so nothing here depends on how fast it runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import Engine, select

from pigen.data.schema import Campaign, CampaignShard, utcnow
from pigen.service.campaigns import leases
from pigen.service.campaigns.runner import run_campaign
from pigen.service.campaigns.store import CampaignError, create_campaign
from tests.service.campaigns.test_run import spec

T = TypeVar("T")
LEASE = 60.0


def race(n: int, work: Callable[[int], T]) -> list[T]:
    """Run ``work(k)`` on ``n`` threads released together; their results (errors re-raised)."""
    barrier = threading.Barrier(n)
    results: list[T | None] = [None] * n
    errors: list[BaseException] = []

    def run(k: int) -> None:
        try:
            barrier.wait()
            results[k] = work(k)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results  # type: ignore[return-value]


def test_concurrent_claimers_never_get_the_same_shard(store_engine: Engine,
                                                      tmp_path: Path) -> None:
    campaign = create_campaign(store_engine, spec(tmp_path / "out", shard_size=1))
    assert campaign.n_shards == 22

    def claim_all(k: int) -> list[int]:
        owner, got = f"claimer-{k}", []
        while (shard := leases.claim_next_shard(store_engine, campaign.id, owner, LEASE)):
            got.append(shard.shard)
        return got

    claimed = race(4, claim_all)
    every = [shard for got in claimed for shard in got]
    assert sorted(every) == list(range(22))  # each shard exactly once, none left out
    with store_engine.connect() as connection:
        rows = connection.execute(select(CampaignShard.shard, CampaignShard.lease_owner,
                                         CampaignShard.attempt)
                                  .where(CampaignShard.campaign_id == campaign.id)).all()
    holder = {shard: f"claimer-{k}" for k, got in enumerate(claimed) for shard in got}
    assert {shard: owner for shard, owner, _ in rows} == holder
    assert {attempt for _, _, attempt in rows} == {1}


def test_an_expired_shard_lease_is_retaken_and_a_renewed_one_is_not(store_engine: Engine,
                                                                    tmp_path: Path) -> None:
    campaign = create_campaign(store_engine, spec(tmp_path / "out", shard_size=10))
    t0 = utcnow()
    first = leases.claim_next_shard(store_engine, campaign.id, "dead", LEASE, now=t0)
    kept = leases.claim_next_shard(store_engine, campaign.id, "alive", LEASE, now=t0)
    assert first is not None and kept is not None
    assert (first.shard, first.attempt, kept.shard) == (0, 1, 1)
    # "alive" renews at t0 + 50s; "dead" never does (its process was killed).
    leases.renew(store_engine, "alive", LEASE, now=t0 + timedelta(seconds=50))
    # Before the lease runs out nobody else gets shard 0.
    before = leases.claim_next_shard(store_engine, campaign.id, "heir", LEASE,
                                     now=t0 + timedelta(seconds=59))
    assert before is not None and before.shard == 2
    after = t0 + timedelta(seconds=61)
    retaken = leases.claim_next_shard(store_engine, campaign.id, "heir", LEASE, now=after)
    assert retaken is not None and (retaken.shard, retaken.attempt) == (0, 2)
    # Shard 1 was renewed, shard 2 is held by the heir: nothing else to take.
    assert leases.claim_next_shard(store_engine, campaign.id, "other", LEASE, now=after) is None
    # The presumed-dead holder can no longer record the shard; its heir can.
    assert not leases.complete_shard(store_engine, first, "dead", images=4)
    assert leases.complete_shard(store_engine, retaken, "heir", images=4)


def test_run_slots_bound_the_runs_at_once(store_engine: Engine, tmp_path: Path) -> None:
    ids = [create_campaign(store_engine, spec(tmp_path / f"c{k}", "top=2")).id
           for k in range(4)]
    for campaign_id in ids:
        assert leases.enqueue(store_engine, campaign_id) == "queued"

    won = race(6, lambda k: leases.claim_queued_run(store_engine, f"worker-{k}", LEASE,
                                                    slots=2))
    running = [campaign_id for campaign_id in won if campaign_id is not None]
    assert sorted(running) == ids[:2]  # two slots: two runs, the oldest queued first
    assert sorted(_slots(store_engine).values()) == [0, 1]
    assert leases.claim_queued_run(store_engine, "late", LEASE, slots=2) is None

    holder = _owner(store_engine, ids[0])
    assert leases.finish_run(store_engine, ids[0], holder)
    assert leases.claim_queued_run(store_engine, "late", LEASE, slots=2) == ids[2]
    # A run whose worker died (lease ran out) comes back before the queued one.
    later = utcnow() + timedelta(seconds=LEASE + 1)
    assert leases.claim_queued_run(store_engine, "heir", LEASE, slots=2, now=later) == ids[1]
    assert _owner(store_engine, ids[1]) == "heir"
    assert leases.claim_queued_run(store_engine, "heir2", LEASE, slots=2) is None


def test_a_command_line_run_waits_for_a_live_lease(store_engine: Engine,
                                                   tmp_path: Path) -> None:
    campaign = create_campaign(store_engine, spec(tmp_path / "out", "top=2"))
    leases.enqueue(store_engine, campaign.id)
    assert leases.claim_queued_run(store_engine, "worker-1", LEASE, slots=1) == campaign.id
    with pytest.raises(CampaignError, match="is being run by worker-1"):
        run_campaign(store_engine, campaign.id)
    with store_engine.connect() as connection:
        attempts = connection.execute(select(CampaignShard.attempt).where(
            CampaignShard.campaign_id == campaign.id)).scalars().all()
    assert set(attempts) == {0}  # the refused run touched no shard


def test_enqueue_states(store_engine: Engine, tmp_path: Path) -> None:
    campaign = create_campaign(store_engine, spec(tmp_path / "out", "top=2"))
    with pytest.raises(LookupError, match="no campaign 999"):
        leases.enqueue(store_engine, 999)
    run_campaign(store_engine, campaign.id)
    with pytest.raises(CampaignError, match="is completed"):
        leases.enqueue(store_engine, campaign.id)


def _slots(engine: Engine) -> dict[int, int | None]:
    with engine.connect() as connection:
        return dict(connection.execute(select(Campaign.id, Campaign.run_slot)
                                       .where(Campaign.status == "running")).all())


def _owner(engine: Engine, campaign_id: int) -> str:
    with engine.connect() as connection:
        return str(connection.execute(select(Campaign.lease_owner)
                                      .where(Campaign.id == campaign_id)).scalar_one())
