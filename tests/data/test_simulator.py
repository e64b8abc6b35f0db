"""Storefront simulator: determinism, shape of the ratings, and a taste signal that is real."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pigen.data.simulator import (
    RATING_COLUMNS,
    SimulationResult,
    SimulatorConfig,
    Vocab,
    load_tastes,
    read_tastes_header,
    save_tastes,
    simulate,
)
from pigen.data.typed_config import ConfigError

CATEGORIES = (
    "Ankle boot",
    "Bag",
    "Coat",
    "Dress",
    "Pullover",
    "Sandal",
    "Shirt",
    "Sneaker",
    "T-shirt/top",
    "Trouser",
)
COLOURS = (
    "beige",
    "black",
    "blue",
    "brown",
    "green",
    "grey",
    "navy",
    "orange",
    "pink",
    "red",
    "white",
    "yellow",
)
PATTERNS = ("checked", "dotted", "solid", "striped")


def make_items(n: int = 200, seed: int = 7) -> pd.DataFrame:
    """A catalog drawn uniformly from the vocabularies, so every name occurs."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "item_id": [f"item-{i:04d}" for i in range(n)],
            "category": np.array(CATEGORIES)[np.arange(n) % len(CATEGORIES)],
            "colour_name": rng.choice(COLOURS, n),
            "pattern": rng.choice(PATTERNS, n),
        }
    )


SMALL = SimulatorConfig(n_shoppers=300, mean_ratings=20.0, max_ratings=120, seed=3)


@pytest.fixture(scope="module")
def items() -> pd.DataFrame:
    return make_items()


@pytest.fixture(scope="module")
def result(items: pd.DataFrame) -> SimulationResult:
    return simulate(items, SMALL)


def joined(result: SimulationResult, items: pd.DataFrame) -> pd.DataFrame:
    """Ratings with item attributes and each rater's hidden top category/colour/pattern."""
    frame = result.ratings.merge(items, on="item_id", how="left")
    tastes, vocab = result.tastes, result.vocab
    row = tastes.shoppers.rows_of(frame["user_id"].tolist())
    frame["top_category"] = np.asarray(vocab.categories)[tastes.top_category()[row]]
    frame["top_pattern"] = np.asarray(vocab.patterns)[tastes.pattern.argmax(axis=1)[row]]
    colour = pd.Categorical(frame["colour_name"], categories=vocab.colours).codes
    frame["favourite_colour"] = tastes.favourite_colours[row, colour]
    return frame


def margin(frame: pd.DataFrame, hit: pd.Series) -> float:
    return float(frame.loc[hit, "rating"].mean() - frame.loc[~hit, "rating"].mean())


def test_same_seed_same_output(items: pd.DataFrame, result: SimulationResult) -> None:
    again = simulate(items, SMALL)
    pd.testing.assert_frame_equal(result.ratings, again.ratings)
    assert result.tastes.shoppers == again.tastes.shoppers
    for part in ("category", "colour", "pattern"):
        np.testing.assert_array_equal(getattr(result.tastes, part), getattr(again.tastes, part))


def test_other_seed_differs(items: pd.DataFrame, result: SimulationResult) -> None:
    other = simulate(items, SMALL.replace(seed=4))
    assert not np.array_equal(result.tastes.category, other.tastes.category)
    pairs = set(zip(result.ratings.user_id, result.ratings.item_id, strict=True))
    other_pairs = set(zip(other.ratings.user_id, other.ratings.item_id, strict=True))
    assert pairs != other_pairs


def test_ratings_frame_shape(items: pd.DataFrame, result: SimulationResult) -> None:
    ratings = result.ratings
    assert tuple(ratings.columns) == RATING_COLUMNS
    assert ratings["timestamp"].dtype == np.int64
    assert ratings["rating"].dtype == np.float64
    assert set(ratings["rating"].unique()) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert set(ratings["kind"]) == {"rating"}
    assert set(ratings["item_id"]) <= set(items["item_id"])
    assert not ratings.duplicated(["user_id", "item_id"]).any()
    counts = ratings.groupby("user_id").size()
    assert len(counts) == SMALL.n_shoppers
    assert counts.min() >= SMALL.min_ratings
    assert counts.max() <= SMALL.max_ratings
    assert counts.mean() == pytest.approx(SMALL.mean_ratings, rel=0.05)
    assert counts.max() > 3 * counts.median()  # heavy-tailed activity
    assert ratings["user_id"].iloc[0] == "shopper-00001"


def test_every_star_is_used(result: SimulationResult) -> None:
    share = result.ratings["rating"].value_counts(normalize=True)
    assert share.min() > 0.03
    assert 3.0 < result.ratings["rating"].mean() < 4.0


def test_timestamps_strictly_increase_per_shopper(result: SimulationResult) -> None:
    ratings = result.ratings
    step = ratings.groupby("user_id")["timestamp"].diff().dropna()
    assert (step > 0).all()
    assert ratings["timestamp"].min() >= SMALL.start_timestamp
    assert ratings["timestamp"].max() < SMALL.start_timestamp + SMALL.span_seconds + 200


def test_timestamps_stay_strict_when_seconds_collide(items: pd.DataFrame) -> None:
    config = SMALL.replace(n_shoppers=20, span_days=5 / 86_400)  # 5 seconds
    ratings = simulate(items, config).ratings
    assert (ratings.groupby("user_id")["timestamp"].diff().dropna() > 0).all()


