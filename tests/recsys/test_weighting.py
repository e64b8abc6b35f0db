"""Confidence weighting equals implicit's formulas and is reusable for fold-in."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from implicit.nearest_neighbours import bm25_weight, tfidf_weight

from pigen.recsys.weighting import ConfidenceWeighting


def ratings(seed: int = 0) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    dense = rng.integers(1, 6, size=(40, 30)) * (rng.random((40, 30)) < 0.2)
    return sp.csr_matrix(dense.astype(np.float32))


@pytest.mark.parametrize(
    ("scheme", "implicit_weight"),
    [("bm25", lambda m: bm25_weight(m.T, K1=100, B=0.8).T),
     ("tfidf", lambda m: tfidf_weight(m.T).T)],
)
def test_training_confidences_equal_implicits(scheme: str, implicit_weight) -> None:
    user_items = ratings()
    ours = ConfidenceWeighting.fit(user_items, scheme).transform(user_items)  # type: ignore[arg-type]
    theirs = sp.csr_matrix(implicit_weight(user_items)).astype(np.float32)
    np.testing.assert_array_equal(ours.toarray(), theirs.toarray())


def test_a_new_row_is_weighted_with_the_training_statistics() -> None:
    user_items = ratings()
    weighting = ConfidenceWeighting.fit(user_items, "bm25")
    full = weighting.transform(user_items)
    alone = weighting.transform(user_items[[5]])
    np.testing.assert_array_equal(alone.toarray(), full[[5]].toarray())


def test_raw_passes_values_through_and_non_positive_weights_are_dropped() -> None:
    user_items = ratings()
    raw = ConfidenceWeighting.fit(user_items, "raw").transform(user_items)
    np.testing.assert_array_equal(raw.toarray(), user_items.toarray())
    heavy = sp.csr_matrix(np.ones((2, 4), dtype=np.float32))  # rated everything: idf < 0
    weighted = ConfidenceWeighting.fit(heavy, "tfidf").transform(heavy)
    assert weighted.nnz == 0


@pytest.mark.parametrize("scheme", ["bm25", "tfidf"])
def test_negative_values_are_refused_not_turned_into_nan(scheme: str) -> None:
    signed = sp.csr_matrix(np.array([[1.0, -2.0], [3.0, 0.0]], dtype=np.float32))
    with pytest.raises(ValueError, match="non-negative"):
        ConfidenceWeighting.fit(signed, scheme, 100.0, 0.8).transform(signed)
