"""The bridge: taste profiles on hand-made cases with obvious answers, and the sampler."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from pigen.data.catalog.palette import PALETTE
from pigen.data.conditions import ConditionLayout
from pigen.data.idmap import IdMap
from pigen.recsys.condition_sampling import (
    sample_condition,
    sample_conditions,
    sample_seeds,
    shopper_seed,
)
from pigen.recsys.conditioning import TasteProfile, taste_profile, taste_profiles
from pigen.recsys.item_attributes import ItemAttributes

LAYOUT = ConditionLayout.builtin()
RED, BLUE, GREEN = "#d91f1f", "#2666e6", "#269933"

# Red striped dresses point along x, everything else along y: a user at (1, 0)
# likes exactly the red striped dresses.
CATALOG = pd.DataFrame(
    {
        "item_id": ["d1", "d2", "d3", "b1", "b2", "s1"],
        "category": ["Dress", "Dress", "Dress", "Bag", "Bag", "Sandal"],
        "colour": [RED, RED, RED, BLUE, BLUE, GREEN],
        "pattern": ["striped", "striped", "striped", "solid", "solid", "dotted"],
    }
)
ITEM_FACTORS = np.array(
    [[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0]]
)  # (6, 2)
ITEMS = IdMap.from_ids(CATALOG["item_id"])


@pytest.fixture
def attributes() -> ItemAttributes:
    return ItemAttributes.from_frame(CATALOG, ITEMS, LAYOUT)


def profile_of(
    categories: dict[str, float], colours: dict[str, float], patterns: dict[str, float]
) -> TasteProfile:
    """A profile written by hand, for the sampler tests."""
    return TasteProfile(
        layout=LAYOUT,
        category=np.array([categories.get(c, 0.0) for c in LAYOUT.categories]),
        colour_weights=np.array(list(colours.values())),
        colour_rgb=np.array([PALETTE[name] for name in colours]),
        colour_names=tuple(colours),
        pattern=np.array([patterns.get(p, 0.0) for p in LAYOUT.patterns]),
        contributing_items=(),
        contributors_rated=False,
    )


# -- item attributes ----------------------------------------------------------------------


def test_attributes_follow_the_model_item_order_and_mark_unknowns() -> None:
    frame = pd.DataFrame(
        {
            "item_id": ["b", "a", "c"],
            "category": ["Bag", "Dress", "Hat"],  # Hat is not in the layout
            "colour": ["#2666e6", None, "#d91f1f"],
            "pattern": ["solid", "striped", None],
        }
    )
    ids = IdMap.from_ids(["a", "b", "c", "missing"])
    attributes = ItemAttributes.from_frame(frame, ids, LAYOUT)
    assert attributes.category.tolist() == [3, 8, -1, -1]
    assert attributes.pattern.tolist() == [1, 0, -1, -1]
    assert np.isnan(attributes.colour[[0, 3]]).all()
    np.testing.assert_allclose(attributes.colour[1], np.array([38, 102, 230]) / 255)
    names = ["blue", "red"]
    assert [attributes.colour_name[i] for i in (1, 2)] == [list(PALETTE).index(n) for n in names]
    assert attributes.colour_name[[0, 3]].tolist() == [-1, -1]


def test_attributes_reject_a_malformed_colour() -> None:
    frame = CATALOG.assign(colour=["red"] + [RED] * 5)
    with pytest.raises(ValueError, match="#rrggbb"):
        ItemAttributes.from_frame(frame, ITEMS, LAYOUT)


# -- taste profiles -----------------------------------------------------------------------


def test_a_user_aligned_with_red_striped_dresses_gets_them(
    attributes: ItemAttributes,
) -> None:
    profile = taste_profile(np.array([1.0, 0.0]), ITEM_FACTORS, attributes, temperature=0.5)
    assert profile.top_category == "Dress" and profile.category.max() > 0.9
    assert profile.top_colour == "red" and profile.colour_by_name()["red"] > 0.9
    assert profile.top_pattern == "striped" and profile.pattern.max() > 0.9
    red = profile.colour_names.index("red")
    np.testing.assert_allclose(profile.colour_rgb[red], np.array([217, 31, 31]) / 255)
    assert profile.category.sum() == pytest.approx(1.0)


def test_higher_temperature_is_flatter(attributes: ItemAttributes) -> None:
    def entropy(p: np.ndarray) -> float:
        p = p[p > 0]
        return float(-(p * np.log(p)).sum())

    user = np.array([1.0, 0.2])
    entropies = [
        entropy(taste_profile(user, ITEM_FACTORS, attributes, temperature=t).category)
        for t in (0.1, 0.5, 2.0, 50.0)
    ]
    assert entropies == sorted(entropies) and entropies[0] < entropies[-1]
    # Very hot: the plain catalog mix (3 dresses, 2 bags, 1 sandal).
    hot = taste_profile(user, ITEM_FACTORS, attributes, temperature=1e6)
    assert hot.category[LAYOUT.category_index("Dress")] == pytest.approx(0.5)


def test_top_k_and_exclude_restrict_the_items(attributes: ItemAttributes) -> None:
    factors = ITEM_FACTORS + np.array([[0, 0], [0, 0], [0, 0], [0.5, 0], [0, 0], [0, 0]])
    # top_k=1 with the dresses excluded: only b1 (the bag leaning toward x) is left.
    profile = taste_profile(
        np.array([1.0, 0.0]), factors, attributes, top_k=1, exclude=np.array([0, 1, 2])
    )
    assert profile.category[LAYOUT.category_index("Bag")] == pytest.approx(1.0)
    assert profile.colour_names == ("blue",)


def test_a_constant_score_gives_the_catalog_mix(attributes: ItemAttributes) -> None:
    user = np.array([1.0, 0.0])
    # Scored against itself, every item's lift is 0: no taste, the plain catalog mix.
    profile = taste_profile(user, ITEM_FACTORS, attributes, baseline=user)
    assert profile.category[LAYOUT.category_index("Dress")] == pytest.approx(0.5)
    assert profile.colour_by_name() == pytest.approx({"red": 0.5, "blue": 1 / 3, "green": 1 / 6})


def test_items_without_a_pattern_drop_out_of_the_pattern_part_only() -> None:
    attributes = ItemAttributes.from_frame(
        CATALOG.assign(pattern=[None, None, None, "solid", "solid", "dotted"]), ITEMS, LAYOUT
    )
    profile = taste_profile(np.array([1.0, 0.0]), ITEM_FACTORS, attributes, temperature=0.5)
    assert profile.top_category == "Dress"  # the dresses still count here
    assert profile.top_pattern == "solid"  # the bags are the best items with a pattern
    assert profile.pattern[LAYOUT.pattern_index("striped")] == 0.0


def test_contributors_are_rated_items_by_score_or_heaviest_items(
    attributes: ItemAttributes,
) -> None:
    factors = ITEM_FACTORS * np.array([[1.0], [2.0], [3.0], [1.0], [1.0], [1.0]])
    user = np.array([1.0, 0.1])
    rated = taste_profile(user, factors, attributes, rated=[0, 1, 3])
    assert [item for item, _ in rated.contributing_items] == ["d2", "d1", "b1"]
    assert rated.contributors_rated
    heaviest = taste_profile(user, factors, attributes, n_contributors=2)
    assert [item for item, _ in heaviest.contributing_items] == ["d3", "d2"]
    assert not heaviest.contributors_rated


def test_batch_rows_equal_single_profiles(attributes: ItemAttributes) -> None:
    users = np.array([[1.0, 0.0], [0.0, 1.0], [0.3, 0.7]])
    rated = sp.csr_matrix(np.array([[1, 0, 0, 1, 0, 0], [0, 0, 0, 0, 1, 1], [0] * 6]))
    batch = taste_profiles(users, ITEM_FACTORS, attributes, rated=rated)
    for row, user in enumerate(users):
        single = taste_profile(user, ITEM_FACTORS, attributes, rated=rated[row])
        view = batch.profile(row)
        np.testing.assert_allclose(view.category, single.category)
        np.testing.assert_allclose(view.colour_weights, single.colour_weights)
        assert view.contributing_items == single.contributing_items
    assert batch.colour_by_name().shape == (3, len(PALETTE))


def test_item_colour_components_keep_each_item_colour(attributes: ItemAttributes) -> None:
    profile = taste_profile(
        np.array([0.0, 1.0]),
        ITEM_FACTORS,
        attributes,
        colour_components="items",
        max_colour_components=3,
    )
    assert sorted(profile.colour_names) == ["blue", "blue", "green"]
    assert profile.colour_weights.sum() == pytest.approx(1.0)


def test_profiles_validate_their_input(attributes: ItemAttributes) -> None:
    with pytest.raises(ValueError, match="temperature"):
        taste_profile(np.zeros(2), ITEM_FACTORS, attributes, temperature=0.0)
    with pytest.raises(ValueError, match="user_factors"):
        taste_profiles(np.zeros((1, 3)), ITEM_FACTORS, attributes)
    with pytest.raises(ValueError, match="item_factors"):
        taste_profiles(np.zeros((1, 2)), ITEM_FACTORS[:3], attributes)
    with pytest.raises(ValueError, match="no item"):
        taste_profile(np.zeros(2), ITEM_FACTORS, attributes, exclude=np.ones(6, dtype=bool))



def test_own_liked_items_blend_into_the_profile(attributes: ItemAttributes) -> None:
    """A dress lover (factor (1, 0)) who also liked one sandal: the blend gives the
    sandal its share; no liked items (or share 0) keeps the model's profile."""
    user = np.array([[1.0, 0.0], [1.0, 0.0]])
    own = sp.csr_matrix(np.array([[0, 0, 0, 0, 0, 2.0], [0, 0, 0, 0, 0, 0]]))
    model_only = taste_profiles(user, ITEM_FACTORS, attributes, own=own, own_weight=0.0)
    blended = taste_profiles(user, ITEM_FACTORS, attributes, own=own, own_weight=0.5)
    sandal, dress = LAYOUT.categories.index("Sandal"), LAYOUT.categories.index("Dress")
    assert model_only.category[0, sandal] < blended.category[0, sandal]
    assert blended.category[0, sandal] >= 0.5 and blended.category[0, dress] > 0.3
    np.testing.assert_allclose(blended.category[1], model_only.category[1])  # none liked
    for bad, match in ((-0.1, "own_weight"), (1.5, "own_weight")):
        with pytest.raises(ValueError, match=match):
            taste_profiles(user, ITEM_FACTORS, attributes, own=own, own_weight=bad)
    with pytest.raises(ValueError, match=">= 0"):
        taste_profiles(user, ITEM_FACTORS, attributes, own=-own)
    with pytest.raises(ValueError, match="own must be"):
        taste_profiles(user, ITEM_FACTORS, attributes, own=own[:1])

