"""Who runs a campaign and which shard each runner makes: expiring leases, compare-and-set.

Every claim is one ``UPDATE ... WHERE <still free>`` whose row count says
whether it won, so two runners racing for a run or a shard never both get it
(PostgreSQL re-checks the condition on the row a concurrent winner committed;
SQLite serialises writers). A lease lasts ``seconds`` and is renewed by its
holder (:class:`LeaseKeeper`) while it works; one nobody renews (its process
was killed) runs out and may be taken over, so a dead runner's campaign is
resumed and its half-made shards are redone.

A worker's run also holds one of ``slots`` run slots: a partial unique index
over running campaigns makes holding the same slot twice impossible, so the
slots bound how many campaigns run at once in all workers together. A run
from the command line (``pigen campaign run``) takes the lease without a slot.
Times are the runners' clocks (UTC); keep them in sync well within a lease.
A run whose holder ran on this machine in a process that is gone (kill -9) is
taken over at once instead of after its lease; whoever takes a run over frees
the shards its predecessor held, to be redone.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import datetime, timedelta
from types import TracebackType

from sqlalchemy import ColumnElement, Engine, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import InstrumentedAttribute

from pigen.data.schema import Campaign, CampaignShard, utcnow
from pigen.service.campaigns.store import CampaignError, ShardInfo

log = logging.getLogger(__name__)

#: Lease length when the caller does not say (the ``campaign_lease_seconds`` default).
DEFAULT_LEASE_SECONDS = 60.0
#: Statuses of a campaign a marketer has asked to run and that is not finished.
PENDING = ("queued", "running")


def new_owner() -> str:
    """A lease holder's name: host, process and a random tag (unique per run)."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def holder_is_gone(owner: str | None) -> bool:
    """True when ``owner`` ran on this machine in a process that no longer exists."""
    host, _, rest = (owner or "").partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname()[:80] or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):  # someone else's process, or no such pid
        return False
    return False


def _free(expires: InstrumentedAttribute[datetime | None], now: datetime
          ) -> ColumnElement[bool]:
    """Nobody holds it: no lease, or one that ran out before ``now``."""
    return or_(expires.is_(None), expires < now)


# -- runs -------------------------------------------------------------------------------


def enqueue(engine: Engine, campaign_id: int) -> str:
    """Ask for a campaign to be run by a worker; returns its status afterwards.

    ``created`` and ``failed`` campaigns become ``queued``; queued and running
    ones are left as they are. Raises ``LookupError`` for an unknown id and
    :class:`CampaignError` for a completed campaign.
    """
    with engine.begin() as connection:
        connection.execute(update(Campaign).where(
            Campaign.id == campaign_id, Campaign.status.in_(("created", "failed"))
        ).values(status="queued", error=None, completed_at=None))
        status = connection.execute(
            select(Campaign.status).where(Campaign.id == campaign_id)).scalar_one_or_none()
    if status is None:
        raise LookupError(f"no campaign {campaign_id}")
    if status == "completed":
        raise CampaignError(f"campaign {campaign_id} is completed: define a new one to "
                            "make other images")
    return status


def claim_queued_run(engine: Engine, owner: str, seconds: float, slots: int,
                     now: datetime | None = None) -> int | None:
    """A worker's claim: the campaign it now runs (holding a run slot), or None.

    Campaigns whose runner died (lease run out) come first, oldest first, then
    queued ones. None when all ``slots`` are held or nothing is waiting.
    """
    now = now or utcnow()
    with engine.connect() as connection:
        running = connection.execute(
            select(Campaign.id, Campaign.run_slot, Campaign.lease_expires_at,
                   Campaign.lease_owner)
            .where(Campaign.status == "running").order_by(Campaign.id)).all()
        queued = list(connection.execute(
            select(Campaign.id).where(Campaign.status == "queued").order_by(Campaign.id)
            .limit(slots * 4)).scalars())
    held = {cid: slot for cid, slot, _, _ in running if slot is not None}
    gone = {cid: holder for cid, _, _, holder in running if holder_is_gone(holder)}
    orphans = [cid for cid, _, expires, _ in running
               if expires is None or expires < now or cid in gone]
    if sum(1 for cid in held if cid not in orphans) >= slots:
        return None
    for campaign_id in [*orphans, *queued]:
        taken = set(held.values()) - {held.get(campaign_id)}
        for slot in (s for s in range(slots) if s not in taken):
            try:
                won = _take_run(engine, campaign_id, owner, now, seconds, slot,
                                gone_holder=gone.get(campaign_id))
            except IntegrityError:  # another worker took this slot meanwhile
                continue
            if won:
                return campaign_id
            break  # another worker took this campaign meanwhile
    return None


