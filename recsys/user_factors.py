"""Which factor a user gets at serving time: the model's, a fold-in, or the cold prior.

* in the model and nothing newer than the fit -> the trained factor ("model");
* interactions newer than the fit, or a user the model never saw -> a
  least-squares fold-in of their current history against the frozen item
  factors ("folded"), no refit;
* no usable interactions -> the popularity-weighted mean item factor ("prior").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp

from pigen.data.idmap import IdMap
from pigen.recsys.als import ALSRecommender

FactorSource = Literal["model", "folded", "prior"]


@dataclass(frozen=True)
class UserFactor:
    """A user's factor, where it came from, and their history in the model's item layout."""

    user_id: str
    factor: np.ndarray  # (factors,) float32
    source: FactorSource
    history: sp.csr_matrix  # (1, items) the user's interactions the model can use


def history_row(items: IdMap, item_ids: Sequence[str], values: Sequence[float] | np.ndarray
                ) -> sp.csr_matrix:
    """A (1, items) row of the given interactions; items the model never saw are dropped.

    A repeated item keeps its last value (histories come oldest first).
    """
    columns: dict[int, float] = {}
    for item_id, value in zip(item_ids, values, strict=True):
        if item_id in items:
            columns[items.row_of(item_id)] = float(value)
    cols = np.fromiter(sorted(columns), dtype=np.int32, count=len(columns))
    data = np.array([columns[c] for c in cols], dtype=np.float32)
    return sp.csr_matrix((data, cols, np.array([0, len(cols)])), shape=(1, len(items)))


def resolve_user_factor(model: ALSRecommender, user_id: str, item_ids: Sequence[str],
                        values: Sequence[float] | np.ndarray, has_newer: bool) -> UserFactor:
    """Pick the factor for ``user_id`` given their current history (see the module doc)."""
    row = history_row(model.items, item_ids, values)
    if model.weighted(row).nnz == 0:  # nothing the model can use (none, or all dropped)
        return UserFactor(user_id, model.cold_prior(), "prior", row)
    if user_id in model.users and not has_newer:
        return UserFactor(user_id, model.user_factors[model.users.row_of(user_id)], "model", row)
    return UserFactor(user_id, model.fold_in(row)[0], "folded", row)


def top_items(model: ALSRecommender, user: UserFactor, n: int = 10,
              filter_already_liked: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Top ``n`` item rows and scores for a resolved user (``-1`` pads a short list)."""
    return model.recommend_from_factors(user.factor, user.history, n, filter_already_liked)
