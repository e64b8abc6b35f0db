"""The tuner: deterministic sampling, validation carved from train only."""

from __future__ import annotations

import pandas as pd
import pytest

from pigen.data.typed_config import ConfigError
from pigen.recsys.config import ALSConfig
from pigen.recsys.split_plan import SplitPlan
from pigen.recsys.splits import make_split
from pigen.recsys.tuning import SearchSpace, tune_als, validation_split

SMALL = SearchSpace(factors=(4, 8), regularization=(0.1, 1.0), alpha=(1.0,), weighting=("raw",),
                    value_mapping=("raw",))


def test_grid_is_every_combination_without_duplicates() -> None:
    space = SearchSpace(factors=(4, 8), regularization=(1.0,), alpha=(1.0, 2.0),
                        weighting=("raw", "bm25"), bm25_k1=(1.2, 100.0),
                        value_mapping=("raw",))
    grid = space.grid(ALSConfig())
    # raw ignores the two K1 values: 2 * 2 * (1 raw + 2 bm25) = 12.
    assert len(grid) == len(set(grid)) == 12
    assert all(c.bm25_k1 == 100.0 for c in grid if c.weighting == "raw")


def test_random_sampling_is_deterministic_per_seed() -> None:
    space = SearchSpace()
    base = ALSConfig()
    assert space.sample(base, 10, seed=7) == space.sample(base, 10, seed=7)
    assert space.sample(base, 10, seed=7) != space.sample(base, 10, seed=8)
    assert len(set(space.sample(base, 10, seed=7))) == 10


def test_space_from_dict_rejects_unknown_keys() -> None:
    assert SearchSpace.from_dict({"factors": [8, 16]}).factors == (8, 16)
    with pytest.raises(ConfigError, match="learning_rate: unknown key"):
        SearchSpace.from_dict({"learning_rate": [0.1]})


def test_space_rejects_invalid_values() -> None:
    with pytest.raises(ConfigError, match="regularization: Input should be greater than"):
        SearchSpace(regularization=(-1.0,))
    with pytest.raises(ConfigError, match="factors: Tuple should have at least 1 item"):
        SearchSpace(factors=())
    with pytest.raises(ConfigError, match="weighting"):
        SearchSpace(weighting=("log",))


def test_validation_is_carved_from_train_only(interactions: pd.DataFrame) -> None:
    split = make_split(interactions, "time")
    inner = validation_split(split, "time")
    assert inner.users == split.users and inner.items == split.items
    assert inner.train.nnz + inner.test.nnz == split.train.nnz
    assert inner.train_interactions.index.union(inner.test_interactions.index).equals(
        split.train_interactions.index.sort_values())


def test_tune_ranks_trials_and_never_reads_test(interactions: pd.DataFrame) -> None:
    split = make_split(interactions, "random")
    # Poison the test part: a tuner that touched it would change or fail.
    poisoned = type(split)(split.users, split.items, split.train, split.test * 0,
                           split.train_interactions, split.test_interactions.iloc[:0])
    result = tune_als(split, "random", SMALL, progress=False)
    again = tune_als(poisoned, "random", SMALL, progress=False)
    assert result.metric == "ndcg@10" and len(result.trials) == 4
    scores = [t.metrics["ndcg@10"] for t in result.trials]
    assert scores == sorted(scores, reverse=True)
    assert result.best == result.trials[0].config
    assert [t.config for t in again.trials] == [t.config for t in result.trials]
    assert [t.metrics for t in again.trials] == [t.metrics for t in result.trials]
    table = result.table(top=2).splitlines()
    assert len(table) == 4 and "ndcg@10" in table[0]
    assert table[2].split()[:2] == ["1.", f"f={result.best.factors}"]


def test_random_mode_tries_the_requested_number(interactions: pd.DataFrame) -> None:
    split = make_split(interactions, "random")
    result = tune_als(split, "random", SMALL, mode="random", trials=3, seed=1, progress=False)
    assert len(result.trials) == 3


