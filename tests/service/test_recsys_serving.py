"""Train -> register -> serve one user, on both databases, with real implicit ALS."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine

from pigen.data.ingest import ingest_catalog_frame, ingest_ratings_frame
from pigen.data.model_registry import active_model_version, list_model_versions
from pigen.recsys.config import ALSConfig
from pigen.service.recsys_serving import recommend_for_user, train_and_register
from pigen.service.taste import taste_for_user

# Two tribes need two factors; more would let each user overfit their own items.
CONFIG = ALSConfig(factors=2, regularization=1.0, iterations=15, alpha=5.0)


def two_tribes(engine: Engine, start: int = 1_700_000_000) -> None:
    """20 users who rate only items 0-9 ('a' tribe) and 20 who rate only 10-19 ('b')."""
    rng = np.random.default_rng(0)
    ingest_catalog_frame(engine, pd.DataFrame({
        "item_id": [f"i{k}" for k in range(20)],
        "category": ["Dress"] * 10 + ["Bag"] * 10,
        "colour": ["#dd2020"] * 10 + ["#2040dd"] * 10,
        "pattern": ["striped"] * 10 + ["dotted"] * 10,
    }))
    rows = []
    for tribe, offset in (("a", 0), ("b", 10)):
        for u in range(20):
            for item in rng.choice(10, size=6, replace=False):
                rows.append((f"{tribe}{u}", f"i{offset + item}", 5.0, start + len(rows)))
    ingest_ratings_frame(engine, pd.DataFrame(rows, columns=["user_id", "item_id", "rating",
                                                             "timestamp"]))


def test_train_registers_and_serves(engine: Engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    two_tribes(engine)
    version = train_and_register(engine, tmp_path / "models", CONFIG)
    assert version.is_active and version.path.exists()
    assert version.metrics["ratings"] == 240 and version.config["factors"] == 2

    known = recommend_for_user(engine, "a0", n=3, explain=True)
    assert known.source == "model"
    assert all(int(item.item_id[1:]) < 10 for item in known.items)
    assert all(item.because for item in known.items)  # explained by a0's own ratings

    cold = recommend_for_user(engine, "stranger", n=3)
    assert cold.source == "prior" and len(cold.items) == 3


def test_newer_ratings_are_folded_in(engine: Engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    two_tribes(engine)
    train_and_register(engine, tmp_path / "models", CONFIG)
    # A new shopper rates three 'b' items after the model was trained.
    ingest_ratings_frame(engine, pd.DataFrame({
        "user_id": ["newbie"] * 3, "item_id": ["i10", "i11", "i12"], "rating": [5.0] * 3,
        "timestamp": [1_800_000_000] * 3}))
    answer = recommend_for_user(engine, "newbie", n=4)
    assert answer.source == "folded" and answer.history_size == 3
    assert all(int(item.item_id[1:]) >= 13 for item in answer.items)  # rest of tribe b


def test_retraining_swaps_the_active_version(engine: Engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    two_tribes(engine)
    first = train_and_register(engine, tmp_path / "models", CONFIG)
    second = train_and_register(engine, tmp_path / "models", CONFIG.replace(factors=3))
    assert active_model_version(engine, "als").id == second.id  # type: ignore[union-attr]
    assert [v.id for v in list_model_versions(engine, "als")] == [second.id, first.id]


def test_no_model_no_ratings(engine: Engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(LookupError, match="recsys train"):
        recommend_for_user(engine, "anyone")
    with pytest.raises(ValueError, match="no ratings"):
        train_and_register(engine, tmp_path, CONFIG)


def test_taste_follows_the_tribe_and_cold_users_get_the_population(engine: Engine,
                                                                   tmp_path) -> None:  # type: ignore[no-untyped-def]
    two_tribes(engine)
    train_and_register(engine, tmp_path / "models", CONFIG)
    taste = taste_for_user(engine, "b3", n=5, seed=7)
    assert taste.source == "model"
    assert taste.profile.top_category == "Bag" and taste.profile.top_pattern == "dotted"
    assert taste.profile.top_colour == "blue"
    assert taste.profile.contributors_rated  # explained by b3's own ratings
    bag = taste.profile.layout.categories.index("Bag")
    assert taste.profile.category[bag] > 0.8
    modes = taste_for_user(engine, "b3", n=3, seed=7, diversity=0.0).samples
    assert {(s.condition.category_name, s.condition.pattern_name) for s in modes} == {
        ("Bag", "dotted")}
    again = taste_for_user(engine, "b3", n=5, seed=7)
    assert [s.condition for s in again.samples] == [s.condition for s in taste.samples]

    cold = taste_for_user(engine, "stranger", n=2)
    assert cold.source == "prior"
    # Both tribes rated 120 times each: the population mix is half and half.
    dress = cold.profile.layout.categories.index("Dress")
    assert abs(cold.profile.category[dress] - 0.5) < 1e-6
    assert abs(cold.profile.category[bag] - 0.5) < 1e-6
