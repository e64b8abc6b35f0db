"""Model versions (ALS and generator) and the service's health."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from pigen.service.api.schemas.fields import RowId, Strict


class ModelVersionPublic(BaseModel):
    id: int
    kind: str
    active: bool
    serving: bool
    file: str
    created_at: datetime
    metrics: dict[str, Any]


class ModelsPublic(BaseModel):
    serving: dict[str, int]
    versions: list[ModelVersionPublic]


class ActivateRequest(Strict):
    id: RowId = Field(description="The model version to make active.")


class FallbackPublic(BaseModel):
    """An active version that would not load; an earlier one serves instead."""

    kind: str
    active: int
    serving: int
    problem: str
    serving_kind: str = Field("", description="the kind of `serving` when it is not `kind`: "
                                              "a ranking model that cannot be served "
                                              "recommends from the taste model")


class Health(BaseModel):
    status: str = Field(description="ok, ready, degraded (serving a fallback model) or "
                                    "unavailable.")
    detail: str | None = None
    fallback: list[FallbackPublic] = Field(default_factory=list)
