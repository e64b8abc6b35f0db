"""The CLI-facing evaluation: a dict per model and a table."""

from __future__ import annotations

import pandas as pd

from pigen.recsys.config import ALSConfig
from pigen.recsys.evaluation import evaluate_interactions, format_metrics_table


def test_evaluate_interactions_returns_metrics_per_model(interactions: pd.DataFrame) -> None:
    results = evaluate_interactions(interactions, "time", k=5,
                                    als_config=ALSConfig(factors=8, regularization=1.0))
    assert set(results) == {"als", "popularity"}
    for metrics in results.values():
        assert set(metrics) == {"ndcg@5", "precision@5", "recall@5", "map@5", "coverage@5"}
        assert all(0.0 <= value <= 1.0 for value in metrics.values())
    # Three clear taste clusters: ALS must beat the non-personalised baseline.
    assert results["als"]["ndcg@5"] > results["popularity"]["ndcg@5"]


def test_table_lists_models_and_metrics() -> None:
    table = format_metrics_table({"als": {"ndcg@10": 0.13254, "map@10": 0.05},
                                  "popularity": {"ndcg@10": 0.086}})
    lines = table.splitlines()
    assert lines[0].split() == ["model", "ndcg@10", "map@10"]
    assert lines[2].split() == ["als", "0.1325", "0.0500"]
    assert lines[3].split() == ["popularity", "0.0860", "-"]


def test_relevant_from_keeps_only_liked_test_items() -> None:
    import numpy as np
    import pandas as pd

    from pigen.recsys.evaluation import evaluate_interactions

    rng = np.random.default_rng(0)
    rows = [(f"u{u}", f"i{i}", float(rng.integers(1, 6)), t)
            for u in range(30) for t, i in enumerate(rng.choice(40, 10, replace=False))]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "value", "timestamp"])
    everything = evaluate_interactions(frame, "time", k=5)
    liked = evaluate_interactions(frame, "time", k=5, relevant_from=4.0)
    assert set(liked) == {"als", "popularity"}
    # Fewer hits are possible when only 4-5 star test items count.
    assert liked["popularity"]["precision@5"] <= everything["popularity"]["precision@5"]
