"""Batch campaigns over HTTP: define (and start) one, follow its progress.

Images land under ``<storage_dir>/campaigns/<output>``: an HTTP caller names a
folder there, never an arbitrary server path. Large campaigns are better
created with ``start: false`` and run on a worker with ``pigen campaign run ID``
(optionally ``--backend ray``); ``start: true`` runs the local backend in a
background thread of the server.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from pigen.service.api.deps import EngineDep, ReadAccess, SettingsDep, WriteAccess
from pigen.service.campaigns.definition import MAX_SEED, CampaignSpec, Segment
from pigen.service.campaigns.store import CampaignError, CampaignProgress

router = APIRouter(prefix="/campaigns", tags=["campaigns"])

CampaignId = Annotated[int, PathParam(ge=1, le=2**62, description="The campaign's id.")]


class CampaignCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, examples=["spring newsletter"])
    segment: Segment = Field(examples=[{"kind": "top_active", "n": 1000}])
    images_per_user: int = Field(default=4, ge=1, le=64)
    diversity: float = Field(default=1.0, ge=0.0, le=10.0, allow_inf_nan=False)
    seed: int = Field(default=0, ge=0, le=MAX_SEED)
    shard_size: int = Field(default=256, ge=1, le=100_000)
    batch_size: int = Field(default=256, ge=1, le=4096)
    generator_version_id: int | None = Field(default=None, ge=1)
    recsys_version_id: int | None = Field(default=None, ge=1)
    output: str | None = Field(
        default=None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="Folder name under the server's campaigns folder (default: made up).")
    start: bool = Field(default=True, description="Start generating now, on the server.")


class ProgressPublic(BaseModel):
    shards_done: int
    shards_total: int
    shards_running: int
    images_done: int
    fraction: float
    shard_attempts: int


class CampaignPublic(BaseModel):
    id: int
    name: str
    status: Literal["created", "running", "completed", "failed"]
    segment: dict[str, object]
    segment_description: str
    images_per_user: int
    diversity: float
    seed: int
    output_dir: str
    shard_size: int
    batch_size: int
    generator_version_id: int
    recsys_version_id: int
    ratings_until: int
    users: int
    images: int
    progress: ProgressPublic
    error: str | None
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    manifest: str | None = Field(description="manifest.parquet, once completed.")
    contact_sheet: str | None


def _public(progress: CampaignProgress) -> CampaignPublic:
    from pigen.service.campaigns.outputs import CONTACT_SHEET, MANIFEST

    values = progress.to_dict()
    done = progress.campaign.status == "completed"
    root = progress.campaign.output_dir
    return CampaignPublic(**values, manifest=str(root / MANIFEST) if done else None,
                          contact_sheet=str(root / CONTACT_SHEET) if done else None)


@router.post("", response_model=CampaignPublic, status_code=201, dependencies=[WriteAccess])
async def create_campaign(body: CampaignCreate, engine: EngineDep,
                          settings: SettingsDep) -> CampaignPublic:
    """Define a campaign (segment resolved, models pinned, output checked) and start it."""
    from pigen.service.campaigns import store
    from pigen.service.campaigns.runner import run_in_background

    folder = body.output or (f"campaign-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-"
                             f"{uuid.uuid4().hex[:6]}")
    if folder in (".", ".."):
        raise HTTPException(422, "output must be a folder name")
    spec = CampaignSpec(**body.model_dump(exclude={"output", "start"}),
                        output_dir=settings.storage_dir.absolute() / "campaigns" / folder)
    try:
        campaign = await run_in_threadpool(store.create_campaign, engine, spec)
    except CampaignError as error:
        raise HTTPException(422, str(error)) from None
    if body.start:
        run_in_background(engine, campaign.id, device=settings.device)
    return _public(await run_in_threadpool(store.campaign_progress, engine, campaign.id))


@router.get("/{campaign_id}", response_model=CampaignPublic, dependencies=[ReadAccess])
async def get_campaign(campaign_id: CampaignId, engine: EngineDep) -> CampaignPublic:
    """A campaign's definition, pinned models and progress."""
    from pigen.service.campaigns import store

    try:
        return _public(await run_in_threadpool(store.campaign_progress, engine, campaign_id))
    except LookupError as error:
        raise HTTPException(404, str(error)) from None
