"""New ratings and events, and where each shopper's factor comes from afterwards."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from pigen.service.api.schemas.fields import ExternalId, FactorSourceName, Strict


class InteractionIn(Strict):
    user_id: ExternalId
    item_id: ExternalId
    kind: Literal["rating", "view", "click", "purchase"] = "rating"
    value: float = Field(default=1.0, ge=-1e6, le=1e6, allow_inf_nan=False)
    occurred_at: int | None = Field(default=None, ge=0, le=32_503_680_000,
                                    description="Unix seconds; default: now.")


class InteractionsRequest(Strict):
    interactions: list[InteractionIn] = Field(min_length=1, max_length=500)


class UserState(BaseModel):
    user_id: str
    source: FactorSourceName
    ratings: int


class InteractionsResult(BaseModel):
    stored: int
    duplicates: int
    users: list[UserState]