# -- sampling -----------------------------------------------------------------------------


MIXED = profile_of(
    {"Dress": 0.5, "Bag": 0.3, "Sandal": 0.2},
    {"red": 0.5, "blue": 0.5},
    {"solid": 0.6, "dotted": 0.4},
)


def test_the_same_seed_gives_the_same_samples() -> None:
    first = sample_conditions(MIXED, 8, seed=7)
    again = sample_conditions(MIXED, 8, seed=7)
    other = sample_conditions(MIXED, 8, seed=8)
    assert first == again
    assert [s.condition for s in first] != [s.condition for s in other]


def test_each_sample_is_reproducible_alone_from_its_seed() -> None:
    samples = sample_conditions(MIXED, 5, seed=3, diversity=1.5)
    assert [s.seed for s in samples] == sample_seeds(3, 5).tolist()
    assert sample_condition(MIXED, samples[4].seed, diversity=1.5) == samples[4]


def test_shopper_seeds_are_per_shopper_and_repeat_per_request() -> None:
    assert shopper_seed(7, "ann") == shopper_seed(7, "ann")
    assert len({shopper_seed(7, f"u{k}") for k in range(200)}) == 200
    assert shopper_seed(7, "ann") != shopper_seed(8, "ann")
    assert 0 <= shopper_seed(0, "") < 2**63
    with pytest.raises(ValueError):
        shopper_seed(-1, "ann")


