"""Evaluate fitted recommenders on held-out data: the numbers of ``pigen recsys evaluate``."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp

from pigen.recsys.als import ALSRecommender
from pigen.recsys.base import Recommender, check_user_items
from pigen.recsys.config import ALSConfig
from pigen.recsys.metrics import RankingMetrics, ranking_metrics
from pigen.recsys.popularity import PopularityRecommender
from pigen.recsys.split_plan import SplitPlan
from pigen.recsys.splits import Split, SplitKind

Results = dict[str, dict[str, float]]  # model name -> {"ndcg@10": ..., ...}


def evaluate(
    model: Recommender, train: sp.csr_matrix, test: sp.csr_matrix, k: int = 10
) -> RankingMetrics:
    """Metrics at ``k`` of ``model`` (fitted on ``train``) against ``test``.

    Every user with a test item gets a top-``k`` list in one batch call, with
    the items they have in ``train`` filtered out.
    """
    n_users, n_items = len(model.users), len(model.items)
    train = check_user_items(train, n_users, n_items)
    test = check_user_items(test, n_users, n_items)
    rows = np.flatnonzero(np.diff(test.indptr) > 0)
    recommended, _ = model.recommend(rows, train[rows], n=k, filter_already_liked=True)
    return ranking_metrics(recommended, test[rows], n_items)


def evaluate_models(
    train: sp.csr_matrix, test: sp.csr_matrix, models: Mapping[str, Recommender], k: int = 10
) -> Results:
    """``{name: {"ndcg@10": ..., "precision@10": ..., ...}}`` for fitted models."""
    return {name: evaluate(model, train, test, k).as_dict() for name, model in models.items()}


def evaluate_interactions(
    interactions: pd.DataFrame,
    split: SplitKind | SplitPlan = "time",
    k: int = 10,
    als_config: ALSConfig | None = None,
    test_fraction: float = 0.2,
    seed: int = 0,
    relevant_from: float | None = None,
) -> Results:
    """Split ``interactions``, fit ALS and popularity on train, evaluate both on test.

    ``interactions`` has columns user_id, item_id, value (and timestamp for the
    chronological splits); see :func:`pigen.recsys.splits.make_split`. A plain
    kind is split with ``test_fraction`` and ``seed``; a :class:`SplitPlan`
    as it says. Returns ``{"als": {...}, "popularity": {...}}``.
    """
    plan = split if isinstance(split, SplitPlan) else SplitPlan(
        split, test_fraction=test_fraction, seed=seed)
    return evaluate_split(plan.apply(interactions), k, als_config, relevant_from)


def evaluate_split(parts: Split, k: int = 10, als_config: ALSConfig | None = None,
                   relevant_from: float | None = None) -> Results:
    """Fit ALS and popularity on ``parts.train``, evaluate both on ``parts.test``.

    With ``relevant_from`` (e.g. 4 stars) only test items rated at least that
    count as hits: "will like" instead of "will rate".
    """
    test = relevant_only(parts.test, relevant_from)
    models: dict[str, Recommender] = {
        "als": ALSRecommender(als_config),
        "popularity": PopularityRecommender(),
    }
    for model in models.values():
        model.fit(parts.train, parts.users, parts.items)
    return evaluate_models(parts.train, test, models, k)


def relevant_only(test: sp.csr_matrix, relevant_from: float | None) -> sp.csr_matrix:
    """``test`` with only values >= ``relevant_from`` kept (all of it when None)."""
    if relevant_from is None:
        return test
    kept = test.multiply(test >= relevant_from).tocsr()
    kept.eliminate_zeros()
    return kept


def format_metrics_table(results: Mapping[str, Mapping[str, float]]) -> str:
    """A plain-text table: one row per model, one column per metric, 4 decimals."""
    columns: list[str] = []
    for metrics in results.values():
        columns += [name for name in metrics if name not in columns]
    header = ["model", *columns]
    rows = [
        [name, *(_cell(metrics.get(column)) for column in columns)]
        for name, metrics in results.items()
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                  for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
        for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
