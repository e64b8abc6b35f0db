"""The tests every Recommender must pass (like implicit's RecommenderBase tests).

A test module subclasses :class:`RecommenderContract`, says how to build an
unfitted model and which item each of two users must get first on the tiny
two-group matrix of ``conftest.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from pigen.recsys.base import NotFittedError, Recommender
from pigen.recsys.model_kinds import load_recommender
from pigen.recsys.storage import ModelFileError

from .conftest import Tiny, row


class RecommenderContract:
    # Known answers on the tiny matrix: user row -> the item row ranked first.
    expected_first: dict[int, int]

    def make_model(self) -> Recommender:
        raise NotImplementedError

    def fitted(self, tiny: Tiny) -> Recommender:
        return self.make_model().fit(tiny.user_items, tiny.users, tiny.items)

    def test_known_answer(self, tiny: Tiny) -> None:
        model = self.fitted(tiny)
        for user, item in self.expected_first.items():
            ids, _ = model.recommend(user, tiny.user_items[user], n=1)
            assert ids.tolist() == [item], f"user {user}"

    def test_batch_is_one_call_matching_single_calls(self, tiny: Tiny) -> None:
        model = self.fitted(tiny)
        users = np.arange(7)
        ids, scores = model.recommend(users, tiny.user_items[users], n=3)
        assert ids.shape == scores.shape == (7, 3)
        for user in users:
            one_ids, one_scores = model.recommend(int(user), tiny.user_items[user], n=3)
            assert one_ids.shape == (3,)
            np.testing.assert_array_equal(one_ids, ids[user])
            np.testing.assert_allclose(one_scores, scores[user], rtol=1e-6)

    def test_scores_descend_and_liked_items_are_filtered(self, tiny: Tiny) -> None:
        model = self.fitted(tiny)
        users = np.arange(7)
        ids, scores = model.recommend(users, tiny.user_items[users], n=4)
        assert (np.diff(scores, axis=1) <= 1e-6).all()
        for user in users:
            assert not set(ids[user].tolist()) & set(tiny.user_items[user].indices.tolist())

    def test_unfiltered_may_return_liked_items_and_all_items(self, tiny: Tiny) -> None:
        ids, _ = self.fitted(tiny).recommend(0, tiny.user_items[0], n=6,
                                             filter_already_liked=False)
        assert sorted(ids.tolist()) == list(range(6))

    def test_pads_when_too_few_items_are_eligible(self, tiny: Tiny) -> None:
        ids, scores = self.fitted(tiny).recommend(0, tiny.user_items[0], n=10)
        assert ids.shape == (10,)
        assert (ids[:4] >= 0).all() and (ids[4:] == -1).all()
        assert np.isneginf(scores[4:]).all() and np.isfinite(scores[:4]).all()

    def test_similar_items_never_returns_the_item_itself(self, tiny: Tiny) -> None:
        model = self.fitted(tiny)
        ids, scores = model.similar_items([0, 3], n=3)
        assert ids.shape == scores.shape == (2, 3)
        assert 0 not in ids[0] and 3 not in ids[1]
        single, _ = model.similar_items(0, n=3)
        np.testing.assert_array_equal(single, ids[0])

    def test_recommend_from_items_handles_new_and_empty_rows(self, tiny: Tiny) -> None:
        model = self.fitted(tiny)
        fresh = sp.vstack([row({3: 1.0, 4: 1.0}), sp.csr_matrix((1, 6))]).tocsr()
        ids, _ = model.recommend_from_items(fresh, n=2)
        assert ids.shape == (2, 2) and (ids >= 0).all()
        assert not {3, 4} & set(ids[0].tolist())

    def test_to_recommendations_speaks_external_ids(self, tiny: Tiny) -> None:
        model = self.fitted(tiny)
        recommendations = model.to_recommendations(*model.recommend(0, tiny.user_items[0], n=10))
        assert len(recommendations) == 4
        assert all(r.item_id == f"item{r.item_row}" for r in recommendations)

    def test_rejects_transposed_and_non_csr_input(self, tiny: Tiny) -> None:
        with pytest.raises(ValueError, match="transposed"):
            self.make_model().fit(tiny.user_items.T.tocsr(), tiny.users, tiny.items)
        with pytest.raises(TypeError, match="CSR"):
            self.make_model().fit(tiny.user_items.tocoo(), tiny.users, tiny.items)
        model = self.fitted(tiny)
        with pytest.raises(ValueError, match="shape"):
            model.recommend([0, 1], tiny.user_items[[0]], n=2)
        with pytest.raises(IndexError):
            model.recommend(7, tiny.user_items[[0]], n=2)

    def test_unfitted_model_says_so(self, tiny: Tiny) -> None:
        with pytest.raises(NotFittedError):
            self.make_model().recommend(0, tiny.user_items[0])

    def test_save_load_round_trip_is_identical(self, tiny: Tiny, tmp_path: Path) -> None:
        model = self.fitted(tiny)
        path = tmp_path / "model.npz"
        model.save(path)
        for loaded in (type(model).load(path), load_recommender(path)):
            assert type(loaded) is type(model)
            assert loaded.users == model.users and loaded.items == model.items
            assert loaded.config_dict() == model.config_dict()
            users = np.arange(7)
            for a, b in zip(model.recommend(users, tiny.user_items, n=6),
                            loaded.recommend(users, tiny.user_items, n=6), strict=True):
                np.testing.assert_array_equal(a, b)

    def test_load_rejects_an_extra_key(self, tiny: Tiny, tmp_path: Path) -> None:
        path = tmp_path / "model.npz"
        self.fitted(tiny).save(path)
        arrays = dict(np.load(path))
        np.savez(path, **arrays, recommend=np.zeros(1))
        with pytest.raises(ModelFileError, match="unexpected keys \\['recommend'\\]"):
            type(self.make_model()).load(path)

    def test_load_rejects_a_wrong_shape(self, tiny: Tiny, tmp_path: Path) -> None:
        path = tmp_path / "model.npz"
        self.fitted(tiny).save(path)
        arrays = dict(np.load(path))
        arrays["item_counts"] = arrays["item_counts"][:-1]
        np.savez(path, **arrays)
        with pytest.raises(ModelFileError, match="item_counts has shape"):
            type(self.make_model()).load(path)

    def test_load_rejects_another_kind_and_pickles(self, tiny: Tiny, tmp_path: Path) -> None:
        path = tmp_path / "model.npz"
        self.fitted(tiny).save(path)
        arrays = dict(np.load(path))
        np.savez(path, **{**arrays, "kind": np.asarray("something-else")})
        with pytest.raises(ModelFileError, match="something-else"):
            type(self.make_model()).load(path)
        np.savez(path, **{**arrays, "user_ids": np.array([object()] * 7, dtype=object)})
        with pytest.raises(ModelFileError):
            type(self.make_model()).load(path)
