"""The condition vector: layout, round trips and validation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pigen.data.catalog.builtin import CATEGORIES
from pigen.data.catalog.render import PATTERNS
from pigen.data.conditions import (
    LAYOUT_VERSION,
    ConditionLayout,
    ConditionVector,
    one_hot,
    stack,
    unstack,
)

SMALL = ConditionLayout(("Dress", "Bag", "Sandal"), ("solid", "striped"))


def soft_vector() -> ConditionVector:
    return ConditionVector(SMALL, [0.2, 0.5, 0.3], [0.1, 0.6, 0.9], [0.75, 0.25])


def test_builtin_layout_is_categories_colour_patterns() -> None:
    layout = ConditionLayout.builtin()
    assert layout.categories == CATEGORIES and layout.patterns == PATTERNS
    assert layout.size == len(CATEGORIES) + 3 + len(PATTERNS)
    assert (layout.category_slice, layout.colour_slice, layout.pattern_slice) == (
        slice(0, 10),
        slice(10, 13),
        slice(13, 17),
    )


def test_layout_dict_round_trip_and_checks() -> None:
    assert ConditionLayout.from_dict(SMALL.to_dict()) == SMALL
    assert SMALL.to_dict()["version"] == LAYOUT_VERSION
    with pytest.raises(ValueError, match="version"):
        ConditionLayout.from_dict({**SMALL.to_dict(), "version": LAYOUT_VERSION + 1})
    with pytest.raises(ValueError, match="unknown"):
        ConditionLayout.from_dict({**SMALL.to_dict(), "colours": []})
    with pytest.raises(ValueError, match="duplicates"):
        ConditionLayout(("Bag", "Bag"), ("solid",))
    with pytest.raises(ValueError, match="empty"):
        ConditionLayout((), ("solid",))


def test_array_round_trip_keeps_layout_order() -> None:
    vector = soft_vector()
    array = vector.to_array()
    assert array.dtype == np.float32 and array.shape == (SMALL.size,)
    colour = np.array([0.1, 0.6, 0.9], dtype=np.float32)
    np.testing.assert_array_equal(array[SMALL.colour_slice], colour)
    assert ConditionVector.from_array(SMALL, array) == vector


def test_tensor_round_trip() -> None:
    torch = pytest.importorskip("torch")
    vector = soft_vector()
    tensor = vector.to_tensor()
    assert tensor.dtype == torch.float32 and tuple(tensor.shape) == (SMALL.size,)
    assert ConditionVector.from_tensor(SMALL, tensor.double()) == vector


def test_json_round_trip_is_exact_and_records_the_layout() -> None:
    vector = soft_vector()
    text = vector.to_json()
    assert json.loads(text)["layout"]["categories"] == list(SMALL.categories)
    back = ConditionVector.from_json(text)
    assert back == vector and back.layout == SMALL


def test_one_hot_marks_one_category_and_one_pattern() -> None:
    vector = one_hot(SMALL, "Bag", (1.0, 0.0, 0.5), 1)
    np.testing.assert_array_equal(vector.category, [0, 1, 0])
    np.testing.assert_array_equal(vector.pattern, [0, 1])
    assert (vector.category_name, vector.pattern_name) == ("Bag", "striped")
    with pytest.raises(ValueError, match="unknown category"):
        one_hot(SMALL, "Hat", (0, 0, 0), "solid")
    with pytest.raises(ValueError, match="index"):
        one_hot(SMALL, "Bag", (0, 0, 0), 2)


@pytest.mark.parametrize(
    ("category", "colour", "pattern", "message"),
    [
        ([0.5, 0.5, 0.5], [0, 0, 0], [1, 0], "category must sum to 1"),
        ([1.2, -0.2, 0.0], [0, 0, 0], [1, 0], "category must be non-negative"),
        ([1, 0, 0], [0, 0, 1.1], [1, 0], r"RGB in \[0, 1\]"),
        ([1, 0, 0], [0, 0], [1, 0], r"colour must have shape \(3,\)"),
        ([1, 0], [0, 0, 0], [1, 0], r"category must have shape \(3,\)"),
        ([1, 0, 0], [0, 0, 0], [0.3, 0.3], "pattern must sum to 1"),
        ([1, 0, 0], [np.nan, 0, 0], [1, 0], "NaN"),
    ],
)
def test_invalid_vectors_are_rejected(
    category: list[float], colour: list[float], pattern: list[float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ConditionVector(SMALL, category, colour, pattern)


def test_from_array_rejects_a_wrong_size() -> None:
    with pytest.raises(ValueError, match=r"shape \(8,\)"):
        ConditionVector.from_array(SMALL, np.zeros(9))


def test_vectors_are_read_only() -> None:
    vector = soft_vector()
    with pytest.raises(ValueError):
        vector.category[0] = 1.0


def test_stack_and_unstack() -> None:
    vectors = [soft_vector(), one_hot(SMALL, 0, (0, 0, 0), 0)]
    batch = stack(vectors)
    assert batch.shape == (2, SMALL.size) and batch.dtype == np.float32
    assert unstack(SMALL, batch) == vectors
    with pytest.raises(ValueError, match="share one layout"):
        stack([soft_vector(), one_hot(ConditionLayout.builtin(), 0, (0, 0, 0), 0)])
    with pytest.raises(ValueError, match="at least one"):
        stack([])
