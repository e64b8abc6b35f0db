"""Shoppers: the picker's list, what each rated, and their recommendations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from starlette.concurrency import run_in_threadpool

from pigen.service.api.deps import EngineDep, ReadAccess, RuntimeDep
from pigen.service.api.items import item_public
from pigen.service.api.schemas.fields import ID_PATTERN
from pigen.service.api.schemas.users import (
    Because,
    RatedItem,
    Recommendation,
    UserPage,
    UserRatings,
    UserRecommendations,
    UserSummary,
)
from pigen.service.recsys_serving import recommend_for_user
from pigen.service.shoppers import list_users, user_ratings

router = APIRouter(prefix="/users", tags=["users"], dependencies=[ReadAccess])

UserIdPath = Annotated[str, PathParam(
    min_length=1, max_length=128, pattern=ID_PATTERN,
    description="The shopper's external id; unknown shoppers get the popularity prior.")]


@router.get("", response_model=UserPage)
async def get_users(engine: EngineDep, limit: Annotated[int, Query(ge=1, le=500)] = 50,
                    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> UserPage:
    """Shoppers by id with their rating counts (the demo page's picker)."""
    page, total = await run_in_threadpool(list_users, engine, limit, offset)
    return UserPage(users=[UserSummary(user_id=u, ratings=n) for u, n in page], total=total,
                    limit=limit, offset=offset)


@router.get("/{user_id}/ratings", response_model=UserRatings)
async def get_user_ratings(user_id: UserIdPath, engine: EngineDep, runtime: RuntimeDep,
                           limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> UserRatings:
    """The shopper's ratings, newest first (an unknown shopper has none: not an error)."""
    known, rows = await run_in_threadpool(user_ratings, engine, user_id, limit)
    return UserRatings(user_id=user_id, known=known, ratings=[
        RatedItem(item=item_public(runtime, item), value=value, occurred_at=when)
        for item, value, when in rows])


@router.get("/{user_id}/recommendations", response_model=UserRecommendations)
async def get_recommendations(user_id: UserIdPath, engine: EngineDep, runtime: RuntimeDep,
                              k: Annotated[int, Query(ge=1, le=100)] = 10
                              ) -> UserRecommendations:
    """Top ``k`` catalog items with scores and the rated items behind each."""
    model_set = runtime.current
    result = await run_in_threadpool(recommend_for_user, engine, user_id, k, True,
                                     model_set.recommender)
    return UserRecommendations(
        user_id=user_id, source=result.source, prior=result.source == "prior",
        model_version=result.model_version,
        items=[Recommendation(item=item_public(runtime, r.item_id), score=r.score,
                              because=[Because(item_id=i, weight=w) for i, w in r.because])
               for r in result.items])
