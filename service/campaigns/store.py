"""Campaigns in the database: create, read, report (runs and shards are claimed in ``leases``).

A campaign row holds the definition and the pinned model versions;
``campaign_users`` the segment as resolved at creation; ``campaign_shards`` one
row per slice of users with its status and lease. A shard is ``done`` only after all its
files are on disk, so a run killed at any moment leaves each shard either done
(files complete) or not done (redone from scratch by the next run).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select

from pigen.data.database import session_scope
from pigen.data.history import latest_interaction_time
from pigen.data.model_registry import ModelVersionInfo, active_model_version
from pigen.data.schema import Campaign, CampaignShard, CampaignUser, ModelVersion, User
from pigen.service.campaigns.definition import CampaignSpec, Segment, describe_segment
from pigen.service.campaigns.segments import select_users

#: Written into the output folder at creation: marks it as this campaign's.
MARKER = "campaign.json"
_INSERT_CHUNK = 5_000


class CampaignError(ValueError):
    """A campaign cannot be created or run as asked; the message says why."""


@dataclass(frozen=True)
class CampaignInfo:
    """A detached view of a campaign row with its pinned model versions."""

    id: int
    name: str
    status: str
    segment: dict[str, Any]
    images_per_user: int
    diversity: float
    seed: int
    output_dir: Path
    shard_size: int
    batch_size: int
    generator: ModelVersionInfo
    recsys: ModelVersionInfo
    ratings_until: int
    n_users: int
    n_shards: int
    error: str | None
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None

    @property
    def n_images(self) -> int:
        return self.n_users * self.images_per_user

    def describe_segment(self) -> str:
        from pydantic import TypeAdapter

        return describe_segment(TypeAdapter(Segment).validate_python(self.segment))


@dataclass(frozen=True)
class ShardInfo:
    """Users ``[start, start + size)`` (positions in the campaign) of shard ``shard``."""

    campaign_id: int
    shard: int
    start: int
    size: int
    status: str
    attempt: int


@dataclass(frozen=True)
class CampaignProgress:
    """A campaign and how far its shards have got."""

    campaign: CampaignInfo
    shards_done: int
    shards_running: int
    images_done: int
    attempts: int  # shard claims so far: more than shards_done means some were redone

    @property
    def fraction(self) -> float:
        return self.shards_done / self.campaign.n_shards if self.campaign.n_shards else 1.0

    def to_dict(self) -> dict[str, Any]:
        c = self.campaign
        return {
            "id": c.id, "name": c.name, "status": c.status, "segment": c.segment,
            "segment_description": c.describe_segment(),
            "images_per_user": c.images_per_user, "diversity": c.diversity, "seed": c.seed,
            "output_dir": str(c.output_dir), "shard_size": c.shard_size,
            "batch_size": c.batch_size, "generator_version_id": c.generator.id,
            "recsys_version_id": c.recsys.id, "ratings_until": c.ratings_until,
            "users": c.n_users, "images": c.n_images,
            "progress": {"shards_done": self.shards_done, "shards_total": c.n_shards,
                         "shards_running": self.shards_running,
                         "images_done": self.images_done, "fraction": round(self.fraction, 4),
                         "shard_attempts": self.attempts},
            "error": c.error,
            "created_at": c.created_at.isoformat(),
            "started_at": c.started_at.isoformat() if c.started_at else None,
            "completed_at": c.completed_at.isoformat() if c.completed_at else None,
        }


# -- creation ---------------------------------------------------------------------------


def create_campaign(engine: Engine, spec: CampaignSpec) -> CampaignInfo:
    """Validate ``spec`` against the store and the disk, then record the campaign.

    Every check runs before anything is written: the pinned model versions exist,
    the segment selects known users, the output folder is new (or empty) and
    writable. Raises :class:`CampaignError` naming the problem.
    """
    from pigen.service.campaigns.segments import SegmentError

    generator, recsys = _pinned_versions(engine, spec)
    with engine.connect() as connection:
        try:
            user_ids = select_users(connection, spec.segment)
        except SegmentError as error:
            raise CampaignError(f"bad segment: {error}") from None
    output_dir = check_output_dir(spec.output_dir, campaign_id=None)
    ratings_until = latest_interaction_time(engine)
    n_shards = -(-len(user_ids) // spec.shard_size)
    with session_scope(engine) as session:
        row = Campaign(
            name=spec.name, status="created", segment=spec.segment.model_dump(mode="json"),
            images_per_user=spec.images_per_user, diversity=spec.diversity, seed=spec.seed,
            output_dir=str(output_dir), shard_size=spec.shard_size, batch_size=spec.batch_size,
            generator_version_id=generator.id, recsys_version_id=recsys.id,
            ratings_until=ratings_until, n_users=len(user_ids), n_shards=n_shards)
        session.add(row)
        session.flush()
        campaign_id = row.id
        for start in range(0, len(user_ids), _INSERT_CHUNK):
            session.execute(insert(CampaignUser), [
                {"campaign_id": campaign_id, "position": start + k, "user_id": user_id}
                for k, user_id in enumerate(user_ids[start:start + _INSERT_CHUNK])])
        session.execute(insert(CampaignShard), [
            {"campaign_id": campaign_id, "shard": s, "start": s * spec.shard_size,
             "size": min(spec.shard_size, len(user_ids) - s * spec.shard_size),
             "status": "pending", "attempt": 0, "images": 0}
            for s in range(n_shards)])
    campaign = load_campaign(engine, campaign_id)
    _write_marker(campaign)
    return campaign


def _pinned_versions(engine: Engine, spec: CampaignSpec
                     ) -> tuple[ModelVersionInfo, ModelVersionInfo]:
    """The generator and ALS versions to pin: the requested ones, else the active ones."""
    if spec.generator_version_id is not None:
        generator = _version(engine, spec.generator_version_id, "generator")
    else:
        from pigen.service.generator_serving import ensure_generator_version

        try:
            generator = ensure_generator_version(engine)
        except (FileNotFoundError, ValueError) as error:
            raise CampaignError(f"no usable generator: {error}") from None
    if spec.recsys_version_id is not None:
        recsys = _version(engine, spec.recsys_version_id, "als")
    else:
        active = active_model_version(engine, "als")
        if active is None:
            raise CampaignError("no active taste model: run `pigen recsys train --purpose taste` "
                                "first")
        recsys = active
    for version in (generator, recsys):
        if not version.path.is_file():
            raise CampaignError(f"model version {version.id} ({version.kind}): file "
                                f"{version.path} is missing")
    return generator, recsys


def _version(engine: Engine, version_id: int, kind: str) -> ModelVersionInfo:
    with session_scope(engine) as session:
        row = session.get(ModelVersion, version_id)
        if row is None or row.kind != kind:
            raise CampaignError(f"model version {version_id} is not a {kind} version")
        return ModelVersionInfo.of(row)


def check_output_dir(path: Path, campaign_id: int | None) -> Path:
    """Make sure ``path`` can take this campaign's files; returns it absolute.

    A new campaign (``campaign_id`` None) needs a folder that does not exist or
    is empty; a run needs the folder its campaign created (or none: it is made
    again). Either way a probe file is written and removed, so an unwritable
    location fails here and not after an hour of generation.
    """
    path = Path(path).expanduser().absolute()
    if path.exists() and not path.is_dir():
        raise CampaignError(f"output location {path} exists and is not a folder")
    if path.is_dir() and any(path.iterdir()):
        owner = _marker_owner(path)
        if campaign_id is None or owner != campaign_id:
            whose = f"campaign {owner}'s" if owner is not None else "other"
            raise CampaignError(f"output location {path} is not empty (it holds {whose} "
                                "files): pick a new folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        raise CampaignError(f"output location {path} is not writable: "
                            f"{error.strerror or error}") from None
    return path


def _marker_owner(path: Path) -> int | None:
    try:
        return int(json.loads((path / MARKER).read_text())["id"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_marker(campaign: CampaignInfo) -> None:
    data = {"id": campaign.id, "name": campaign.name, "segment": campaign.segment,
            "images_per_user": campaign.images_per_user, "diversity": campaign.diversity,
            "seed": campaign.seed, "shard_size": campaign.shard_size,
            "batch_size": campaign.batch_size,
            "generator_version": {"id": campaign.generator.id,
                                  "path": str(campaign.generator.path),
                                  "sha256": campaign.generator.config.get("sha256")},
            "recsys_version": {"id": campaign.recsys.id, "path": str(campaign.recsys.path)},
            "ratings_until": campaign.ratings_until, "users": campaign.n_users}
    target = campaign.output_dir / MARKER
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, target)


# -- reading ----------------------------------------------------------------------------


def load_campaign(engine: Engine, campaign_id: int) -> CampaignInfo:
    """The campaign with its pinned versions; ``LookupError`` if there is none."""
    with session_scope(engine) as session:
        row = session.get(Campaign, campaign_id)
        if row is None:
            raise LookupError(f"no campaign {campaign_id}")
        generator = ModelVersionInfo.of(session.get_one(ModelVersion, row.generator_version_id))
        recsys = ModelVersionInfo.of(session.get_one(ModelVersion, row.recsys_version_id))
        return CampaignInfo(
            id=row.id, name=row.name, status=row.status, segment=dict(row.segment),
            images_per_user=row.images_per_user, diversity=row.diversity, seed=row.seed,
            output_dir=Path(row.output_dir), shard_size=row.shard_size,
            batch_size=row.batch_size, generator=generator, recsys=recsys,
            ratings_until=row.ratings_until, n_users=row.n_users, n_shards=row.n_shards,
            error=row.error, created_at=row.created_at, started_at=row.started_at,
            completed_at=row.completed_at)


def campaign_progress(engine: Engine, campaign_id: int) -> CampaignProgress:
    campaign = load_campaign(engine, campaign_id)
    with engine.connect() as connection:
        rows = connection.execute(
            select(CampaignShard.status, func.count(), func.coalesce(func.sum(
                CampaignShard.images), 0), func.coalesce(func.sum(CampaignShard.attempt), 0))
            .where(CampaignShard.campaign_id == campaign_id)
            .group_by(CampaignShard.status)).all()
    by_status = {status: (int(n), int(images), int(tries)) for status, n, images, tries in rows}
    done = by_status.get("done", (0, 0, 0))
    return CampaignProgress(campaign, shards_done=done[0],
                            shards_running=by_status.get("running", (0, 0, 0))[0],
                            images_done=done[1],
                            attempts=sum(tries for _, _, tries in by_status.values()))


def list_campaigns(engine: Engine) -> list[CampaignProgress]:
    """Every campaign, newest first, with its progress."""
    with engine.connect() as connection:
        ids = list(connection.execute(select(Campaign.id).order_by(Campaign.id.desc())).scalars())
    return [campaign_progress(engine, campaign_id) for campaign_id in ids]


def unfinished_shards(engine: Engine, campaign_id: int) -> list[ShardInfo]:
    """Shards not yet done (pending, or left running by a run that died), in order."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(CampaignShard.campaign_id, CampaignShard.shard, CampaignShard.start,
                   CampaignShard.size, CampaignShard.status, CampaignShard.attempt)
            .where(CampaignShard.campaign_id == campaign_id, CampaignShard.status != "done")
            .order_by(CampaignShard.shard)).all()
    return [ShardInfo(*row) for row in rows]


def shard_users(engine: Engine, shard: ShardInfo) -> list[tuple[int, str]]:
    """(users.id, external id) of the shard's users, in campaign order."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(CampaignUser.user_id, User.external_id)
            .join(User, User.id == CampaignUser.user_id)
            .where(CampaignUser.campaign_id == shard.campaign_id,
                   CampaignUser.position >= shard.start,
                   CampaignUser.position < shard.start + shard.size)
            .order_by(CampaignUser.position)).all()
    return [(int(pk), str(external)) for pk, external in rows]


# -- running ----------------------------------------------------------------------------
# Claims, leases and the run's end states live in pigen.service.campaigns.leases.


def prepare_run(engine: Engine, campaign_id: int) -> CampaignInfo:
    """The campaign, after checking its output folder again (and writing its marker back)."""
    campaign = load_campaign(engine, campaign_id)
    check_output_dir(campaign.output_dir, campaign_id=campaign.id)
    if not (campaign.output_dir / MARKER).exists():
        _write_marker(campaign)
    return campaign
