"""The users x items CSR builder against hand-made examples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine

from pigen.data.ingest import ingest_ratings
from pigen.data.ingest.ratings import RatingsOptions
from pigen.data.ratings_matrix import read_interactions, read_user_items, user_items_matrix
from tests.utils.store import with_catalog, write_csv


def test_matrix_from_database_matches_hand_made(engine: Engine, tmp_path: Path) -> None:
    with_catalog(engine, n_items=4)
    ingest_ratings(engine, write_csv(tmp_path / "r.csv", """user_id,item_id,rating,timestamp
bob,i2,4,10
ann,i0,5,10
bob,i0,1,10
bob,i0,3,20
ann,i3,2,10
"""))
    ingest_ratings(engine, write_csv(tmp_path / "v.csv", "user_id,item_id,rating\ncid,i1,1\n"),
                   RatingsOptions(default_kind="view"))
    ratings = read_user_items(engine)
    assert ratings.users.ids == ("bob", "ann", "cid")  # first stored first
    assert ratings.items.ids == ("i0", "i1", "i2", "i3")  # whole catalog, even unrated i1
    expected = np.array([[3, 0, 4, 0],   # bob re-rated i0: the latest (3) wins
                         [5, 0, 0, 2]], dtype=np.float32)
    dense = ratings.user_items.toarray()
    # cid only has a view: still a row (every stored user is), but an empty one.
    assert ratings.user_items.shape == (3, 4)
    np.testing.assert_array_equal(dense[:2], expected)
    np.testing.assert_array_equal(dense[2], 0)
    views = read_user_items(engine, kinds=["view"])
    assert views.user_items[views.users.row_of("cid"), views.items.row_of("i1")] == 1


def test_aggregations() -> None:
    users, items = np.array([0, 0, 0, 1]), np.array([1, 1, 1, 0])
    values, stamps = np.array([2.0, 5.0, 1.0, 3.0]), np.array([1, 2, 3, 1])
    last = user_items_matrix(users, items, values, stamps, (2, 2), "last").toarray()
    np.testing.assert_array_equal(last, [[0, 1], [3, 0]])
    np.testing.assert_array_equal(
        user_items_matrix(users, items, values, stamps, (2, 2), "max").toarray(), [[0, 5], [3, 0]])
    np.testing.assert_array_equal(
        user_items_matrix(users, items, values, stamps, (2, 2), "sum").toarray(), [[0, 8], [3, 0]])


def test_interaction_arrays_keep_timestamps(engine: Engine, tmp_path: Path) -> None:
    with_catalog(engine, n_items=2)
    ingest_ratings(engine, write_csv(tmp_path / "r.csv",
                                     "user_id,item_id,rating,timestamp\nu,i1,4,77\n"))
    frame = read_interactions(engine).to_frame()
    assert frame.to_dict("records") == [{"user_id": "u", "item_id": "i1", "value": 4.0,
                                         "timestamp": 77}]


def test_unknown_kind_is_refused(sqlite_engine: Engine) -> None:
    with pytest.raises(ValueError, match="unknown interaction kinds"):
        read_user_items(sqlite_engine, kinds=["rating'; DROP TABLE users; --"])