def test_pattern_mix_over_100_shoppers_matches_their_profile() -> None:
    """Shoppers with one profile, four images each, the same request seed."""
    draws = [[s.condition.pattern_name for s in
              sample_conditions(MIXED, 4, shopper_seed(0, f"shopper-{k:03d}"))]
             for k in range(100)]
    solid = np.mean([p == "solid" for row in draws for p in row])
    assert abs(solid - 0.6) < 0.1  # 400 draws: sd 0.025
    # All four in one pattern: 100 * (0.6**4 + 0.4**4) = 15.5 expected when each
    # shopper draws independently; shared per-index seeds made this 100.
    one_pattern = sum(len(set(row)) == 1 for row in draws)
    assert 5 <= one_pattern <= 30
    assert len({tuple(row) for row in draws}) > 8


def test_sample_seeds_are_distinct_across_users_and_images() -> None:
    seeds = np.concatenate([sample_seeds(user, 4) for user in range(50)])
    assert len(set(seeds.tolist())) == len(seeds) and (seeds >= 0).all()


def test_diversity_zero_always_gives_the_mode() -> None:
    samples = sample_conditions(MIXED, 20, seed=1, diversity=0.0)
    assert {(s.condition.category_name, s.condition.pattern_name) for s in samples} == {
        ("Dress", "solid")
    }
    # Tied colours: the first component, at its exact centre (no jitter).
    assert all(np.allclose(s.condition.colour, PALETTE["red"]) for s in samples)


