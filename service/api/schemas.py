"""The API's request and response bodies (separate from the database models)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

# Request bodies reject unknown keys, like every typed config (one shared base).
from pigen.data.typed_config import StrictModel as Strict

#: External ids as the store knows them: printable, no spaces, no path tricks.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,127}$"
ExternalId = Annotated[str, Field(min_length=1, max_length=128, pattern=ID_PATTERN,
                                  examples=["shopper-00001"])]
HexColour = Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$", examples=["#c0392b"])]
Seed = Annotated[int, Field(ge=0, le=2**63 - 1)]
FactorSourceName = Literal["model", "folded", "prior"]


# -- catalog and shoppers -------------------------------------------------------------


class ItemPublic(BaseModel):
    item_id: str
    category: str
    colour: str | None
    colour_name: str | None
    pattern: str | None
    image_url: str | None = Field(description="The catalog image, when the item has one.")


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


# -- images ---------------------------------------------------------------------------


class ConditionPublic(BaseModel):
    category: str
    colour: str = Field(description="Body colour, #rrggbb.")
    colour_name: str | None
    pattern: str
    vector: list[float] = Field(description="The generator's input, in layout order.")


class ContributingItem(BaseModel):
    item: ItemPublic
    weight: float


class Explanation(BaseModel):
    summary: str
    items: list[ContributingItem]


class ImagePublic(BaseModel):
    image_id: str
    url: str
    webp_url: str
    condition: ConditionPublic
    seed: int
    seed_text: str = Field(description="The seed as a string: JavaScript numbers lose "
                                        "digits past 2**53.")
    model_versions: dict[str, int | None]
    source: FactorSourceName | None


class UserImages(BaseModel):
    user_id: str
    source: FactorSourceName
    prior: bool = Field(description="True: nothing is known of the shopper; the images "
                                    "come from the popularity prior.")
    explanation: Explanation
    images: list[ImagePublic]
    catalog_items: list[ItemPublic] | None = Field(
        default=None, description="Set instead of images when an experiment's control arm "
                                  "serves the catalog photos of the top recommendations.")
    variant: str | None = Field(default=None, description="Experiment variant served, if any.")


class GenerateCondition(Strict):
    category: str = Field(min_length=1, max_length=64, examples=["Dress"])
    colour: HexColour
    pattern: str = Field(min_length=1, max_length=32, examples=["striped"])
    seed: Seed = 0
    n: int = Field(default=1, ge=1, le=16)


class GenerateRequest(Strict):
    conditions: list[GenerateCondition] = Field(min_length=1, max_length=16)


class GeneratedImages(BaseModel):
    images: list[ImagePublic]


# -- interactions ---------------------------------------------------------------------


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


# -- models and health ----------------------------------------------------------------


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
