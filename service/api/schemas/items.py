"""Catalog items as the API shows them."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ItemPublic(BaseModel):
    item_id: str
    category: str
    colour: str | None
    colour_name: str | None
    pattern: str | None
    image_url: str | None = Field(description="The catalog image, when the item has one.")
