"""Model versions (ALS and generator) and the service's health."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from pigen.service.api.schemas.fields import Strict


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
    id: int = Field(ge=1, description="The model version to make active.")


class Health(BaseModel):
    status: str
    detail: str | None = None
