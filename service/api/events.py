"""Storefront events for experiments: view, click, add_to_cart, purchase (with its value).

Idempotent by ``client_event_id``: a retried POST is answered 200 with the stored
event and ``duplicate: true``; the first one is 201.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response
from starlette.concurrency import run_in_threadpool

from pigen.service.api.deps import EngineDep, WriteAccess
from pigen.service.api.schemas.events import EventIn, EventPublic
from pigen.service.experiments.store import ExperimentConflict, NewEvent, record_event

router = APIRouter(prefix="/events", tags=["events"], dependencies=[WriteAccess])


@router.post("", response_model=EventPublic, status_code=201,
             responses={200: {"model": EventPublic, "description": "A retry: already stored."},
                        409: {"description": "The id was used for a different event."}})
async def post_event(body: EventIn, engine: EngineDep, response: Response) -> EventPublic:
    """Record one event; purchases count toward experiment conversion and revenue."""
    try:
        event = NewEvent(client_event_id=body.client_event_id, user_id=body.user_id,
                         kind=body.kind, value=body.value, item_id=body.item_id,
                         occurred_at=body.occurred_at)
    except ValueError as error:
        raise HTTPException(422, str(error)) from None
    try:
        stored = await run_in_threadpool(record_event, engine, event)
    except ExperimentConflict as error:
        raise HTTPException(409, str(error)) from None
    if not stored.created:
        response.status_code = 200
    return EventPublic(client_event_id=stored.client_event_id, user_id=stored.user_id,
                       kind=stored.kind, value=stored.value,  # type: ignore[arg-type]
                       item_id=stored.item_id, occurred_at=stored.occurred_at,
                       duplicate=not stored.created)
