"""Constrained field types and the strict base the request bodies share."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from pigen.data.ids import ID_PATTERN  # the one id rule, shared with ingest

# Request bodies reject unknown keys, like every typed config (one shared base).
from pigen.data.typed_config import StrictModel as Strict

__all__ = ["ID_PATTERN", "ExternalId", "FactorSourceName", "HexColour", "Seed", "Strict"]

ExternalId = Annotated[str, Field(min_length=1, max_length=128, pattern=ID_PATTERN,
                                  examples=["shopper-00001"])]
HexColour = Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$", examples=["#c0392b"])]
Seed = Annotated[int, Field(ge=0, le=2**63 - 1)]
FactorSourceName = Literal["model", "folded", "prior"]
