"""A store built from a ratings file alone: train, recommend and profile, on both databases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from pigen.data.ingest import ingest_catalog_frame, ingest_ratings_frame
from pigen.data.ingest.ratings import RatingsOptions
from pigen.data.ratings_matrix import read_interactions
from pigen.recsys.config import ALSConfig
from pigen.recsys.evaluation import evaluate_interactions
from pigen.service.recsys_serving import recommend_for_user, train_and_register
from pigen.service.taste import taste_for_user

CONFIG = ALSConfig(factors=2, regularization=1.0, iterations=15, alpha=5.0)
CREATE = RatingsOptions(create_items=True)


def tribes(n_items: int = 10, start: int = 1_700_000_000) -> pd.DataFrame:
    """20 users rate only movies m0-m4 (tribe a), 20 only m5-m9 (tribe b)."""
    rng = np.random.default_rng(0)
    rows = []
    for tribe, offset in (("a", 0), ("b", n_items // 2)):
        for u in range(20):
            for item in rng.choice(n_items // 2, size=3, replace=False):
                rows.append((f"{tribe}{u}", f"m{offset + item}", 5.0, start + len(rows)))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])


def test_ratings_only_store_trains_evaluates_and_recommends(engine: Engine,
                                                            tmp_path: Path) -> None:
    report = ingest_ratings_frame(engine, tribes(), options=CREATE)
    assert report.new_items == 10
    version = train_and_register(engine, tmp_path / "models", CONFIG)
    assert version.metrics["items"] == 10
    answer = recommend_for_user(engine, "a0", n=2)
    assert {item.item_id for item in answer.items} <= {f"m{k}" for k in range(5)}
    results = evaluate_interactions(read_interactions(engine).to_frame(), "random", k=3,
                                    als_config=CONFIG)
    assert results["als"]["ndcg@3"] > results["popularity"]["ndcg@3"]
    # No attributes anywhere: the taste is the plain layout's, with no bundles.
    taste = taste_for_user(engine, "a0", n=3)
    assert len(taste.profile.bundle_weights) == 0 and len(taste.samples) == 3


def test_items_without_attributes_are_recommended_but_do_not_shape_images(
        engine: Engine, tmp_path: Path) -> None:
    # Tribe a's movies get a catalog (red striped dresses); tribe b's stay bare.
    ingest_catalog_frame(engine, pd.DataFrame({
        "item_id": [f"m{k}" for k in range(5)], "category": ["Dress"] * 5,
        "colour": ["#dd2020"] * 5, "pattern": ["striped"] * 5}))
    ingest_ratings_frame(engine, tribes(), options=CREATE)
    train_and_register(engine, tmp_path / "models", CONFIG)
    bare = recommend_for_user(engine, "b0", n=2)
    assert {item.item_id for item in bare.items} <= {f"m{k}" for k in range(5, 10)}
    taste = taste_for_user(engine, "b0", n=8)
    # b0's weight sits mostly on bare items: they add nothing, the one described kind is all.
    layout = taste.profile.layout
    dress = layout.categories.index("Dress")
    assert taste.profile.category[dress] == 1.0
    assert taste.profile.bundle_parts.tolist() == [[dress, 0, layout.patterns.index("striped")]]
    assert all(s.condition.category_name == "Dress" for s in taste.samples)
