"""One id rule: what ingest accepts is exactly what the API's id fields accept."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pydantic import TypeAdapter, ValidationError

from pigen.data.ids import ID_PATTERN, is_valid_id
from pigen.service.api.schemas.fields import ExternalId

SAMPLES = ["shopper-00001", "i0", "a.b_c:d@e+f", "x" * 128, "x" * 129, "", "a b", "a\nb",
           "ab\n", "a\x00b", "a\tb", "José", "bag\N{GRINNING FACE}", "-lead", "../etc"]


@pytest.mark.parametrize("value", SAMPLES)
def test_ingest_and_api_agree(value: str) -> None:
    try:
        TypeAdapter(ExternalId).validate_python(value)
        api_accepts = True
    except ValidationError:
        api_accepts = False
    arrow_accepts = pc.match_substring_regex(pa.array([value]), ID_PATTERN)[0].as_py()
    assert is_valid_id(value) == api_accepts == arrow_accepts