def test_conditional_fields_vary_only_with_their_choice() -> None:
    space = SearchSpace(factors=(4,), regularization=(1.0,), alpha=(1.0,),
                        weighting=("raw", "tfidf"), value_mapping=("raw", "offset", "binary"),
                        value_offset=(2.0, 3.0), binary_threshold=(3.0, 4.0))
    grid = space.grid(ALSConfig())
    # raw: 2 weightings; offset: 2 offsets, raw weighting only; binary: 2 thresholds x 2.
    assert len(grid) == len(set(grid)) == 2 + 2 + 4
    assert {c.value_offset for c in grid if c.value_mapping != "offset"} == {0.0}
    assert {c.binary_threshold for c in grid if c.value_mapping == "binary"} == {3.0, 4.0}
    assert all(c.weighting == "raw" for c in grid if c.value_mapping == "offset")
    with pytest.raises(ConfigError, match="offset' needs weighting 'raw'"):
        SearchSpace(weighting=("tfidf",), value_mapping=("offset",))


def test_default_space_reaches_large_embeddings_and_a_wide_regularization() -> None:
    space = SearchSpace()
    assert max(space.factors) >= 512
    assert max(space.regularization) / min(space.regularization) >= 100
    assert {"raw", "binary"} <= set(space.value_mapping)


def test_relevant_from_scores_only_liked_validation_items(interactions: pd.DataFrame) -> None:
    split = make_split(interactions, "random")
    everything = tune_als(split, "random", SMALL, progress=False)
    liked = tune_als(split, "random", SMALL, progress=False, relevant_from=4.0)
    # Fewer validation users have a liked item than any item.
    assert liked.trials[0].metrics != everything.trials[0].metrics
    assert {t.config for t in liked.trials} == {t.config for t in everything.trials}


def test_last_n_plan_is_repeated_for_validation(interactions: pd.DataFrame) -> None:
    plan = SplitPlan.parse("last-n:2")
    split = plan.apply(interactions)
    inner = validation_split(split, plan)
    per_user = inner.test_interactions.groupby("user_id").size()
    assert set(per_user) == {2}
    result = tune_als(split, plan, SMALL, progress=False, k=5)
    assert result.metric == "ndcg@5"


def test_candidates_a_mapping_empties_are_skipped(interactions: pd.DataFrame) -> None:
    split = make_split(interactions, "random")
    space = SMALL.replace(value_mapping=("raw", "binary"), binary_threshold=(9.0,))
    result = tune_als(split, "random", space, progress=False)
    assert len(result.trials) == 4 and all(t.config.value_mapping == "raw"
                                           for t in result.trials)
    with pytest.raises(ValueError, match="dropped all interactions"):
        tune_als(split, "random", space.replace(value_mapping=("binary",)), progress=False)


def test_folds_rank_by_the_mean_over_earlier_validation_carvings(
        interactions: pd.DataFrame) -> None:
    plan = SplitPlan.parse("last-n:2")
    split = plan.apply(interactions)
    one = tune_als(split, plan, SMALL, progress=False)
    two = tune_als(split, plan, SMALL, progress=False, folds=2)
    assert {t.config for t in one.trials} == {t.config for t in two.trials}
    # Fold 2 holds out each user's 2 ratings before fold 1's: its own score enters the mean.
    second = validation_split(validation_split(split, plan), plan)
    assert second.train.nnz == split.train.nnz - 4 * split.test_interactions.user_id.nunique()
    by_config = {t.config: t.metrics["ndcg@10"] for t in one.trials}
    assert any(abs(t.metrics["ndcg@10"] - by_config[t.config]) > 1e-9 for t in two.trials)
    # Each trial keeps its folds' own scores: fold 1's are the one-fold tuner's, and
    # what fold 1 alone would pick is the one-fold tuner's pick, from the same fits.
    for trial in two.trials:
        assert len(trial.fold_metrics) == 2
        assert trial.fold_metrics[0]["ndcg@10"] == pytest.approx(by_config[trial.config])
        assert trial.metrics["ndcg@10"] == pytest.approx(
            (trial.fold_metrics[0]["ndcg@10"] + trial.fold_metrics[1]["ndcg@10"]) / 2)
    assert two.best_on_fold(0).fold_metrics[0]["ndcg@10"] == pytest.approx(
        one.trials[0].metrics["ndcg@10"])
    with pytest.raises(IndexError, match="no fold 2"):
        two.best_on_fold(2)
    with pytest.raises(ValueError, match="folds must be >= 1"):
        tune_als(split, plan, SMALL, progress=False, folds=0)
