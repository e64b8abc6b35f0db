"""Batch campaigns over HTTP: define (and start) one, follow its progress.

Images land under ``<storage_dir>/campaigns/<output>``: an HTTP caller names a
folder there, never an arbitrary server path. The server never generates a
campaign itself: starting one puts it in the queue (202), and a ``pigen worker``
process runs it. ``start: false`` only defines it, for ``POST .../start`` or
``pigen campaign run ID`` (optionally ``--backend ray``) later.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Response
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


@router.post("", response_model=CampaignPublic, status_code=202, dependencies=[WriteAccess],
             responses={201: {"model": CampaignPublic,
                              "description": "Defined and not started (`start: false`)."}})
async def create_campaign(body: CampaignCreate, engine: EngineDep, settings: SettingsDep,
                          response: Response) -> CampaignPublic:
    """Define a campaign (segment resolved, models pinned, output checked) and queue it.

    202: queued for a ``pigen worker``; 201 with ``start: false``: defined only.
    """
    from pigen.service.campaigns import leases, store

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
        await run_in_threadpool(leases.enqueue, engine, campaign.id)
    else:
        response.status_code = 201
    return _public(await run_in_threadpool(store.campaign_progress, engine, campaign.id),
                   settings.storage_dir)


@router.post("/{campaign_id}/start", response_model=CampaignPublic, status_code=202,
             dependencies=[WriteAccess],
             responses={404: {"description": "No such campaign."},
                        409: {"description": "The campaign is already completed."}})
async def start_campaign(campaign_id: CampaignId, engine: EngineDep,
                         settings: SettingsDep) -> CampaignPublic:
    """Queue a defined (or failed) campaign for a worker; a queued or running one is left be."""
    from pigen.service.campaigns import leases, store

    try:
        await run_in_threadpool(leases.enqueue, engine, campaign_id)
    except LookupError as error:
        raise HTTPException(404, str(error)) from None
    except CampaignError as error:
        raise HTTPException(409, str(error)) from None
    return _public(await run_in_threadpool(store.campaign_progress, engine, campaign_id),
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
