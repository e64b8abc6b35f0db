"""Shoppers: the list, their ratings and their recommendations."""

from __future__ import annotations

from pydantic import BaseModel, Field

from pigen.service.api.schemas.fields import FactorSourceName
from pigen.service.api.schemas.items import ItemPublic


class UserSummary(BaseModel):
    user_id: str
    ratings: int


class UserPage(BaseModel):
    users: list[UserSummary]
    total: int
    limit: int
    offset: int


class RatedItem(BaseModel):
    item: ItemPublic
    value: float
    occurred_at: int = Field(description="Unix seconds, UTC.")


class UserRatings(BaseModel):
    user_id: str
    known: bool
    ratings: list[RatedItem]


class Because(BaseModel):
    item_id: str
    weight: float


class Recommendation(BaseModel):
    item: ItemPublic
    score: float
    because: list[Because]


class UserRecommendations(BaseModel):
    user_id: str
    source: FactorSourceName
    prior: bool = Field(description="True: the shopper is unknown; popular items shown.")
    model_version: int
    items: list[Recommendation]
