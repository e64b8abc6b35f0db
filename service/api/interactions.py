"""New ratings and events: stored, and folded into the shopper's factor on their next request."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from starlette.concurrency import run_in_threadpool

from pigen.service.api.deps import EngineDep, RuntimeDep, WriteAccess
from pigen.service.api.schemas.interactions import (
    InteractionsRequest,
    InteractionsResult,
    UserState,
)
from pigen.service.shoppers import NewInteraction, UnknownItems, record_interactions

router = APIRouter(prefix="/interactions", tags=["interactions"], dependencies=[WriteAccess])


@router.post("", response_model=InteractionsResult, status_code=201)
async def post_interactions(body: InteractionsRequest, engine: EngineDep, runtime: RuntimeDep
                            ) -> InteractionsResult:
    """Store events; each shopper's next images use a factor folded in from them (no refit)."""
    model_set = runtime.current
    events = [NewInteraction(e.user_id, e.item_id, e.kind, e.value, e.occurred_at)
              for e in body.interactions]
    try:
        recorded = await run_in_threadpool(record_interactions, engine, events,
                                           (model_set.als_version, model_set.als))
    except UnknownItems as error:
        raise HTTPException(422, str(error)) from None
    return InteractionsResult(
        stored=recorded.stored, duplicates=recorded.duplicates,
        users=[UserState(user_id=u.user_id, source=u.source, ratings=u.ratings)
               for u in recorded.users])
