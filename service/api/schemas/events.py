"""Storefront events (view, click, add_to_cart, purchase) as the API takes and returns them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator

from pigen.service.api.schemas.fields import ExternalId, Strict

EventKind = Literal["view", "click", "add_to_cart", "purchase"]


class EventIn(Strict):
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