def test_exposure_favours_taste(items: pd.DataFrame, result: SimulationResult) -> None:
    frame = joined(result, items)
    catalog_share = 1 / len(CATEGORIES)  # the fixture spreads categories evenly
    assert (frame["category"] == frame["top_category"]).mean() > 1.6 * catalog_share
    # Expected share of favourite-colour items if exposure ignored colour.
    tastes = result.tastes
    colour_share = items["colour_name"].value_counts(normalize=True)
    colour_share = colour_share.reindex(list(result.vocab.colours), fill_value=0).to_numpy()
    blind = (tastes.favourite_colours @ colour_share).mean()
    assert frame["favourite_colour"].mean() > 1.15 * blind


def test_ratings_carry_taste(items: pd.DataFrame, result: SimulationResult) -> None:
    frame = joined(result, items)
    assert margin(frame, frame["category"] == frame["top_category"]) > 0.6
    assert margin(frame, frame["favourite_colour"]) > 0.3
    assert margin(frame, frame["pattern"] == frame["top_pattern"]) > 0.25


def test_no_taste_weight_no_signal(items: pd.DataFrame) -> None:
    """Control: with taste switched off the same measurements find nothing."""
    config = SMALL.replace(
        category_weight=0.0, colour_weight=0.0, pattern_weight=0.0, n_shoppers=600
    )
    frame = joined(simulate(items, config), items)
    top = frame["category"] == frame["top_category"]
    assert top.mean() == pytest.approx(1 / len(CATEGORIES), abs=0.02)
    assert abs(margin(frame, top)) < 0.15
    assert abs(margin(frame, frame["favourite_colour"])) < 0.15


def test_tastes_are_distributions(result: SimulationResult) -> None:
    tastes = result.tastes
    for part in (tastes.category, tastes.colour, tastes.pattern):
        np.testing.assert_allclose(part.sum(axis=1), 1.0)
        assert (part >= 0).all()
    n_favourite = tastes.favourite_colours.sum(axis=1)
    assert set(np.unique(n_favourite)) == {1, 2, 3}
    # Peaked: the typical shopper puts a large share on one category.
    assert np.median(tastes.category.max(axis=1)) > 0.3
    taste = tastes.taste("shopper-00002")
    assert taste.top_colour == result.vocab.colours[tastes.top_colour()[1]]
    assert list(taste.colours.values()) == sorted(taste.colours.values(), reverse=True)
    assert taste.top_category == result.vocab.categories[tastes.top_category()[1]]


def test_tastes_file_round_trip(tmp_path: Path, result: SimulationResult) -> None:
    path = save_tastes(tmp_path / "sub" / "tastes.jsonl", result.tastes, SMALL)
    loaded = load_tastes(path)
    assert loaded.vocab == result.vocab
    assert loaded.shoppers == result.tastes.shoppers
    for part in ("category", "colour", "pattern"):
        np.testing.assert_array_equal(getattr(loaded, part), getattr(result.tastes, part))
    header = read_tastes_header(path)
    assert SimulatorConfig.from_dict(header["config"]) == SMALL
    assert header["vocab"]["colours"] == list(COLOURS)


def test_tastes_file_rejects_other_files(tmp_path: Path) -> None:
    path = tmp_path / "other.jsonl"
    path.write_text('{"format": "something-else"}\n')
    with pytest.raises(ValueError, match="not a pigen-tastes file"):
        load_tastes(path)


def test_vocab_comes_from_the_catalog() -> None:
    items = pd.DataFrame(
        {
            "item_id": ["a", "b", "c", "d"],
            "category": ["scarf", "hat", "hat", "cap"],
            "colour_name": ["teal", "teal", "plum", "plum"],
            "pattern": ["plain", "plaid", "plain", "plaid"],
        }
    )
    result = simulate(items, SMALL.replace(n_shoppers=10, min_ratings=2))
    assert result.vocab == Vocab(("cap", "hat", "scarf"), ("plum", "teal"), ("plaid", "plain"))
    assert result.ratings.groupby("user_id").size().max() <= 4


def test_explicit_vocab_must_cover_the_catalog(items: pd.DataFrame) -> None:
    vocab = Vocab(CATEGORIES[:-1], COLOURS, PATTERNS)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        simulate(items, SMALL, vocab=vocab)


@pytest.mark.parametrize(
    "change",
    [
        {"n_shoppers": 0},
        {"mean_ratings": -1.0},
        {"taste_exposure": 1.5},
        {"min_ratings": 10, "max_ratings": 5},
        {"min_favourite_colours": 0},
        {"cutpoints": (1.0, 0.0, 2.0, 3.0)},
        {"taste_floor": 0.0},
        {"rating_noise": float("nan")},
        {"n_shoppers": 10.5},
        {"seed": True},
    ],
)
def test_config_rejects_bad_values(change: dict[str, object]) -> None:
    with pytest.raises(ConfigError) as caught:
        SimulatorConfig().replace(**change)
    # The message names the field (or, for a cross-field rule, the fields) at fault.
    assert next(iter(change)) in str(caught.value)


def test_config_from_dict_rejects_unknown_keys() -> None:
    with pytest.raises(ConfigError, match="n_shopers: unknown key"):
        SimulatorConfig.from_dict({"n_shopers": 10})
    config = SimulatorConfig(seed=7, cutpoints=(-1.0, 0.0, 1.0, 2.0))
    assert SimulatorConfig.from_dict(config.to_dict()) == config
