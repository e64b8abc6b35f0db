"""Storefront events for experiments: view, click, add_to_cart, purchase (with its value).

Idempotent by ``client_event_id``: a retried POST is answered 200 with the stored
event and ``duplicate: true``; the first one is 201.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.concurrency import run_in_threadpool

from pigen.service.api.deps import EngineDep, WriteAccess
from pigen.service.api.schemas import ExternalId
from pigen.service.experiments.store import ExperimentConflict, NewEvent, record_event

router = APIRouter(prefix="/events", tags=["events"], dependencies=[WriteAccess])

EventKind = Literal["view", "click", "add_to_cart", "purchase"]


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_event_id: Annotated[str, Field(
        min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@+-]*$",
        description="Chosen by the client (e.g. a UUID); resending it is harmless.")]
    user_id: ExternalId
    kind: EventKind
    value: float = Field(default=0.0, ge=0.0, le=1e9, allow_inf_nan=False,
                         description="The purchase's value; must be 0 for other kinds.")
    item_id: ExternalId | None = None
    occurred_at: datetime | None = Field(
        default=None, description="When it happened (ISO 8601 with a timezone); "
                                  "default: when it is received.")

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("occurred_at needs a timezone, e.g. 2026-01-01T12:00:00Z")
        return value


class EventPublic(BaseModel):
    client_event_id: str
    user_id: str
    kind: EventKind
    value: float
    item_id: str | None
    occurred_at: datetime
    duplicate: bool = Field(description="True when this id was already stored (a retry).")


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
