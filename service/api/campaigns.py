"""Batch campaigns over HTTP: define (and start) one, follow its progress.

Images land under ``<storage_dir>/campaigns/<output>``: an HTTP caller names a
folder there, never an arbitrary server path. Large campaigns are better
created with ``start: false`` and run on a worker with ``pigen campaign run ID``
(optionally ``--backend ray``); ``start: true`` runs the local backend in a
background thread of the server.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException
from fastapi import Path as PathParam
from starlette.concurrency import run_in_threadpool

from pigen.service.api.deps import EngineDep, ReadAccess, SettingsDep, WriteAccess
from pigen.service.api.schemas.campaigns import CampaignCreate, CampaignPublic
from pigen.service.campaigns.definition import CampaignSpec
from pigen.service.campaigns.store import CampaignError, CampaignProgress

log = logging.getLogger(__name__)

router = APIRouter(prefix="/campaigns", tags=["campaigns"])

CampaignId = Annotated[int, PathParam(ge=1, le=2**62, description="The campaign's id.")]


def _public(progress: CampaignProgress, storage_dir: Path) -> CampaignPublic:
    """The API's view: folders relative to the storage folder, never absolute server paths."""
    from pigen.service.campaigns.outputs import CONTACT_SHEET, MANIFEST

    done = progress.campaign.status == "completed"
    root = _logical(progress.campaign.output_dir, storage_dir)
    values = {**progress.to_dict(), "output_dir": root}
    return CampaignPublic(**values, manifest=f"{root}/{MANIFEST}" if done else None,
                          contact_sheet=f"{root}/{CONTACT_SHEET}" if done else None)


def _without_storage_path(text: str, storage_dir: Path) -> str:
    """``text`` with the server's storage folder cut from its paths (they become relative)."""
    return text.replace(f"{storage_dir.absolute()}/", "")


def _logical(folder: Path, storage_dir: Path) -> str:
    """``campaigns/<name>`` under the storage folder; only the name for one elsewhere (CLI)."""
    try:
        return folder.relative_to(storage_dir.absolute()).as_posix()
    except ValueError:
        return folder.name


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
        log.info("campaign refused: %s", error)  # the full text, paths included
        raise HTTPException(422, _without_storage_path(str(error), settings.storage_dir)
                            ) from None
    if body.start:
        run_in_background(engine, campaign.id, device=settings.device)
    return _public(await run_in_threadpool(store.campaign_progress, engine, campaign.id),
                   settings.storage_dir)


@router.get("/{campaign_id}", response_model=CampaignPublic, dependencies=[ReadAccess])
async def get_campaign(campaign_id: CampaignId, engine: EngineDep,
                       settings: SettingsDep) -> CampaignPublic:
    """A campaign's definition, pinned models and progress."""
    from pigen.service.campaigns import store

    try:
        return _public(await run_in_threadpool(store.campaign_progress, engine, campaign_id),
                       settings.storage_dir)
    except LookupError as error:
        raise HTTPException(404, str(error)) from None
