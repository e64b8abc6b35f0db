"""Generated images: a shopper's list, and images made for explicit conditions."""

from __future__ import annotations

from pydantic import BaseModel, Field

from pigen.service.api.schemas.fields import FactorSourceName, HexColour, Seed, Strict
from pigen.service.api.schemas.items import ItemPublic


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
