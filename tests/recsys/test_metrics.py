"""Metrics at K: hand-checked, and equal to implicit's ranking_metrics_at_k."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from implicit.evaluation import ranking_metrics_at_k

from pigen.recsys.als import ALSRecommender
from pigen.recsys.config import ALSConfig
from pigen.recsys.evaluation import evaluate
from pigen.recsys.metrics import ranking_metrics
from pigen.recsys.splits import make_split


def test_hand_computed_example() -> None:
    # User 0 holds out {1, 4}; user 1 {2}; user 2 nothing (skipped).
    test = sp.csr_matrix(([1, 1, 1], ([0, 0, 1], [1, 4, 2])), shape=(3, 6), dtype=np.float32)
    recommended = np.array([[1, 0, 4], [5, 3, -1], [0, 1, 2]])
    m = ranking_metrics(recommended, test, n_items=6)
    assert m.users == 2
    assert m.precision == pytest.approx(2 / (2 + 1))
    assert m.recall == pytest.approx((2 / 2 + 0) / 2)
    dcg = 1 + 1 / math.log2(4)
    assert m.ndcg == pytest.approx((dcg / (1 + 1 / math.log2(3)) + 0) / 2)
    assert m.map == pytest.approx(((1 + 2 / 3) / 2 + 0) / 2)
    assert m.coverage == pytest.approx(5 / 6)  # items 0, 1, 3, 4, 5 (user 2 not evaluated)
    assert set(m.as_dict()) == {"ndcg@3", "precision@3", "recall@3", "map@3", "coverage@3"}


@pytest.mark.parametrize("kind", ["time", "random"])
def test_equal_to_implicits_ranking_metrics(interactions: pd.DataFrame, kind: str) -> None:
    split = make_split(interactions, kind)  # type: ignore[arg-type]
    model = ALSRecommender(ALSConfig(factors=8, regularization=1.0))
    model.fit(split.train, split.users, split.items)
    ours = evaluate(model, split.train, split.test, k=10)
    theirs = ranking_metrics_at_k(model._model, split.train, split.test, K=10,
                                  show_progress=False)
    assert ours.users == int((np.diff(split.test.indptr) > 0).sum())
    assert ours.precision == pytest.approx(theirs["precision"], abs=1e-12)
    assert ours.map == pytest.approx(theirs["map"], abs=1e-12)
    assert ours.ndcg == pytest.approx(theirs["ndcg"], abs=1e-12)
    assert ours.precision > 0  # the check is not vacuous
