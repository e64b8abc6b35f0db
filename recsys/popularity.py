"""PopularityRecommender: the non-personalised baseline every model must beat."""

from __future__ import annotations

from pathlib import Path
from typing import Self

import numpy as np
import scipy.sparse as sp

from pigen.data.idmap import IdMap
from pigen.recsys.base import Recommender, check_user_items, not_fitted
from pigen.recsys.storage import (
    expect_dtype_kind,
    expect_shape,
    id_map_from,
    load_arrays,
    save_arrays,
)

_KEYS = frozenset({"user_ids", "item_ids", "item_counts"})


class PopularityRecommender(Recommender):
    """Ranks items by how many training users interacted with them.

    The score is the count of stored (user, item) entries per item, not the sum
    of values: a 1-star rating still says the item drew attention, and counts
    mean the same whatever the value scale (on MovieLens both ranked within
    0.001 NDCG@10 of each other). Ties go to the lower item row. Fresh or
    unknown users get the same ranking minus what they rated; "similar items"
    are simply the most popular other items.
    """

    kind = "popularity"

    def __init__(self) -> None:
        super().__init__()
        self._item_counts: np.ndarray | None = None  # (items,) int64
        self._ranking: np.ndarray | None = None  # (items,) item rows, most popular first

    def fit(self, user_items: sp.csr_matrix, users: IdMap, items: IdMap) -> Self:
        user_items = check_user_items(user_items, len(users), len(items))
        self._install(np.bincount(user_items.indices, minlength=len(items)), users, items)
        return self

    def _install(self, item_counts: np.ndarray, users: IdMap, items: IdMap) -> None:
        self._users, self._items = users, items
        self._item_counts = np.asarray(item_counts, dtype=np.int64)
        self._ranking = np.argsort(-self._item_counts, kind="stable")

    @property
    def item_counts(self) -> np.ndarray:
        """(items,) training interactions per item."""
        if self._item_counts is None:
            raise not_fitted(self)
        return self._item_counts

    def _fitted_ranking(self) -> np.ndarray:
        """Item rows, most popular first."""
        if self._ranking is None:
            raise not_fitted(self)
        return self._ranking

    def _recommend_rows(
        self, user_rows: np.ndarray, user_items: sp.csr_matrix, n: int, filter_liked: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        return self._recommend_new(user_items, n, filter_liked)

    def _recommend_new(
        self, user_items: sp.csr_matrix, n: int, filter_liked: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        ranking = self._fitted_ranking()
        n_users = user_items.shape[0]
        # Only the first n + (most items any user rated) of the global ranking
        # can reach anyone's top n, so the work is (users, n + max liked).
        most_liked = int(np.diff(user_items.indptr).max(initial=0)) if filter_liked else 0
        head = ranking[: n + most_liked]  # (candidates,)
        candidates = np.broadcast_to(head, (n_users, len(head)))
        scores = np.broadcast_to(self.item_counts[head].astype(np.float32), candidates.shape)
        if filter_liked:
            liked = user_items[:, head].toarray() != 0  # (users, candidates)
            scores = np.where(liked, -np.inf, scores)
            # Stable sort on "liked" keeps popularity order among the rest.
            order = np.argsort(liked, axis=1, kind="stable")[:, :n]
            return np.take_along_axis(candidates, order, 1), np.take_along_axis(scores, order, 1)
        return candidates[:, :n].copy(), scores[:, :n].copy()

    def _similar_rows(self, item_rows: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        ranking = self._fitted_ranking()
        head = ranking[:n]
        ids = np.broadcast_to(head, (len(item_rows), len(head))).copy()
        scores = np.broadcast_to(self.item_counts[head].astype(np.float32), ids.shape).copy()
        return ids, scores

    def save(self, path: str | Path) -> None:
        """One ``.npz``: the id maps and the per-item counts."""
        save_arrays(
            path,
            self.kind,
            {
                "user_ids": self.users.to_array(),
                "item_ids": self.items.to_array(),
                "item_counts": self.item_counts,
            },
        )

    @classmethod
    def load(cls, path: str | Path, data: bytes | None = None) -> Self:
        arrays = load_arrays(path, cls.kind, _KEYS, data)
        users = id_map_from(path, "user_ids", arrays["user_ids"])
        items = id_map_from(path, "item_ids", arrays["item_ids"])
        expect_shape(path, "item_counts", arrays["item_counts"], (len(items),))
        expect_dtype_kind(path, "item_counts", arrays["item_counts"], "iu")
        recommender = cls()
        recommender._install(arrays["item_counts"], users, items)
        return recommender