def test_colours_are_sampled_from_the_mixture_never_averaged() -> None:
    samples = sample_conditions(MIXED, 60, seed=0, jitter=0.0)
    colours = {tuple(np.round(s.condition.colour, 5).tolist()) for s in samples}
    expected = {
        tuple(np.round(np.array(PALETTE[n], dtype=np.float32), 5).tolist()) for n in ("red", "blue")
    }
    assert colours == expected  # both appear, and nothing in between (no purple)
    assert {s.colour_name for s in samples} == {"red", "blue"}


def test_samples_are_valid_one_hot_conditions() -> None:
    for sample in sample_conditions(MIXED, 30, seed=2, diversity=2.0):
        condition = sample.condition
        assert condition.layout == LAYOUT
        for part in (condition.category, condition.pattern):
            assert sorted(np.unique(part).tolist()) == [0.0, 1.0] and part.sum() == 1.0
        assert ((condition.colour >= 0) & (condition.colour <= 1)).all()
        assert condition.category_name in {"Dress", "Bag", "Sandal"}  # never a 0-prob one


def test_more_diversity_flattens_the_draws() -> None:
    peaked = profile_of({"Dress": 0.8, "Bag": 0.2}, {"red": 1.0}, {"solid": 1.0})

    def dress_share(diversity: float) -> float:
        samples = sample_conditions(peaked, 300, seed=5, diversity=diversity)
        return float(np.mean([s.condition.category_name == "Dress" for s in samples]))

    assert dress_share(0.0) == 1.0
    assert dress_share(0.5) > dress_share(1.0) > dress_share(4.0) > 0.5
