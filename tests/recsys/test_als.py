"""ALSRecommender: the shared contract plus fold-in, cold start, explanations and files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pigen.recsys.als import ALSRecommender
from pigen.recsys.base import NotFittedError
from pigen.recsys.config import ALSConfig, gpu_available
from pigen.recsys.storage import ModelFileError

from .conftest import GROUP_A_ITEMS, GROUP_B_ITEMS, Tiny, row
from .contract import RecommenderContract

# One factor pair per group would do; reg 1 keeps 4 factors from memorising
# each user's exact pair (checked stable over seeds 0-4 and 2-8 factors).
CONFIG = ALSConfig(factors=4, regularization=1.0, alpha=5.0, random_seed=0)


class TestALSContract(RecommenderContract):
    # User 0 (items 0, 1) must get its group's last item 2; user 4 (3, 4) gets 5.
    expected_first = {0: 2, 4: 5, 6: 4}

    def make_model(self) -> ALSRecommender:
        return ALSRecommender(CONFIG)


def fitted(tiny: Tiny, config: ALSConfig = CONFIG) -> ALSRecommender:
    return ALSRecommender(config).fit(tiny.user_items, tiny.users, tiny.items)


@pytest.mark.parametrize("use", [
    lambda m, t: m.weighted(t.user_items[0]),
    lambda m, t: m.fold_in(t.user_items[0]),
    lambda m, t: m.item_counts,
    lambda m, t: m.cold_prior(),
    lambda m, t: m.explain(t.user_items[0], 1),
    lambda m, t: m.save(Path("never-written.npz")),
], ids=["weighted", "fold_in", "item_counts", "cold_prior", "explain", "save"])
def test_unfitted_model_raises_a_named_error(tiny: Tiny, use) -> None:  # type: ignore[no-untyped-def]
    # A named error, not an assert: it survives ``python -O`` and callers can catch it.
    with pytest.raises(NotFittedError, match="ALSRecommender is not fitted"):
        use(ALSRecommender(CONFIG), tiny)


def test_factors_are_users_by_factors_and_items_by_factors(tiny: Tiny) -> None:
    model = fitted(tiny)
    assert model.user_factors.shape == (7, 4) and model.item_factors.shape == (6, 4)
    assert model.user_factors.dtype == np.float32


def test_same_seed_same_factors_other_seed_other_factors(tiny: Tiny) -> None:
    a, b = fitted(tiny), fitted(tiny)
    np.testing.assert_array_equal(a.item_factors, b.item_factors)
    c = fitted(tiny, CONFIG.replace(random_seed=1))
    assert not np.array_equal(a.item_factors, c.item_factors)


def test_fold_in_of_a_known_users_row_reproduces_their_ranking(tiny: Tiny) -> None:
    model = fitted(tiny)
    for user in range(7):
        folded, _ = model.recommend_from_items(tiny.user_items[user], n=4)
        fitted_ids, _ = model.recommend(user, tiny.user_items[user], n=4)
        assert folded[0][0] == fitted_ids[0]


def test_fresh_ratings_move_recommendations_toward_what_was_just_rated(tiny: Tiny) -> None:
    model = fitted(tiny)
    before = row({0: 1.0, 1: 1.0})  # user 0 as fitted: group A
    after = row({0: 1.0, 1: 1.0, 3: 5.0, 4: 5.0})  # then rates group B items highly
    (ids_before,), _ = model.recommend_from_items(before, n=1)
    (ids_after,), _ = model.recommend_from_items(after, n=1)
    assert ids_before.tolist() == [2]
    assert ids_after.tolist() == [5]  # the group B item they have not rated
    factor_before, factor_after = model.fold_in(before)[0], model.fold_in(after)[0]
    item5 = model.item_factors[5]
    assert factor_after @ item5 > factor_before @ item5


def test_fold_in_matches_the_least_squares_solution(tiny: Tiny) -> None:
    model = fitted(tiny)
    fresh = row({3: 1.0, 5: 2.0})
    y = model.item_factors.astype(np.float64)
    confidence = CONFIG.alpha * fresh.toarray()[0]
    # x = (Y^T C Y + reg I)^-1 Y^T C p, C = 1 + (c - 1) on rated items, p = rated.
    c = np.where(confidence > 0, confidence, 1.0)
    a = y.T @ (c[:, None] * y) + CONFIG.regularization * np.eye(4)
    b = y.T @ (confidence * (confidence > 0))
    np.testing.assert_allclose(model.fold_in(fresh)[0], np.linalg.solve(a, b), rtol=1e-3,
                               atol=1e-5)


def test_cold_prior_is_the_popularity_weighted_mean_and_favours_popular_items(
    tiny: Tiny,
) -> None:
    model = fitted(tiny)
    counts = np.asarray([3, 3, 2, 2, 2, 2], dtype=np.float64)
    expected = counts @ model.item_factors / counts.sum()
    np.testing.assert_allclose(model.cold_prior(), expected, rtol=1e-5)
    np.testing.assert_allclose(model.fold_in(row({}))[0], model.cold_prior())
    ids, _ = model.recommend_from_items(row({}), n=3)
    assert set(ids[0].tolist()) == GROUP_A_ITEMS  # the bigger group's items


def test_explain_names_the_obviously_related_rated_item(tiny: Tiny) -> None:
    model = fitted(tiny)
    rated = row({0: 1.0, 4: 1.0})  # one item from each group
    for item, cause in [(1, 0), (5, 4)]:
        explanation = model.explain(rated, item)
        assert explanation.item_id == f"item{item}"
        top = explanation.contributions[0]
        assert (top.item_row, top.item_id) == (cause, f"item{cause}")
        assert {c.item_row for c in explanation.contributions} <= {0, 4}
        weights = [c.weight for c in explanation.contributions]
        assert weights == sorted(weights, reverse=True)
        # The contributions add up to the folded-in user's score for the item.
        assert explanation.score == pytest.approx(sum(weights), rel=1e-5)
        folded = model.fold_in(rated)[0] @ model.item_factors[item]
        assert explanation.score == pytest.approx(float(folded), rel=1e-3)


def test_similar_items_stay_within_the_group(tiny: Tiny) -> None:
    ids, _ = fitted(tiny).similar_items([0, 3], n=2)
    assert set(ids[0].tolist()) == GROUP_A_ITEMS - {0}
    assert set(ids[1].tolist()) == GROUP_B_ITEMS - {3}


@pytest.mark.parametrize("weighting", ["bm25", "tfidf"])
def test_weighted_configs_fit_save_and_load(tiny: Tiny, tmp_path: Path, weighting: str) -> None:
    model = fitted(tiny, CONFIG.replace(weighting=weighting))
    model.save(tmp_path / "m.npz")
    loaded = ALSRecommender.load(tmp_path / "m.npz")
    assert loaded.config == model.config
    fresh = row({3: 1.0})
    np.testing.assert_allclose(loaded.fold_in(fresh), model.fold_in(fresh), rtol=1e-6)


@pytest.mark.skipif(not gpu_available(), reason="needs implicit built with CUDA and a GPU")
def test_gpu_fit_gives_the_known_answer_and_serves_on_cpu(tiny: Tiny, tmp_path: Path) -> None:
    model = fitted(tiny, CONFIG.replace(use_gpu=True))
    ids, _ = model.recommend([0, 4], tiny.user_items[[0, 4]], n=1)
    assert ids[:, 0].tolist() == [2, 5]
    model.save(tmp_path / "m.npz")
    assert ALSRecommender.load(tmp_path / "m.npz").user_factors.shape == (7, 4)


def test_saved_file_holds_factors_ids_and_config(tiny: Tiny, tmp_path: Path) -> None:
    model = fitted(tiny)
    path = tmp_path / "m.npz"
    model.save(path)
    with np.load(path, allow_pickle=False) as npz:
        assert set(npz.files) == {
            "format_version", "kind", "config_json", "user_ids", "item_ids",
            "user_factors", "item_factors", "item_length_norm", "item_counts",
        }
        assert npz["user_ids"].dtype.kind == "U"
    loaded = ALSRecommender.load(path)
    assert loaded.config == CONFIG
    np.testing.assert_array_equal(loaded.user_factors, model.user_factors)
    np.testing.assert_array_equal(loaded.item_factors, model.item_factors)


def test_load_rejects_factors_that_disagree_with_the_config(tiny: Tiny, tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    fitted(tiny).save(path)
    arrays = dict(np.load(path))
    arrays["item_factors"] = np.zeros((6, 5), dtype=np.float32)
    np.savez(path, **arrays)
    with pytest.raises(ModelFileError, match=r"item_factors has shape \(6, 5\), expected \(6, 4\)"):
        ALSRecommender.load(path)
    arrays["item_factors"] = np.full((6, 4), np.nan, dtype=np.float32)
    np.savez(path, **arrays)
    with pytest.raises(ModelFileError, match="NaN"):
        ALSRecommender.load(path)


@pytest.mark.parametrize(
    ("config_json", "reason"),
    [('{"factors": 4, "learning_rate": 1}', "learning_rate: unknown key"),
     ('{"factors": 4.5}', "factors: Input should be a valid integer"),
     ("[4, 1.0]", "expected a mapping, got list"),
     ("{factors: 4", "Expecting property name")],
)
def test_load_rejects_a_bad_config(tiny: Tiny, tmp_path: Path, config_json: str,
                                   reason: str) -> None:
    path = tmp_path / "m.npz"
    fitted(tiny).save(path)
    arrays = dict(np.load(path))
    arrays["config_json"] = np.asarray(config_json)
    np.savez(path, **arrays)
    with pytest.raises(ModelFileError, match=f"bad config_json .*{reason}"):
        ALSRecommender.load(path)


def test_value_offset_is_saved_and_applied_to_folded_in_users(tiny: Tiny, tmp_path: Path
                                                              ) -> None:
    config = ALSConfig(factors=2, regularization=0.1, iterations=10, value_mapping="offset",
                       value_offset=0.5)
    model = ALSRecommender(config).fit(tiny.user_items, tiny.users, tiny.items)
    model.save(tmp_path / "m.npz")
    loaded = ALSRecommender.load(tmp_path / "m.npz")
    assert loaded.config.value_offset == 0.5
    fresh = row({0: 1.0, 3: 0.5})  # item 3 (group B) at 0.5 becomes "no signal"
    np.testing.assert_array_equal(loaded.fold_in(fresh), model.fold_in(fresh))
    np.testing.assert_allclose(model.fold_in(fresh),
                               model.fold_in(row({0: 1.0})), rtol=1e-5)


def test_recommend_from_factors_matches_recommend_for_trained_users(tiny: Tiny) -> None:
    model = ALSRecommender(ALSConfig(factors=2, regularization=0.1, iterations=10))
    model.fit(tiny.user_items, tiny.users, tiny.items)
    rows = np.arange(len(tiny.users))
    expected = model.recommend(rows, tiny.user_items, n=3)
    got = model.recommend_from_factors(model.user_factors, tiny.user_items, n=3)
    np.testing.assert_array_equal(got[0], expected[0])
    one = model.recommend_from_factors(model.user_factors[0], tiny.user_items[0], n=10)
    assert one[0].shape == (10,) and (one[0] == -1).any()  # padded past the eligible items


def test_binary_mapping_is_saved_and_drops_values_below_the_threshold(tiny: Tiny,
                                                                      tmp_path: Path) -> None:
    stars = tiny.user_items.copy()
    stars.data[:] = 5.0
    config = ALSConfig(factors=2, regularization=0.1, iterations=10, value_mapping="binary",
                       binary_threshold=4.0)
    model = ALSRecommender(config).fit(stars, tiny.users, tiny.items)
    model.save(tmp_path / "m.npz")
    loaded = ALSRecommender.load(tmp_path / "m.npz")
    assert loaded.config.value_mapping == "binary" and loaded.config.binary_threshold == 4.0
    # 5 and 4 stars are the same like; 2 stars says nothing (dropped).
    np.testing.assert_array_equal(loaded.fold_in(row({0: 5.0, 3: 2.0})),
                                  loaded.fold_in(row({0: 4.0})))
    assert loaded.weighted(row({0: 5.0, 3: 2.0})).toarray().tolist() == [
        [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]]


def test_a_mapping_that_drops_everything_is_a_clear_error(tiny: Tiny) -> None:
    ones = ALSConfig(factors=2, value_mapping="binary", binary_threshold=2.0)
    with pytest.raises(ValueError, match="no interactions left"):
        ALSRecommender(ones).fit(tiny.user_items, tiny.users, tiny.items)


def test_a_model_file_from_before_value_mapping_loads_as_offset(tiny: Tiny,
                                                                tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    config = ALSConfig(factors=2, iterations=3, value_mapping="offset", value_offset=0.5)
    ALSRecommender(config).fit(tiny.user_items, tiny.users, tiny.items).save(path)
    arrays = dict(np.load(path))
    old = config.to_dict()
    del old["value_mapping"], old["binary_threshold"]
    arrays["config_json"] = np.asarray(json.dumps(old))
    np.savez(path, **arrays)
    assert ALSRecommender.load(path).config == config
