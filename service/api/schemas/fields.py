"""Constrained field types and the strict base the request bodies share."""

from __future__ import annotations

import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import Field, ValidationInfo, field_validator

from pigen.data.ids import ID_PATTERN  # the one id rule, shared with ingest
from pigen.data.typed_config import StrictModel


class Strict(StrictModel):
    """Base of request bodies: unknown keys are refused, and numbers are JSON numbers.

    Pydantic's lax mode reads ``false`` as 0 and ``"7"`` as 7, which the OpenAPI
    document (``"type": "integer"``) says are invalid; a body field of a numeric
    type takes neither a boolean nor a string (issue 13, schemathesis).
    """

    @field_validator("*", mode="before")
    @classmethod
    def _numbers_are_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name is None or not isinstance(value, bool | str):
            return value
        kinds = _admitted_types(cls.model_fields[info.field_name].annotation)
        if kinds and kinds <= {int, float, type(None)}:
            raise ValueError(f"a number is required, not {type(value).__name__} {value!r}")
        return value


def _admitted_types(annotation: object) -> set[object]:
    """The plain types a (possibly optional) annotation accepts; empty for anything richer."""
    if get_origin(annotation) in (Union, types.UnionType):
        members = get_args(annotation)
    else:
        members = (annotation,)
    plain = [get_args(m)[0] if get_origin(m) is Annotated else m for m in members]
    return set(plain) if all(isinstance(m, type) for m in plain) else set()


__all__ = ["ID_PATTERN", "ExternalId", "FactorSourceName", "HexColour", "RowId", "Seed", "Strict"]

ExternalId = Annotated[str, Field(min_length=1, max_length=128, pattern=ID_PATTERN,
                                  examples=["shopper-00001"])]
HexColour = Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$", examples=["#c0392b"])]
Seed = Annotated[int, Field(ge=0, le=2**63 - 1)]
#: A database row id: a 64-bit signed integer on every backend (a larger one was a 500).
RowId = Annotated[int, Field(ge=1, le=2**63 - 1)]
FactorSourceName = Literal["model", "folded", "prior"]