def acquire_run(engine: Engine, campaign_id: int, owner: str, seconds: float,
                now: datetime | None = None) -> None:
    """The command line's claim on one campaign (no run slot: an operator's explicit run).

    Raises :class:`CampaignError` naming the holder when another run's lease is
    live, ``LookupError`` for an unknown id.
    """
    now = now or utcnow()
    if _take_run(engine, campaign_id, owner, now, seconds, slot=None, any_status=True):
        return
    with engine.connect() as connection:
        row = connection.execute(select(Campaign.lease_owner, Campaign.lease_expires_at)
                                 .where(Campaign.id == campaign_id)).one_or_none()
    if row is None:
        raise LookupError(f"no campaign {campaign_id}")
    holder, until = row
    if holder_is_gone(holder) and _take_run(engine, campaign_id, owner, now, seconds,
                                            slot=None, gone_holder=holder):
        return
    raise CampaignError(f"campaign {campaign_id} is being run by {holder} (lease until "
                        f"{until:%H:%M:%S} UTC, renewed while it works): wait for it; "
                        "a run that was killed lets go when its lease runs out")


def _take_run(engine: Engine, campaign_id: int, owner: str, now: datetime, seconds: float,
              slot: int | None, any_status: bool = False, gone_holder: str | None = None
              ) -> bool:
    """The compare-and-set: the run becomes ``owner``'s only if nobody holds it.

    Held by ``gone_holder`` (a process of this machine that is gone) counts as free.
    The shards a predecessor held are freed in the same transaction.
    """
    waiting = Campaign.status != "running" if any_status else Campaign.status == "queued"
    free = _free(Campaign.lease_expires_at, now)
    if gone_holder is not None:
        free = or_(free, Campaign.lease_owner == gone_holder)
    with engine.begin() as connection:
        won = connection.execute(update(Campaign).where(
            Campaign.id == campaign_id, or_(waiting, and_(Campaign.status == "running", free))
        ).values(status="running", run_slot=slot, lease_owner=owner,
                 lease_expires_at=now + timedelta(seconds=seconds), error=None,
                 completed_at=None, started_at=func.coalesce(Campaign.started_at, now)))
        if won.rowcount == 1:
            connection.execute(update(CampaignShard).where(
                CampaignShard.campaign_id == campaign_id, CampaignShard.status == "running"
            ).values(status="pending", lease_owner=None, lease_expires_at=None))
    return won.rowcount == 1


def finish_run(engine: Engine, campaign_id: int, owner: str) -> bool:
    """Mark the run completed (and free its slot) if ``owner`` still holds it."""
    return _end_run(engine, campaign_id, owner, status="completed", completed_at=utcnow(),
                    error=None)


def fail_run(engine: Engine, campaign_id: int, owner: str, error: str) -> bool:
    """Mark the run failed with ``error`` if ``owner`` still holds it."""
    return _end_run(engine, campaign_id, owner, status="failed", error=error[:2000])


def release_run(engine: Engine, campaign_id: int, owner: str) -> bool:
    """Give a run back (a worker stopping): queued again, for any worker to resume."""
    return _end_run(engine, campaign_id, owner, status="queued")


def _end_run(engine: Engine, campaign_id: int, owner: str, **values: object) -> bool:
    """Set the run's end state and let go of its slot and of the shards it still holds."""
    with engine.begin() as connection:
        ended = connection.execute(update(Campaign).where(
            Campaign.id == campaign_id, Campaign.status == "running",
            Campaign.lease_owner == owner
        ).values(lease_owner=None, lease_expires_at=None, run_slot=None, **values))
        connection.execute(update(CampaignShard).where(
            CampaignShard.campaign_id == campaign_id, CampaignShard.lease_owner == owner,
            CampaignShard.status == "running"
        ).values(status="pending", lease_owner=None, lease_expires_at=None))
    if ended.rowcount != 1:
        log.warning("campaign %s: the run of %s was taken over; %s not recorded",
                    campaign_id, owner, values.get("status"))
    return ended.rowcount == 1


