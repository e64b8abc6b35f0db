"""PopularityRecommender: the shared contract and its counting rule."""

from __future__ import annotations

import numpy as np

from pigen.recsys.popularity import PopularityRecommender

from .conftest import Tiny, row
from .contract import RecommenderContract


class TestPopularityContract(RecommenderContract):
    # Counts are 3, 3, 2, 2, 2, 2: user 0 (rated 0, 1) gets item 2, the first of
    # the 2-count ties; user 4 (rated 3, 4) gets item 0, the most popular.
    expected_first = {0: 2, 4: 0, 1: 0}

    def make_model(self) -> PopularityRecommender:
        return PopularityRecommender()


def test_counts_interactions_not_values(tiny: Tiny) -> None:
    user_items = tiny.user_items.copy()
    user_items.data[:] = 1.0
    user_items[4, 3] = 100.0  # one huge value does not outweigh three users
    model = PopularityRecommender().fit(user_items, tiny.users, tiny.items)
    np.testing.assert_array_equal(model.item_counts, [3, 3, 2, 2, 2, 2])
    ids, scores = model.recommend_from_items(row({}), n=6)
    assert ids[0].tolist() == [0, 1, 2, 3, 4, 5]
    assert scores[0].tolist() == [3, 3, 2, 2, 2, 2]
