"""A tiny store for campaign tests: two taste tribes, a fan, a lurker, ALS and a generator.

* ``a0``-``a9`` rate Dresses (``a0``-``a2`` with 2 stars, the rest 5), early;
* ``b0``-``b9`` rate Bags with 5 stars, later (from ``LATE``);
* ``fan`` rates every item (the most active user);
* ``lurker`` exists but never rated anything (gets the population's taste).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine

from pigen.data.database import session_scope
from pigen.data.ingest import ingest_catalog_frame, ingest_ratings_frame
from pigen.data.schema import User

EARLY = 1_700_000_000
LATE = 1_750_000_000


def tribes_store(engine: Engine, tmp_path: Path) -> Engine:
    """Catalog, ratings, a trained ALS (active) and a tiny random generator (active)."""
    from pigen.data.conditions import ConditionLayout
    from pigen.generator.checkpoint import save_generator
    from pigen.generator.config import GeneratorConfig
    from pigen.generator.models import build_generator
    from pigen.recsys.config import ALSConfig
    from pigen.service.generator_serving import ensure_generator_version
    from pigen.service.recsys_serving import train_and_register

    ingest_catalog_frame(engine, pd.DataFrame({
        "item_id": [f"i{k:02d}" for k in range(20)],
        "category": ["Dress"] * 10 + ["Bag"] * 10,
        "colour": ["#dd2020"] * 10 + ["#2040dd"] * 10,
        "pattern": ["striped"] * 10 + ["dotted"] * 10,
    }))
    rng = np.random.default_rng(0)
    rows = []
    for tribe, offset, start in (("a", 0, EARLY), ("b", 10, LATE)):
        for u in range(10):
            stars = 2.0 if tribe == "a" and u < 3 else 5.0
            for item in rng.choice(10, size=5, replace=False):
                rows.append((f"{tribe}{u}", f"i{offset + item:02d}", stars, start + len(rows)))
    rows += [("fan", f"i{k:02d}", 4.0, EARLY + k) for k in range(20)]
    ingest_ratings_frame(engine, pd.DataFrame(
        rows, columns=["user_id", "item_id", "rating", "timestamp"]))
    with session_scope(engine) as session:
        session.add(User(external_id="lurker"))
    train_and_register(engine, tmp_path / "models",
                       ALSConfig(factors=2, regularization=1.0, iterations=10, alpha=5.0))
    layout = ConditionLayout.builtin()
    model = build_generator(GeneratorConfig.tiny(), layout).eval()
    weights = save_generator(model, layout, tmp_path / "models" / "g.safetensors")
    ensure_generator_version(engine, weights=weights)
    return engine


@pytest.fixture
def store_engine(engine: Engine, tmp_path: Path) -> Engine:
    """The tribes store on SQLite and on PostgreSQL."""
    return tribes_store(engine, tmp_path)


@pytest.fixture
def sqlite_store(sqlite_engine: Engine, tmp_path: Path) -> Engine:
    """The tribes store on SQLite only (for slower end-to-end tests)."""
    return tribes_store(sqlite_engine, tmp_path)
