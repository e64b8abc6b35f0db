"""Turn (mapped) interaction values into ALS confidences (raw, BM25 or TF-IDF).

The formulas are implicit's ``bm25_weight`` / ``tfidf_weight`` applied the way
implicit's own examples apply them, to the items x users transpose: items are
the "documents" (length-normalised by how much they were consumed) and users
the "terms" (a user who rated everything says little about each item).

Unlike calling implicit's functions, the item statistics are kept after the fit,
so a user folded in later is weighted exactly as the training users were.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from pigen.recsys.config import Weighting


@dataclass(frozen=True)
class ConfidenceWeighting:
    """A fitted weighting: frozen item statistics plus the scheme's parameters."""

    scheme: Weighting
    k1: float
    b: float
    # (items,) float32: BM25's per-item length norm from the training matrix;
    # ones for the other schemes, so saved files always have the same shape.
    item_length_norm: np.ndarray

    @classmethod
    def fit(
        cls, user_items: sp.csr_matrix, scheme: Weighting, k1: float = 100.0, b: float = 0.8,
    ) -> ConfidenceWeighting:
        """Learn the item statistics of ``user_items`` (users x items)."""
        n_items = user_items.shape[1]
        if scheme != "bm25":
            return cls(scheme, k1, b, np.ones(n_items, dtype=np.float32))
        # Same operations and dtypes as implicit.nearest_neighbours.bm25_weight on
        # the transpose, so training confidences match implicit's bit for bit.
        item_users = sp.coo_matrix(user_items.T)
        item_sums = np.ravel(item_users.sum(axis=1))
        length_norm = (1.0 - b) + b * item_sums / item_sums.mean()
        return cls(scheme, k1, b, np.asarray(length_norm))

    def transform(self, user_items: sp.csr_matrix) -> sp.csr_matrix:
        """Confidences (before alpha) for any users x items rows, as float32 CSR.

        Entries whose BM25/TF-IDF weight is not positive (a user who rated nearly
        every item has idf <= 0) are dropped: implicit would read them as dislikes.
        """
        if self.scheme == "raw":
            return sp.csr_matrix(user_items, dtype=np.float32, copy=True)
        if (user_items.data < 0).any():
            # sqrt/BM25 of a negative value is NaN or nonsense, not a dislike.
            raise ValueError(f"weighting {self.scheme!r} needs non-negative values; use "
                             "weighting 'raw' for signed feedback")
        n_items = len(self.item_length_norm)
        rows = np.repeat(np.arange(user_items.shape[0]), np.diff(user_items.indptr))
        cols = user_items.indices
        values = user_items.data
        # idf per user: log(N) - log(1 + items the user touched), N = catalog size.
        idf = np.log(float(n_items)) - np.log1p(np.diff(user_items.indptr))
        if self.scheme == "bm25":
            k1 = self.k1
            weighted = (
                values * (k1 + 1.0) / (k1 * self.item_length_norm[cols] + values) * idf[rows]
            )
        else:  # tfidf
            weighted = np.sqrt(values) * idf[rows]
        out = sp.csr_matrix(
            (weighted.astype(np.float32), cols.copy(), user_items.indptr.copy()),
            shape=user_items.shape,
        )
        out.data[out.data < 0] = 0
        out.eliminate_zeros()
        return out
