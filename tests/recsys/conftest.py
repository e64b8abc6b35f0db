"""Fixtures for recsys tests: a tiny matrix with a known answer and a synthetic log."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from pigen.data.idmap import IdMap

# Two taste groups with disjoint items. Group A (users 0-3) rates pairs of
# items 0-2, group B (users 4-6) pairs of items 3-5; group A is bigger, so its
# items are the popular ones (counts 3, 3, 2 vs 2, 2, 2).
GROUPS = {0: [0, 1], 1: [1, 2], 2: [0, 2], 3: [0, 1], 4: [3, 4], 5: [4, 5], 6: [3, 5]}
GROUP_A_ITEMS = {0, 1, 2}
GROUP_B_ITEMS = {3, 4, 5}


@dataclass(frozen=True)
class Tiny:
    user_items: sp.csr_matrix  # (7 users, 6 items)
    users: IdMap
    items: IdMap


def row(items: dict[int, float], n_items: int = 6) -> sp.csr_matrix:
    """One user's (1, n_items) CSR row from {item row: value}."""
    cols = list(items)
    return sp.csr_matrix(
        (np.asarray(list(items.values()), dtype=np.float32), ([0] * len(cols), cols)),
        shape=(1, n_items),
    )


@pytest.fixture
def tiny() -> Tiny:
    users, items = [], []
    for user, rated in GROUPS.items():
        users += [user] * len(rated)
        items += rated
    matrix = sp.csr_matrix(
        (np.ones(len(users), dtype=np.float32), (users, items)), shape=(7, 6)
    )
    return Tiny(
        matrix,
        IdMap.from_ids(f"user{u}" for u in range(7)),
        IdMap.from_ids(f"item{i}" for i in range(6)),
    )


def synthetic_interactions(
    n_users: int = 120, n_items: int = 60, per_user: int = 15, seed: int = 0
) -> pd.DataFrame:
    """A ratings log with structure: users prefer one of three item clusters."""
    rng = np.random.default_rng(seed)
    cluster_of_item = np.arange(n_items) % 3
    rows = []
    for user in range(n_users):
        favourite = user % 3
        weights = np.where(cluster_of_item == favourite, 6.0, 1.0) * rng.random(n_items)
        chosen = rng.choice(n_items, per_user, replace=False, p=weights / weights.sum())
        for position, item in enumerate(chosen):
            rows.append((f"u{user}", f"i{item}", float(rng.integers(1, 6)),
                         1_000_000 + 100 * user + int(rng.integers(0, 50)) + position))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "value", "timestamp"])


@pytest.fixture
def interactions() -> pd.DataFrame:
    return synthetic_interactions()
