"""Chronological and random splits with shared id maps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pigen.recsys.split_plan import SplitPlan
from pigen.recsys.splits import make_split, split_by_test_rows, to_user_items


def test_time_split_puts_each_users_latest_fifth_in_test() -> None:
    rng = np.random.default_rng(0)
    times = rng.permutation(10)
    frame = pd.DataFrame({
        "user_id": ["a"] * 10 + ["b"] * 3,
        "item_id": [f"i{t}" for t in times] + ["i0", "i1", "i2"],
        "value": 1.0,
        "timestamp": list(times) + [5, 6, 7],
    })
    split = make_split(frame, "time")
    a = split.users.row_of("a")
    test_items = {split.items.id_of(i) for i in split.test[a].indices}
    assert test_items == {"i8", "i9"}  # floor(0.2 * 10) = 2 latest
    assert split.test[split.users.row_of("b")].nnz == 0  # 3 < 5: all in train
    assert split.train.nnz + split.test.nnz == len(frame)
    assert split.train.shape == split.test.shape == (2, 10)


def test_time_split_breaks_timestamp_ties_by_table_order() -> None:
    frame = pd.DataFrame({"user_id": "a", "item_id": [f"i{i}" for i in range(5)],
                          "value": 1.0, "timestamp": 7})
    split = make_split(frame, "time")
    assert [split.items.id_of(i) for i in split.test[0].indices] == ["i4"]


def test_random_split_is_seeded_and_sized(interactions: pd.DataFrame) -> None:
    a = make_split(interactions, "random", seed=3)
    b = make_split(interactions, "random", seed=3)
    c = make_split(interactions, "random", seed=4)
    assert a.test.nnz == round(0.2 * len(interactions))
    assert (a.test != b.test).nnz == 0
    assert (a.test != c.test).nnz > 0
    assert a.train_interactions.index.intersection(a.test_interactions.index).empty


def test_ids_are_shared_and_sorted_and_values_kept(interactions: pd.DataFrame) -> None:
    split = make_split(interactions, "time")
    assert list(split.users.ids) == sorted(interactions["user_id"].unique())
    whole = to_user_items(interactions, split.users, split.items)
    assert (whole != split.train + split.test).nnz == 0
    assert whole.sum() == pytest.approx(interactions["value"].sum())


def test_numeric_ids_sort_numerically() -> None:
    frame = pd.DataFrame({"user_id": [10, 9, 100], "item_id": [2, 1, 1], "value": 1.0})
    assert make_split(frame, "random").users.ids == ("9", "10", "100")


def test_missing_columns_and_unknown_ids_are_errors(interactions: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="timestamp"):
        make_split(interactions.drop(columns="timestamp"), "time")
    split = make_split(interactions, "random")
    stranger = pd.DataFrame({"user_id": ["nobody"], "item_id": ["i0"], "value": [1.0]})
    with pytest.raises(KeyError, match="nobody"):
        to_user_items(stranger, split.users, split.items)


def test_last_n_holds_out_each_users_newest_n_above_the_floor() -> None:
    frame = pd.DataFrame({
        "user_id": ["a"] * 6 + ["b"] * 3,
        "item_id": [f"i{i}" for i in range(6)] + ["i0", "i1", "i2"],
        "value": [1.0] * 9,
        "timestamp": [6, 5, 4, 3, 2, 1, 1, 2, 3],
    })
    split = make_split(frame, "last-n", last_n=2)
    assert sorted(split.test_interactions["item_id"]) == ["i0", "i1", "i1", "i2"]
    floored = make_split(frame, "last-n", last_n=2, min_ratings=4)
    assert sorted(floored.test_interactions["item_id"]) == ["i0", "i1"]  # b stays in train
    assert make_split(frame, "last-n", last_n=3).test_interactions["user_id"].tolist() == [
        "a", "a", "a"]  # b has only 3: nothing would be left to train on
    with pytest.raises(ValueError, match="last_n must be >= 1"):
        make_split(frame, "last-n", last_n=0)


def test_split_plan_parses_the_cli_spelling() -> None:
    assert SplitPlan.parse("last-n:5", min_ratings=10).last_n == 5
    assert SplitPlan.parse("last-n:5").label == "last-n:5"
    assert SplitPlan.parse("time").kind == "time"
    for bad in ("last-n", "last-n:0", "last-n:x", "time:3", "chrono"):
        with pytest.raises(ValueError, match="split"):
            SplitPlan.parse(bad)


def test_a_test_file_holds_out_exactly_its_pairs(interactions: pd.DataFrame) -> None:
    pairs = interactions.iloc[[0, 5, 17]][["user_id", "item_id"]]
    split = split_by_test_rows(interactions, pairs)
    assert split.test.nnz == 3 and split.train.nnz == len(interactions) - 3
    unknown = pd.DataFrame({"user_id": ["u0"], "item_id": ["nope"]})
    with pytest.raises(KeyError, match="test item_id 'nope'"):
        split_by_test_rows(interactions, unknown)
    unrated = pd.DataFrame({"user_id": ["u0"], "item_id": [
        next(i for i in interactions["item_id"].unique()
             if i not in set(interactions[interactions.user_id == "u0"].item_id))]})
    with pytest.raises(KeyError, match="is not among the interactions"):
        split_by_test_rows(interactions, unrated)
