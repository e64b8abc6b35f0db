"""Train/test splits of an interactions table into users x items matrices.

Input is a DataFrame with columns ``user_id``, ``item_id``, ``value`` (the
confidence source, e.g. a rating) and, for the chronological splits
(``"time"``, ``"last-n"``), ``timestamp`` (anything orderable). Both parts
share id maps built from the whole table, so row ``r`` is the same user in
train and test. Pairs repeated within one part are summed, as scipy does when building a CSR matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import pandas as pd
import scipy.sparse as sp

from pigen.data.idmap import IdMap

SplitKind = Literal["time", "random", "last-n"]
SPLIT_KINDS: tuple[str, ...] = get_args(SplitKind)
COLUMNS = ("user_id", "item_id", "value")


@dataclass(frozen=True)
class Split:
    """Train and test parts of one interactions table, as matrices and as tables."""

    users: IdMap
    items: IdMap
    train: sp.csr_matrix  # (users, items) float32
    test: sp.csr_matrix  # (users, items) float32
    # The rows behind each matrix: the tuner carves validation out of these,
    # so it never sees the test rows.
    train_interactions: pd.DataFrame
    test_interactions: pd.DataFrame


def make_split(
    interactions: pd.DataFrame,
    kind: SplitKind,
    test_fraction: float = 0.2,
    seed: int = 0,
    users: IdMap | None = None,
    items: IdMap | None = None,
    last_n: int = 5,
    min_ratings: int = 0,
) -> Split:
    """Split ``interactions`` chronologically per user (``"time"``, ``"last-n"``) or at random.

    ``"time"``: for each user, the last ``floor(test_fraction * n)`` of their
    ``n`` interactions by timestamp go to test (ties keep table order); a user
    with fewer than ``1 / test_fraction`` interactions stays wholly in train.
    ``"last-n"``: each user's last ``last_n`` interactions by timestamp go to
    test; users with fewer than ``max(min_ratings, last_n + 1)`` stay wholly
    in train (they still shape the model but are not scored).
    ``"random"``: ``round(test_fraction * len)`` interactions drawn uniformly
    without replacement with ``seed`` go to test.

    ``users`` / ``items`` default to the table's distinct ids in sorted order;
    pass a model's or an outer split's maps to keep rows aligned with them.
    """
    _check_columns(interactions, kind)
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    users = users if users is not None else _sorted_ids(interactions["user_id"])
    items = items if items is not None else _sorted_ids(interactions["item_id"])
    user_rows = _rows(interactions["user_id"], users, "user_id")
    item_rows = _rows(interactions["item_id"], items, "item_id")
    if kind == "time":
        in_test = _last_per_user(user_rows, interactions["timestamp"].to_numpy(), test_fraction)
    elif kind == "last-n":
        if last_n < 1 or min_ratings < 0:
            raise ValueError(f"last_n must be >= 1 and min_ratings >= 0, got {last_n}, "
                             f"{min_ratings}")
        in_test = _last_n_per_user(user_rows, interactions["timestamp"].to_numpy(), last_n,
                                   max(min_ratings, last_n + 1))
    elif kind == "random":
        in_test = _random_share(len(interactions), test_fraction, seed)
    else:
        raise ValueError(f"split kind must be one of {SPLIT_KINDS}, got {kind!r}")
    return _split_by_mask(interactions, in_test, users, items, user_rows, item_rows)


def split_by_test_rows(interactions: pd.DataFrame, test_pairs: pd.DataFrame) -> Split:
    """Train and test from a user-supplied test set: (user_id, item_id) pairs held out.

    Every pair of ``test_pairs`` must occur in ``interactions`` (else the file
    names items or users the data does not know: a KeyError saying which).
    """
    _check_columns(interactions, None)
    missing = [c for c in ("user_id", "item_id") if c not in test_pairs.columns]
    if missing:
        raise ValueError(f"the test set lacks columns {missing}; need user_id, item_id")
    users = _sorted_ids(interactions["user_id"])
    items = _sorted_ids(interactions["item_id"])
    user_rows = _rows(interactions["user_id"], users, "user_id")
    item_rows = _rows(interactions["item_id"], items, "item_id")
    keys = user_rows * len(items) + item_rows
    wanted = (_rows(test_pairs["user_id"], users, "test user_id") * len(items)
              + _rows(test_pairs["item_id"], items, "test item_id"))
    in_test = np.isin(keys, wanted)
    unmatched = np.setdiff1d(wanted, keys)
    if len(unmatched):
        user, item = divmod(int(unmatched[0]), len(items))
        raise KeyError(f"test pair ({users.id_of(user)!r}, {items.id_of(item)!r}) is not "
                       f"among the interactions ({len(unmatched)} such pairs)")
    return _split_by_mask(interactions, in_test, users, items, user_rows, item_rows)


def _split_by_mask(interactions: pd.DataFrame, in_test: np.ndarray, users: IdMap, items: IdMap,
                   user_rows: np.ndarray, item_rows: np.ndarray) -> Split:
    values = interactions["value"].to_numpy(dtype=np.float32)
    shape = (len(users), len(items))

    def matrix(mask: np.ndarray) -> sp.csr_matrix:
        return sp.csr_matrix((values[mask], (user_rows[mask], item_rows[mask])), shape=shape)

    return Split(
        users=users,
        items=items,
        train=matrix(~in_test),
        test=matrix(in_test),
        train_interactions=interactions[~in_test],
        test_interactions=interactions[in_test],
    )


def to_user_items(interactions: pd.DataFrame, users: IdMap, items: IdMap) -> sp.csr_matrix:
    """All of ``interactions`` as one (users, items) float32 CSR matrix laid out by the maps."""
    _check_columns(interactions, None)
    return sp.csr_matrix(
        (
            interactions["value"].to_numpy(dtype=np.float32),
            (
                _rows(interactions["user_id"], users, "user_id"),
                _rows(interactions["item_id"], items, "item_id"),
            ),
        ),
        shape=(len(users), len(items)),
    )


def _check_columns(interactions: pd.DataFrame, kind: SplitKind | None) -> None:
    needed = COLUMNS + (("timestamp",) if kind in ("time", "last-n") else ())
    missing = [c for c in needed if c not in interactions.columns]
    if missing:
        raise ValueError(f"interactions lack columns {missing}; need {list(needed)}")


def _sorted_ids(column: pd.Series) -> IdMap:
    # Sorted on the column's own type (numeric ids in numeric order), then
    # stored as strings; the order is what a plain scipy/implicit run gets
    # from np.unique, so both lay out the same matrix.
    return IdMap.from_ids(np.sort(column.unique()))


def _rows(column: pd.Series, ids: IdMap, name: str) -> np.ndarray:
    rows = pd.Index(ids.ids).get_indexer(column.astype(str))
    if (rows < 0).any():
        unknown = column[rows < 0].iloc[0]
        raise KeyError(f"{name} {unknown!r} is not in the given id map")
    return rows.astype(np.int64)


def _last_per_user(user_rows: np.ndarray, timestamps: np.ndarray, fraction: float) -> np.ndarray:
    """Mask of each user's last ``floor(fraction * n)`` interactions by time."""
    count = len(user_rows)
    # Order by user, then time, then table position (stable tie-break).
    order = np.lexsort((np.arange(count), timestamps, user_rows))
    per_user = np.bincount(user_rows)
    first = np.concatenate(([0], np.cumsum(per_user)[:-1]))
    sorted_users = user_rows[order]
    position = np.arange(count) - first[sorted_users]  # 0 = the user's oldest
    # The epsilon keeps e.g. 0.57 * 100 = 56.999... from flooring to 56.
    n_test = np.floor(fraction * per_user + 1e-9).astype(np.int64)
    in_test = np.empty(count, dtype=bool)
    in_test[order] = position >= per_user[sorted_users] - n_test[sorted_users]
    return in_test


def _last_n_per_user(user_rows: np.ndarray, timestamps: np.ndarray, n: int,
                     min_count: int) -> np.ndarray:
    """Mask of each user's last ``n`` interactions by time, for users with >= ``min_count``."""
    count = len(user_rows)
    order = np.lexsort((np.arange(count), timestamps, user_rows))
    per_user = np.bincount(user_rows)
    first = np.concatenate(([0], np.cumsum(per_user)[:-1]))
    sorted_users = user_rows[order]
    from_end = per_user[sorted_users] - (np.arange(count) - first[sorted_users])  # 1 = newest
    in_test = np.empty(count, dtype=bool)
    in_test[order] = (from_end <= n) & (per_user[sorted_users] >= min_count)
    return in_test


def _random_share(count: int, fraction: float, seed: int) -> np.ndarray:
    in_test = np.zeros(count, dtype=bool)
    chosen = np.random.default_rng(seed).permutation(count)[: round(fraction * count)]
    in_test[chosen] = True
    return in_test
