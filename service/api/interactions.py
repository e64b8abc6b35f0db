"""New ratings and events: stored, and folded into the shopper's factor on their next request."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from starlette.concurrency import run_in_threadpool

from pigen.data.history import read_user_history
from pigen.recsys.user_factors import resolve_user_factor
from pigen.service.api.deps import EngineDep, RuntimeDep, WriteAccess
from pigen.service.api.schemas import InteractionsRequest, InteractionsResult, UserState
from pigen.service.runtime import ModelSet
from pigen.service.shoppers import NewInteraction, UnknownItems, store_interactions

router = APIRouter(prefix="/interactions", tags=["interactions"], dependencies=[WriteAccess])


@router.post("", response_model=InteractionsResult, status_code=201)
async def post_interactions(body: InteractionsRequest, engine: EngineDep, runtime: RuntimeDep
                            ) -> InteractionsResult:
    """Store events; each shopper's next images use a factor folded in from them (no refit)."""
    model_set = runtime.current
    events = [NewInteraction(e.user_id, e.item_id, e.kind, e.value, e.occurred_at)
              for e in body.interactions]
    try:
        stored, duplicates = await run_in_threadpool(store_interactions, engine, events)
    except UnknownItems as error:
        raise HTTPException(422, str(error)) from None
    users = sorted({e.user_id for e in events})
    states = [await run_in_threadpool(_user_state, engine, model_set, u) for u in users[:20]]
    return InteractionsResult(stored=stored, duplicates=duplicates, users=states)


def _user_state(engine, model_set: ModelSet, user_id: str) -> UserState:  # type: ignore[no-untyped-def]
    """Where the shopper's factor now comes from: the serving path's own decision."""
    history = read_user_history(engine, user_id)
    trained_until = int(model_set.als_version.metrics.get("trained_until", 0))
    user = resolve_user_factor(model_set.als, user_id, history.item_ids, history.values,
                               has_newer=history.newer_than(trained_until))
    return UserState(user_id=user_id, source=user.source, ratings=len(history))