def pending_campaigns(engine: Engine) -> int:
    """Campaigns queued or running (by anyone)."""
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(Campaign)
                                      .where(Campaign.status.in_(PENDING))).scalar_one())


# -- shards -----------------------------------------------------------------------------


def claim_next_shard(engine: Engine, campaign_id: int, owner: str, seconds: float,
                     now: datetime | None = None) -> ShardInfo | None:
    """Lease the first shard nobody holds (pending, or its lease ran out); None: none left."""
    now = now or utcnow()
    while True:
        with engine.connect() as connection:
            rows = connection.execute(
                select(CampaignShard.campaign_id, CampaignShard.shard, CampaignShard.start,
                       CampaignShard.size, CampaignShard.status, CampaignShard.attempt)
                .where(CampaignShard.campaign_id == campaign_id, _claimable(now))
                .order_by(CampaignShard.shard).limit(8)).all()
        if not rows:
            return None
        for row in rows:
            claimed = claim_shard(engine, ShardInfo(*row), owner, seconds, now)
            if claimed is not None:
                return claimed
        # Another runner won all of these meanwhile: look again.


def claim_shard(engine: Engine, shard: ShardInfo, owner: str, seconds: float,
                now: datetime | None = None) -> ShardInfo | None:
    """Lease this shard (one more attempt) if nobody holds it; None when someone does."""
    now = now or utcnow()
    with engine.begin() as connection:
        won = connection.execute(update(CampaignShard).where(
            CampaignShard.campaign_id == shard.campaign_id, CampaignShard.shard == shard.shard,
            _claimable(now)
        ).values(status="running", attempt=CampaignShard.attempt + 1, claimed_at=now,
                 lease_owner=owner, lease_expires_at=now + timedelta(seconds=seconds)))
        if won.rowcount != 1:
            return None
        attempt = connection.execute(select(CampaignShard.attempt).where(
            CampaignShard.campaign_id == shard.campaign_id,
            CampaignShard.shard == shard.shard)).scalar_one()
    return ShardInfo(shard.campaign_id, shard.shard, shard.start, shard.size, "running",
                     int(attempt))


def _claimable(now: datetime) -> ColumnElement[bool]:
    return or_(CampaignShard.status == "pending",
               and_(CampaignShard.status == "running",
                    _free(CampaignShard.lease_expires_at, now)))


def complete_shard(engine: Engine, shard: ShardInfo, owner: str, images: int) -> bool:
    """Record that every file of the shard is on disk, if ``owner`` still holds its lease.

    False when another runner took the shard over (it rewrites the same bytes).
    """
    with engine.begin() as connection:
        done = connection.execute(update(CampaignShard).where(
            CampaignShard.campaign_id == shard.campaign_id, CampaignShard.shard == shard.shard,
            CampaignShard.status == "running", CampaignShard.lease_owner == owner
        ).values(status="done", images=images, completed_at=utcnow(), lease_owner=None,
                 lease_expires_at=None))
    return done.rowcount == 1


def renew(engine: Engine, owner: str, seconds: float, now: datetime | None = None) -> bool:
    """Extend every lease ``owner`` holds (its run and its shards).

    False when ``owner`` holds no running campaign any more: its run was taken over.
    """
    until = (now or utcnow()) + timedelta(seconds=seconds)
    with engine.begin() as connection:
        runs = connection.execute(update(Campaign).where(
            Campaign.lease_owner == owner, Campaign.status == "running"
        ).values(lease_expires_at=until))
        connection.execute(update(CampaignShard).where(
            CampaignShard.lease_owner == owner, CampaignShard.status == "running"
        ).values(lease_expires_at=until))
    return runs.rowcount > 0


class LeaseKeeper:
    """Renews ``owner``'s leases every third of their length, on a daemon thread.

    ``lost`` is set when the run was taken over (this runner was presumed dead):
    the run then stops claiming shards and records nothing more.
    """

    def __init__(self, engine: Engine, owner: str, seconds: float) -> None:
        self.engine, self.owner, self.seconds = engine, owner, seconds
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"lease-{owner}", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self.seconds / 3):
            try:
                if not renew(self.engine, self.owner, self.seconds):
                    log.warning("lease of %s was taken over; stopping its run", self.owner)
                    self.lost.set()
                    return
            except SQLAlchemyError as error:  # the database is away: try again next time
                log.warning("could not renew the lease of %s: %s", self.owner, error)
