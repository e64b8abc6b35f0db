"""Conditions drawn as whole liked items: bundles keep category, colour and pattern together."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pigen.data.conditions import ConditionLayout
from pigen.data.idmap import IdMap
from pigen.recsys.condition_sampling import sample_condition, sample_conditions
from pigen.recsys.conditioning import TasteProfile, population_profile, taste_profile
from pigen.recsys.item_attributes import ItemAttributes
from pigen.recsys.taste_bundles import bundle_mixture, item_bundles

LAYOUT = ConditionLayout.builtin()
RED, BLUE = "#d91f1f", "#2666e6"

# Axis 0: red dresses and blue sandals (what the shopper likes); axis 1: blue
# dresses and red sandals (what they do not). "x1" has no attribute at all.
CATALOG = pd.DataFrame({
    "item_id": ["rd1", "rd2", "bs1", "bs2", "bd1", "rs1", "x1"],
    "category": ["Dress", "Dress", "Sandal", "Sandal", "Dress", "Sandal", None],
    "colour": [RED, RED, BLUE, BLUE, BLUE, RED, None],
    "pattern": ["solid", "solid", "striped", "striped", "solid", "striped", None],
})
ITEM_FACTORS = np.array([[1.0, 0], [1, 0], [1, 0], [1, 0], [0, 1], [0, 1], [0.9, 0]])
ITEMS = IdMap.from_ids(CATALOG["item_id"])


@pytest.fixture
def attributes() -> ItemAttributes:
    return ItemAttributes.from_frame(CATALOG, ITEMS, LAYOUT)


def liker(attributes: ItemAttributes) -> TasteProfile:
    return taste_profile(np.array([1.0, 0.0]), ITEM_FACTORS, attributes, temperature=0.3)


def test_bundles_are_the_distinct_described_items(attributes: ItemAttributes) -> None:
    parts, bundle_of_item = item_bundles(attributes)
    assert len(parts) == 4  # red dress, blue sandal, blue dress, red sandal
    assert bundle_of_item[-1] == -1  # no attribute: no bundle
    assert bundle_of_item[0] == bundle_of_item[1] and bundle_of_item[2] == bundle_of_item[3]


def test_a_red_dress_and_blue_sandal_liker_never_gets_a_blue_dress(
        attributes: ItemAttributes) -> None:
    profile = liker(attributes)
    # The marginals alone say "dress or sandal" and "red or blue" about evenly.
    assert profile.category[LAYOUT.categories.index("Dress")] > 0.3
    assert {"red", "blue"} <= set(profile.colour_by_name())
    pairs = {(s.condition.category_name, s.colour_name, s.condition.pattern_name)
             for s in sample_conditions(profile, 200, seed=1)}
    assert {pair[:2] for pair in pairs} <= {("Dress", "red"), ("Sandal", "blue"),
                                            ("Dress", "blue"), ("Sandal", "red")}
    liked = {("Dress", "red", "solid"), ("Sandal", "blue", "striped")}
    assert pairs == liked
    apart = {(s.condition.category_name, s.colour_name)
             for s in sample_conditions(profile, 200, seed=1, bundles=False)}
    assert ("Dress", "blue") in apart  # the old independent draw mixes them up


def test_bundle_draws_are_seeded_and_diversity_zero_is_the_heaviest_bundle(
        attributes: ItemAttributes) -> None:
    profile = liker(attributes)
    samples = sample_conditions(profile, 6, seed=4, diversity=1.5)
    assert samples == sample_conditions(profile, 6, seed=4, diversity=1.5)
    assert sample_condition(profile, samples[3].seed, diversity=1.5) == samples[3]
    heaviest = profile.bundle_parts[int(np.argmax(profile.bundle_weights))]
    for sample in sample_conditions(profile, 20, seed=0, diversity=0.0):
        vector = sample.condition
        assert LAYOUT.categories.index(vector.category_name) == heaviest[0]
        np.testing.assert_allclose(vector.colour, profile.bundle_rgb[np.argmax(
            profile.bundle_weights)], rtol=1e-6)


def test_items_without_attributes_do_not_shape_bundles(attributes: ItemAttributes) -> None:
    # All weight on the attribute-less item: no bundle, the parts are drawn apart.
    weights = np.zeros((1, len(ITEMS)))
    weights[0, -1] = 1.0
    bundle_weights, parts, rgb = bundle_mixture(weights, attributes)
    assert bundle_weights.sum() == 0
    only_x1 = np.zeros((len(ITEMS), 2))
    only_x1[-1] = [0.0, 5.0]
    profile = taste_profile(np.array([0.0, 1.0]), only_x1, attributes, top_k=1)
    assert len(profile.bundle_weights) == 0
    assert len(sample_conditions(profile, 3, seed=0)) == 3  # the parts, drawn apart


def test_population_profile_carries_bundles(attributes: ItemAttributes) -> None:
    counts = np.array([5.0, 5, 1, 1, 0, 0, 50])
    profile = population_profile(counts, attributes)
    assert profile.bundle_weights == pytest.approx([10 / 12, 2 / 12])
    assert profile.to_dict()["bundles"][0]["category"] == "Dress"


def test_profile_rejects_inconsistent_bundles(attributes: ItemAttributes) -> None:
    profile = liker(attributes)
    values = {name: getattr(profile, name) for name in profile.__dataclass_fields__}
    with pytest.raises(ValueError, match="bundles need"):
        TasteProfile(**{**values, "bundle_parts": profile.bundle_parts[:1]})
    with pytest.raises(ValueError, match="positive and sum to 1"):
        TasteProfile(**{**values, "bundle_weights": profile.bundle_weights * 2})
