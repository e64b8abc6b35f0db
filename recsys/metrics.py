"""Ranking metrics at K, computed in this one place.

Precision, MAP and NDCG follow ``implicit.evaluation.ranking_metrics_at_k``
exactly (a test checks it), so figures compare with implicit's:

* precision@K = total hits / total ``min(K, |test_u|)`` over users (pooled, and
  capped so a user with 3 test items can still score 1.0);
* MAP@K = mean over users of ``sum_hits (hits so far / rank) / min(K, |test_u|)``;
* NDCG@K = mean over users of DCG / ideal DCG, binary gains, ``1 / log2(rank + 1)``.

Added here: recall@K = mean over users of ``hits / |test_u|``, and catalog
coverage@K = distinct items recommended to anyone / catalog size. Only users
with at least one test item count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

METRIC_NAMES = ("ndcg", "precision", "recall", "map", "coverage")


@dataclass(frozen=True)
class RankingMetrics:
    """Metrics at ``k`` over ``users`` evaluated users."""

    k: int
    users: int
    precision: float
    recall: float
    ndcg: float
    map: float
    coverage: float

    def as_dict(self) -> dict[str, float]:
        """``{"ndcg@10": ..., "precision@10": ..., ...}``, the JSON/CLI layout."""
        return {f"{name}@{self.k}": float(getattr(self, name)) for name in METRIC_NAMES}


def ranking_metrics(
    recommended: np.ndarray, test_user_items: sp.csr_matrix, n_items: int
) -> RankingMetrics:
    """Score top-K lists against held-out items.

    Parameters
    ----------
    recommended : (users, K) int array
        Item rows per user, best first; ``-1`` marks an empty slot.
    test_user_items : (users, items) CSR
        Held-out items of the same users, row for row; rows with no items are skipped.
    n_items : int
        Catalog size, the denominator of coverage.
    """
    if recommended.ndim != 2 or recommended.shape[0] != test_user_items.shape[0]:
        raise ValueError(
            f"recommended {recommended.shape} must be (users, K) with one row per "
            f"test_user_items row ({test_user_items.shape[0]})"
        )
    k = recommended.shape[1]
    test = sp.csr_matrix(test_user_items)
    test.sum_duplicates()
    n_test = np.diff(test.indptr)  # (users,)
    keep = n_test > 0
    recommended, n_test = recommended[keep], n_test[keep]
    test = test[keep]
    users = int(keep.sum())
    if users == 0:
        raise ValueError("no user has a test item; nothing to evaluate")

    hits = _hits(recommended, test)  # (users, K) bool
    hits_per_user = hits.sum(axis=1)
    capped = np.minimum(k, n_test)  # min(K, |test_u|)
    ranks = np.arange(1, k + 1)

    discount = 1.0 / np.log2(ranks + 1)  # (K,)
    ideal = np.cumsum(discount)[capped - 1]  # (users,)
    ndcg = (hits * discount).sum(axis=1) / ideal
    precision_at_rank = np.cumsum(hits, axis=1) / ranks  # hits so far / rank
    average_precision = (precision_at_rank * hits).sum(axis=1) / capped
    shown = np.unique(recommended[recommended >= 0])
    return RankingMetrics(
        k=k,
        users=users,
        precision=float(hits_per_user.sum() / capped.sum()),
        recall=float(np.mean(hits_per_user / n_test)),
        ndcg=float(ndcg.mean()),
        map=float(average_precision.mean()),
        coverage=len(shown) / n_items,
    )


def _hits(recommended: np.ndarray, test: sp.csr_matrix) -> np.ndarray:
    """(users, K) mask: is ``recommended[u, j]`` among user ``u``'s test items?"""
    n_items = test.shape[1]
    user_of_entry = np.repeat(np.arange(test.shape[0]), np.diff(test.indptr))
    # One sorted key per (user, item) test pair; look recommendations up in it.
    test_keys = np.sort(user_of_entry.astype(np.int64) * n_items + test.indices)
    rows = np.arange(recommended.shape[0], dtype=np.int64)[:, None]
    query = rows * n_items + recommended
    found = np.searchsorted(test_keys, query)
    found = np.minimum(found, len(test_keys) - 1)
    return (recommended >= 0) & (test_keys[found] == query)
